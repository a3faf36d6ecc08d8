/**
 * The NAS simulator on loopback: its auth/accounting side against the scriptable fake RADIUS
 * peer (tests/helpers/fakes/radius-peer.ts), its RFC 5176 side against DynAuthClient and
 * hand-built packets sent from another peer.
 */
import { attributeValueName } from '../../../src/radius/dictionary';
import { DynAuthClient, type DynAuthTarget } from '../../../src/radius/dynauth-client';
import {
  decodePacket,
  encodeRequest,
  getBuffer,
  getNumber,
  getString,
  PacketCode,
  verifyChapPassword,
  type RadiusAttribute,
  type RadiusPacket,
} from '../../../src/radius/codec';
import { startNasSimulator, type NasSimulator, type NasSimulatorOptions } from '../../../src/simulate/nas-simulator';
import { answer, ignore, startRadiusPeer, type RadiusPeer } from '../../helpers/fakes/radius-peer';
import { eventually } from '../../helpers/wait';

const RADIUS_SECRET = 'radius-secret';
const COA_SECRET = 'coa-secret';
const FAST = { irt: 0.05, mrt: 0, mrc: 2, mrd: 0 };

interface Seen {
  readonly packet: RadiusPacket;
  readonly rinfo: { readonly address: string; readonly port: number };
}

interface FakeRadius {
  readonly authPort: number;
  readonly acctPort: number;
  readonly auth: Seen[];
  readonly acct: Seen[];
  close(): Promise<void>;
}

/** Knows alice/alicepw (PAP and CHAP, Message-Authenticator required); ACKs all accounting. */
async function fakeRadius(): Promise<FakeRadius> {
  const auth: Seen[] = [];
  const acct: Seen[] = [];
  const authPeer = await startRadiusPeer({
    secret: RADIUS_SECRET,
    requireMessageAuthenticator: true,
    script: (r) => {
      const packet = r.packet;
      if (!r.verified || !packet) return ignore;
      auth.push({ packet, rinfo: r.from });
      const chap = getBuffer(packet, 'CHAP-Password');
      const ok =
        getString(packet, 'User-Name') === 'alice' &&
        (chap
          ? verifyChapPassword(chap, 'alicepw', getBuffer(packet, 'CHAP-Challenge') ?? packet.authenticator)
          : getString(packet, 'User-Password') === 'alicepw');
      const attributes: RadiusAttribute[] = ok
        ? [
            { name: 'Session-Timeout', value: 3600 },
            { name: 'Idle-Timeout', value: 600 },
            { name: 'Acct-Interim-Interval', value: 300 },
            { name: 'Mikrotik-Rate-Limit', value: '10M/20M' },
            { name: 'Mikrotik-Total-Limit', value: 5 },
            { name: 'Mikrotik-Total-Limit-Gigawords', value: 1 },
            { name: 'Class', value: Buffer.from('plan-gold') },
          ]
        : [{ name: 'Reply-Message', value: 'no' }];
      return answer(ok ? PacketCode.AccessAccept : PacketCode.AccessReject, attributes);
    },
  });
  const acctPeer = await startRadiusPeer({
    secret: RADIUS_SECRET,
    script: (r) => {
      if (!r.verified || !r.packet) return ignore;
      acct.push({ packet: decodePacket(r.bytes), rinfo: r.from });
      return answer(PacketCode.AccountingResponse);
    },
  });
  return {
    authPort: authPeer.port,
    acctPort: acctPeer.port,
    auth,
    acct,
    close: async () => {
      await authPeer.close();
      await acctPeer.close();
    },
  };
}

let radius: FakeRadius;
const sims: NasSimulator[] = [];
const clients: DynAuthClient[] = [];

beforeEach(async () => {
  radius = await fakeRadius();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
  await radius.close();
});

async function sim(extra: Partial<NasSimulatorOptions> = {}): Promise<NasSimulator> {
  const s = await startNasSimulator({
    radius: {
      host: '127.0.0.1',
      authPort: radius.authPort,
      acctPort: radius.acctPort,
      secret: RADIUS_SECRET,
      retransmit: [300, 300],
    },
    coa: { host: '127.0.0.1', port: 0 },
    secret: COA_SECRET,
    nasIdentifier: 'sim-nas',
    ...extra,
  });
  sims.push(s);
  return s;
}

