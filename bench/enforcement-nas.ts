/**
 * Child process of bench/enforcement.ts: the NAS side, in its own process (its own event loop,
 * as real routers are their own machines). Runs N NAS simulators on 127.0.x.y, logs users in
 * through FreeRADIUS, answers the worker's Disconnect-Requests and sends the Accounting Stops.
 *
 * Each simulator's accounting goes through a relay bound to the simulator's own address (so
 * FreeRADIUS still sees the NAS's address). The relay forwards to FreeRADIUS, or, in 'local'
 * mode, answers Accounting-Response itself: the benchmark can then measure enforcement without
 * the box also absorbing the Stops that every Disconnect-ACK triggers.
 *
 * IPC with the parent:
 *   -> {cmd:'start', nas:[{address, secret}], radius:{authPort, acctPort}}   <- {ports}
 *   -> {cmd:'login', users:[{user, password, nas}], concurrency}             <- {accepted, rejected, reasons, refused, ms}
 *   -> {cmd:'accounting', mode:'freeradius'|'local'}                         <- {}
 *   -> {cmd:'stats'}                                                         <- {...}
 *   -> {cmd:'drain'}                                                         <- {}
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodeResponse, getString, PacketCode } from '../src/radius';
import { startNasSimulator, type NasSimulator } from '../src/simulate/nas-simulator';

type Msg =
  | { cmd: 'start'; nas: Array<{ address: string; secret: string }>; radius: { authPort: number; acctPort: number } }
  | { cmd: 'login'; users: Array<{ user: string; password: string; nas: number }>; concurrency: number }
  | { cmd: 'accounting'; mode: 'freeradius' | 'local' }
  | { cmd: 'stats' }
  | { cmd: 'drain' };

let sims: NasSimulator[] = [];
const relays: Socket[] = [];
let accountingMode: 'freeradius' | 'local' = 'freeradius';
let statsBase: Array<{ requests: number; disconnects: number; duplicates: number; acks: number }> = [];

/**
 * A UDP relay bound to the NAS's address: forwards its RADIUS packets to FreeRADIUS on
 * 127.0.0.1:`port` (which sees the NAS's address as the source) and the replies back; with
 * `local` true it answers Accounting-Response itself instead.
 */
async function relay(address: string, secret: string, port: number, local: () => boolean): Promise<number> {
  const sock = createSocket('udp4');
  const back = new Map<number, RemoteInfo>();
  sock.on('message', (msg, rinfo) => {
    if (rinfo.port === port && rinfo.address === '127.0.0.1') {
      const to = back.get(msg[1] ?? -1);
      if (to) sock.send(msg, to.port, to.address);
      return;
    }
    if (local()) {
      try {
        const reply = encodeResponse({ code: PacketCode.AccountingResponse, request: decodePacket(msg), secret });
        sock.send(reply.buffer, rinfo.port, rinfo.address);
      } catch {
        // not a request we can answer: dropped, as FreeRADIUS would
      }
      return;
    }
    back.set(msg[1] ?? -1, rinfo);
    sock.send(msg, port, '127.0.0.1');
  });
  await new Promise<void>((resolve) => sock.bind(0, address, resolve));
  sock.setRecvBufferSize(4 * 1024 * 1024);
  relays.push(sock);
  return sock.address().port;
}

function counts(s: NasSimulator): { requests: number; disconnects: number; duplicates: number; acks: number } {
  const d = s.received.filter((r) => r.codeName === 'Disconnect-Request');
  return {
    requests: s.received.length,
    disconnects: d.length,
    duplicates: d.filter((r) => r.duplicate).length,
    acks: d.filter((r) => !r.duplicate && r.answer?.codeName === 'Disconnect-ACK').length,
  };
}

async function handle(m: Msg): Promise<unknown> {
  if (m.cmd === 'start') {
    sims = await Promise.all(
      m.nas.map(async (n) =>
        startNasSimulator({
          radius: {
            host: n.address,
            authPort: await relay(n.address, n.secret, m.radius.authPort, () => false),
            acctPort: await relay(n.address, n.secret, m.radius.acctPort, () => accountingMode === 'local'),
            secret: n.secret,
            retransmit: [2000, 2000, 2000],
          },
          coa: { host: n.address },
          bindAddress: n.address,
          receivedLimit: 1_000_000,
        }),
      ),
    );
    return { ports: sims.map((s) => s.coaPort) };
  }
  if (m.cmd === 'login') {
    const t0 = performance.now();
    let next = 0;
    let accepted = 0;
    let rejected = 0;
    const reasons: Record<string, number> = {};
    const refused: typeof m.users = [];
    const lane = async (): Promise<void> => {
      for (let i = next++; i < m.users.length; i = next++) {
        const u = m.users[i]!;
        let why: string | undefined;
        try {
          const r = await sims[u.nas]!.login(u.user, u.password);
          if (!r.accepted) why = `code ${r.code} ${getString(r.reply, 'Reply-Message') ?? '(no Reply-Message)'}`;
        } catch (err) {
          why = String((err as Error).name);
        }
        if (why === undefined) accepted++;
        else {
          rejected++;
          refused.push(u);
          reasons[why] = (reasons[why] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: m.concurrency }, lane));
    statsBase = sims.map(counts);
    return { accepted, rejected, reasons, refused, ms: performance.now() - t0 };
  }
  if (m.cmd === 'accounting') {
    accountingMode = m.mode;
    return {};
  }
  if (m.cmd === 'stats') {
    const now = sims.map(counts);
    const delta = (k: 'disconnects' | 'duplicates' | 'acks'): number =>
      now.reduce((n, c, i) => n + c[k] - (statsBase[i]?.[k] ?? 0), 0);
    return {
      live: sims.reduce((n, s) => n + s.sessions().length, 0),
      disconnectRequests: delta('disconnects'),
      disconnectRetransmissions: delta('duplicates'),
      disconnectAcks: delta('acks'),
    };
  }
  if (m.cmd === 'drain') {
    await Promise.all(sims.map((s) => s.drain()));
    return {};
  }
  throw new Error('unknown command');
}

process.on('message', (m: Msg & { id: number }) => {
  handle(m).then(
    (result) => process.send?.({ id: m.id, result }),
    (err: unknown) => process.send?.({ id: m.id, error: String((err as Error)?.stack ?? err) }),
  );
});
process.on('disconnect', () => {
  for (const r of relays) r.close();
  void Promise.all(sims.map((s) => s.close())).finally(() => process.exit(0));
});
process.send?.({ ready: true });