function dac(): DynAuthClient {
  const c = new DynAuthClient({ schedule: FAST });
  clients.push(c);
  return c;
}

const target = (s: NasSimulator, secret = COA_SECRET): DynAuthTarget => ({
  host: '127.0.0.1',
  port: s.coaPort,
  secret,
});

const acctStatus = (p: RadiusPacket): string | undefined =>
  attributeValueName('Acct-Status-Type', getNumber(p, 'Acct-Status-Type') ?? -1);
const terminateCause = (p: RadiusPacket): string | undefined =>
  attributeValueName('Acct-Terminate-Cause', getNumber(p, 'Acct-Terminate-Cause') ?? -1);

const senders: RadiusPeer[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((p) => p.close()));
});

/** Send raw bytes to the simulator's CoA port from a fresh peer; resolve with the first `replies` answers. */
async function raw(s: NasSimulator, packets: Buffer[], replies = 1): Promise<Buffer[]> {
  const sender = await startRadiusPeer({ secret: COA_SECRET, script: () => ignore });
  senders.push(sender);
  for (const p of packets) sender.send(p, s.coaPort, '127.0.0.1');
  return (await sender.waitFor(replies)).map((r) => r.bytes);
}

function dynAuthPacket(code: number, attributes: RadiusAttribute[], id = 7, secret = COA_SECRET): Buffer {
  return encodeRequest({
    code,
    identifier: id,
    secret,
    attributes: [...attributes, { name: 'Event-Timestamp', value: Math.floor(Date.now() / 1000) }],
    addMessageAuthenticator: true,
  }).buffer;
}

describe('NAS simulator: auth and accounting', () => {
  it('logs in with PAP: Access-Request with MA, session from the Accept, Accounting Start', async () => {
    const s = await sim();
    const res = await s.login('alice', 'alicepw', { framedIp: '10.5.50.20', macAddress: 'AA:BB:CC:00:11:22' });
    expect(res.accepted).toBe(true);
    const session = res.session!;
    expect(session.acctSessionId).toMatch(/^[0-9a-f]{8}$/);
    expect(session).toMatchObject({
      userName: 'alice',
      framedIp: '10.5.50.20',
      macAddress: 'AA:BB:CC:00:11:22',
      sessionTimeout: 3600,
      idleTimeout: 600,
      interimInterval: 300,
      rateLimit: '10M/20M',
      totalLimit: 2n ** 32n + 5n,
    });
    const req = radius.auth[0]!.packet;
    expect(getString(req, 'Acct-Session-Id')).toBe(session.acctSessionId);
    expect(getString(req, 'NAS-Identifier')).toBe('sim-nas');
    expect(getString(req, 'NAS-IP-Address')).toBe('127.0.0.1');
    expect(radius.acct).toHaveLength(1);
    const start = radius.acct[0]!.packet;
    expect(acctStatus(start)).toBe('Start');
    expect(getString(start, 'Acct-Session-Id')).toBe(session.acctSessionId);
    expect(getString(start, 'Framed-IP-Address')).toBe('10.5.50.20');
    expect(getString(start, 'Class')).toBe('plan-gold');
    expect(s.sessions().map((x) => x.acctSessionId)).toEqual([session.acctSessionId]);
  });

  it('logs in with CHAP, and a reject creates no session', async () => {
    const s = await sim();
    const ok = await s.login('alice', 'alicepw', { method: 'chap' });
    expect(ok.accepted).toBe(true);
    expect(getBuffer(radius.auth[0]!.packet, 'CHAP-Password')).toHaveLength(17);
    const bad = await s.login('alice', 'wrong');
    expect(bad).toMatchObject({ accepted: false, code: PacketCode.AccessReject });
    expect(bad.session).toBeUndefined();
    expect(s.sessions()).toHaveLength(1);
  });

  it('sends Interim-Update with Gigawords above 4 GiB and Stop on logout', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const id = session!.acctSessionId;
    await s.interim(id, { inputOctets: 5n * 2n ** 32n + 123n, outputOctets: 1000 });
    const interim = radius.acct[1]!.packet;
    expect(acctStatus(interim)).toBe('Interim-Update');
    expect(getNumber(interim, 'Acct-Input-Octets')).toBe(123);
    expect(getNumber(interim, 'Acct-Input-Gigawords')).toBe(5);
    expect(getNumber(interim, 'Acct-Output-Octets')).toBe(1000);
    expect(getNumber(interim, 'Acct-Output-Gigawords')).toBe(0);
    await s.logout(id);
    const stop = radius.acct[2]!.packet;
    expect(acctStatus(stop)).toBe('Stop');
    expect(terminateCause(stop)).toBe('User-Request');
    expect(getNumber(stop, 'Acct-Input-Gigawords')).toBe(5);
    expect(s.sessions()).toEqual([]);
  });

  it('accountingOn drops local sessions and sends Accounting-On', async () => {
    const s = await sim();
    await s.login('alice', 'alicepw');
    await s.accountingOn();
    expect(acctStatus(radius.acct.at(-1)!.packet)).toBe('Accounting-On');
    expect(s.sessions()).toEqual([]);
  });

  it('sends from bindAddress and uses it as NAS-IP-Address', async () => {
    const s = await sim({ bindAddress: '127.0.0.5' });
    await s.login('alice', 'alicepw');
    expect(radius.auth[0]!.rinfo.address).toBe('127.0.0.5');
    expect(radius.acct[0]!.rinfo.address).toBe('127.0.0.5');
    expect(getString(radius.acct[0]!.packet, 'NAS-IP-Address')).toBe('127.0.0.5');
  });
});

describe('NAS simulator: CoA and Disconnect (RFC 5176)', () => {
  it('CoA for a known session: ACK and the new rate limit and Session-Timeout are applied', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw', { framedIp: '10.5.50.21' });
    const res = await dac().send(target(s), {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: session!.acctSessionId,
      framedIpAddress: '10.5.50.21',
      nasIdentifier: 'sim-nas',
      attributes: [
        { name: 'Mikrotik-Rate-Limit', value: '2M/5M' },
        { name: 'Session-Timeout', value: 120 },
      ],
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(s.session(session!.acctSessionId)).toMatchObject({ rateLimit: '2M/5M', sessionTimeout: 120, coaApplied: 1 });
    const entry = s.received.at(-1)!;
    expect(entry).toMatchObject({
      codeName: 'CoA-Request',
      verdict: 'answered',
      duplicate: false,
      answer: { codeName: 'CoA-ACK' },
    });
    expect(getString(entry.attributes, 'Mikrotik-Rate-Limit')).toBe('2M/5M');
  });

  it('Disconnect for a known session: ACK, session gone, Accounting Stop with Admin-Reset', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const res = await dac().send(target(s), {
      kind: 'disconnect',
      userName: 'alice',
      acctSessionId: session!.acctSessionId,
    });
    expect(res.outcome).toBe('ack');
    expect(s.sessions()).toEqual([]);
    await s.drain();
    const stop = radius.acct.at(-1)!.packet;
    expect(acctStatus(stop)).toBe('Stop');
    expect(terminateCause(stop)).toBe('Admin-Reset');
    expect(getString(stop, 'Acct-Session-Id')).toBe(session!.acctSessionId);
  });

  it('unknown session, or an identifier that does not match: NAK 503', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const c = dac();
    await expect(c.send(target(s), { kind: 'disconnect', acctSessionId: 'deadbeef' })).resolves.toMatchObject({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
    });
    await expect(
      c.send(target(s), { kind: 'disconnect', acctSessionId: session!.acctSessionId, userName: 'bob' }),
    ).resolves.toMatchObject({ outcome: 'nak', errorCause: 503 });
    expect(s.sessions()).toHaveLength(1);
  });

  it('wrong secret: silently dropped and counted, the client times out', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const res = await dac().send(target(s, 'wrong-secret'), {
      kind: 'disconnect',
      acctSessionId: session!.acctSessionId,
    });
    expect(res).toMatchObject({ outcome: 'timeout', attempts: 3 });
    expect(s.stats.droppedBadAuthenticator).toBe(3);
    expect(s.received.every((r) => r.verdict === 'dropped' && r.dropReason === 'bad-authenticator')).toBe(true);
    expect(s.sessions()).toHaveLength(1);
  });

  it('a retransmitted request gets the same answer again and is applied once', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const pkt = dynAuthPacket(PacketCode.CoARequest, [
      { name: 'Acct-Session-Id', value: session!.acctSessionId },
      { name: 'Mikrotik-Rate-Limit', value: '3M/3M' },
    ]);
    const replies = await raw(s, [pkt, pkt], 2);
    expect(replies).toHaveLength(2);
    expect(replies[0]!.equals(replies[1]!)).toBe(true);
    expect(replies[0]![0]).toBe(PacketCode.CoAAck);
    expect(s.session(session!.acctSessionId)?.coaApplied).toBe(1);
    expect(s.stats.duplicates).toBe(1);
    expect(s.received.map((r) => r.duplicate)).toEqual([false, true]);
  });

  it('a retransmission arriving while the answer is delayed is absorbed; DynAuthClient still gets one ACK', async () => {
    const s = await sim({ respondDelayMs: 80 });
    const { session } = await s.login('alice', 'alicepw');
    const res = await dac().send(target(s), {
      kind: 'coa',
      acctSessionId: session!.acctSessionId,
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '4M/4M' }],
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 2 });
    expect(s.session(session!.acctSessionId)).toMatchObject({ rateLimit: '4M/4M', coaApplied: 1 });
    expect(s.stats.duplicates).toBe(1);
  });

  it('NAKs missing identification (402), unsupported attributes (401) and a foreign NAS-Identifier (403)', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const asid = { name: 'Acct-Session-Id', value: session!.acctSessionId };
    const [missing, discExtra, coaAddrList, foreign] = await Promise.all([
      raw(s, [dynAuthPacket(PacketCode.DisconnectRequest, [{ name: 'NAS-IP-Address', value: '127.0.0.1' }])]),
      raw(s, [dynAuthPacket(PacketCode.DisconnectRequest, [asid, { name: 'Session-Timeout', value: 10 }])]),
      raw(s, [dynAuthPacket(PacketCode.CoARequest, [asid, { name: 'Mikrotik-Address-List', value: 'blocked' }])]),
      raw(s, [dynAuthPacket(PacketCode.DisconnectRequest, [asid, { name: 'NAS-Identifier', value: 'other-nas' }])]),
    ]);
    const decode = (r: Buffer[]): [number, number | undefined] => {
      const p = decodePacket(r[0]!);
      return [p.code, getNumber(p, 'Error-Cause')];
    };
    expect(decode(missing)).toEqual([PacketCode.DisconnectNak, 402]);
    expect(decode(discExtra)).toEqual([PacketCode.DisconnectNak, 401]);
    expect(decode(coaAddrList)).toEqual([PacketCode.CoANak, 401]);
    expect(decode(foreign)).toEqual([PacketCode.DisconnectNak, 403]);
    expect(s.sessions()).toHaveLength(1);
  });

  it('drops a request whose Event-Timestamp is outside the replay window', async () => {
    const s = await sim();
    const { session } = await s.login('alice', 'alicepw');
    const old = encodeRequest({
      code: PacketCode.DisconnectRequest,
      identifier: 1,
      secret: COA_SECRET,
      attributes: [
        { name: 'Acct-Session-Id', value: session!.acctSessionId },
        { name: 'Event-Timestamp', value: Math.floor(Date.now() / 1000) - 3600 },
      ],
      addMessageAuthenticator: true,
    }).buffer;
    const sender = await startRadiusPeer({ secret: COA_SECRET, script: () => ignore });
    senders.push(sender);
    sender.send(old, s.coaPort, '127.0.0.1');
    await eventually(async () => s.stats.droppedStale === 1, 'the stale request dropped');
    expect(sender.received).toEqual([]);
    expect(s.stats.droppedStale).toBe(1);
    expect(s.sessions()).toHaveLength(1);
  });

  it("mode 'silent' never answers; mode 'garbage' answers junk the client drops", async () => {
    const s = await sim({ mode: 'silent' });
    const { session } = await s.login('alice', 'alicepw');
    const c = dac();
    const req = { kind: 'coa' as const, acctSessionId: session!.acctSessionId };
    await expect(c.send(target(s), req)).resolves.toMatchObject({ outcome: 'timeout', attempts: 3 });
    expect(s.stats.silent).toBe(3);
    s.mode = 'garbage';
    await expect(c.send(target(s), req)).resolves.toMatchObject({ outcome: 'timeout', attempts: 3 });
    expect(s.stats.garbage).toBe(3);
    expect(c.stats().dropped).toBe(6);
    s.mode = 'normal';
    await expect(c.send(target(s), req)).resolves.toMatchObject({ outcome: 'ack' });
  });
});
