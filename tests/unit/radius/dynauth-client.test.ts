/**
 * DynAuthClient (RFC 5176) against scripted fake NAS on loopback UDP. Fake NAS answers are
 * built with the codec's encodeResponse; the request bytes are also checked by an independent
 * few-line implementation of RFC 5176 §3.4 / RFC 3579 §3.2 (node:crypto only).
 */
import { createHash, createHmac } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  buildDynAuthAttributes,
  DynAuthClient,
  type DynAuthClientOptions,
  type DynAuthLogger,
  type DynAuthTarget,
} from '../../../src/radius/dynauth-client';
import {
  decodePacket,
  encodeResponse,
  getNumber,
  getString,
  isNamedAttribute,
  PacketCode,
  verifyRequest,
  type RadiusAttribute,
} from '../../../src/radius/codec';
import type { DropReason } from '../../../src/radius/client';
import { RadiusClientClosedError, RadiusCodecError } from '../../../src/radius/errors';

const SECRET = 'coa-secret-1';
/** Tiny schedule: 3 transmissions 50 / 100 ms apart (jitter ±10 %). */
const FAST = { irt: 0.05, mrt: 0, mrc: 2, mrd: 0 };

type Handler = (msg: Buffer, rinfo: RemoteInfo, n: number, nas: FakeNas) => Buffer[];

interface FakeNas {
  readonly port: number;
  readonly socket: Socket;
  readonly received: { msg: Buffer; rinfo: RemoteInfo }[];
  target(secret?: string): DynAuthTarget;
  close(): Promise<void>;
}

const open: FakeNas[] = [];

async function fakeNas(handler: Handler): Promise<FakeNas> {
  const socket = createSocket('udp4');
  const received: FakeNas['received'] = [];
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const nas: FakeNas = {
    port: socket.address().port,
    socket,
    received,
    target: (secret = SECRET) => ({ host: '127.0.0.1', port: socket.address().port, secret }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    received.push({ msg: Buffer.from(msg), rinfo });
    for (const r of handler(msg, rinfo, received.length, nas)) socket.send(r, rinfo.port, rinfo.address);
  });
  open.push(nas);
  return nas;
}

function answer(msg: Buffer, code: number, attributes: RadiusAttribute[] = [], secret = SECRET): Buffer {
  return encodeResponse({ code, request: decodePacket(msg), secret, attributes }).buffer;
}

const ackOf = (msg: Buffer): number => (msg[0] === PacketCode.CoARequest ? PacketCode.CoAAck : PacketCode.DisconnectAck);
const nakOf = (msg: Buffer): number => (msg[0] === PacketCode.CoARequest ? PacketCode.CoANak : PacketCode.DisconnectNak);

/** ACKs every request that verifies with SECRET. */
const acking: Handler = (msg) => (verifyRequest(msg, SECRET).ok ? [answer(msg, ackOf(msg))] : []);

interface Captured {
  readonly warns: { obj: object; msg: string }[];
  readonly drops: DropReason[];
  readonly logger: DynAuthLogger;
}

function capture(): Captured {
  const warns: Captured['warns'] = [];
  return {
    warns,
    drops: [],
    logger: { warn: (obj, msg) => warns.push({ obj, msg }), debug: () => undefined },
  };
}

const clients: DynAuthClient[] = [];
function client(opts: DynAuthClientOptions = {}, cap?: Captured): DynAuthClient {
  const c = new DynAuthClient({
    schedule: FAST,
    ...(cap ? { logger: cap.logger, onDrop: (reason: DropReason) => cap.drops.push(reason) } : {}),
    ...opts,
  });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(open.splice(0).map((n) => n.close()));
});

/** RFC 5176 §3.4 request as protocols.md §1.1 spells it: MA over zeroed auth, then MD5 auth. */
function independentDynAuth(code: number, id: number, attrs: Buffer, secret: string): Buffer {
  const body = Buffer.concat([Buffer.from([80, 18]), Buffer.alloc(16), attrs]);
  const len = 20 + body.length;
  const p = Buffer.concat([Buffer.from([code, id, len >> 8, len & 255]), Buffer.alloc(16), body]);
  createHmac('md5', secret).update(p).digest().copy(p, 22);
  createHash('md5').update(p).update(secret).digest().copy(p, 4);
  return p;
}

function tlv(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

const names = (attrs: readonly RadiusAttribute[]): string[] => attrs.map((a) => (isNamedAttribute(a) ? a.name : `#${a.type}`));

describe('DynAuthClient packets', () => {
  it('sends a golden Disconnect-Request: MA first, identification, Event-Timestamp, byte-exact', async () => {
    const nas = await fakeNas(acking);
    const c = client();
    const res = await c.send(nas.target(), {
      kind: 'disconnect',
      userName: '0712345678',
      acctSessionId: '81a0000b',
      framedIpAddress: '10.5.50.20',
      nasIpAddress: '192.0.2.1',
      nasIdentifier: 'hotspot-1',
      eventTimestamp: 1_750_000_000,
    });
    expect(res).toEqual({ outcome: 'ack', rttMs: expect.any(Number), attempts: 1 });
    const msg = nas.received[0]!.msg;
    expect(verifyRequest(msg, SECRET, { requireMessageAuthenticator: true })).toEqual({ ok: true });
    expect(verifyRequest(msg, 'wrong', { requireMessageAuthenticator: true }).ok).toBe(false);
    const pkt = decodePacket(msg);
    expect(pkt.code).toBe(PacketCode.DisconnectRequest);
    expect(names(pkt.attributes)).toEqual([
      'Message-Authenticator',
      'User-Name',
      'Acct-Session-Id',
      'Framed-IP-Address',
      'NAS-IP-Address',
      'NAS-Identifier',
      'Event-Timestamp',
    ]);
    expect(getNumber(pkt, 'Event-Timestamp')).toBe(1_750_000_000);
    const ts = Buffer.alloc(4);
    ts.writeUInt32BE(1_750_000_000);
    const attrs = Buffer.concat([
      tlv(1, Buffer.from('0712345678')),
      tlv(44, Buffer.from('81a0000b')),
      tlv(8, Buffer.from([10, 5, 50, 20])),
      tlv(4, Buffer.from([192, 0, 2, 1])),
      tlv(32, Buffer.from('hotspot-1')),
      tlv(55, ts),
    ]);
    expect(msg.toString('hex')).toBe(independentDynAuth(40, pkt.identifier, attrs, SECRET).toString('hex'));
  });

  it('sends a CoA-Request with Mikrotik-Rate-Limit as a vendor attribute', async () => {
    const nas = await fakeNas(acking);
    const res = await client().send(nas.target(), {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: 'sess-1',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }],
      eventTimestamp: 1_750_000_001,
    });
    expect(res.outcome).toBe('ack');
    const msg = nas.received[0]!.msg;
    expect(verifyRequest(msg, SECRET, { requireMessageAuthenticator: true }).ok).toBe(true);
    const pkt = decodePacket(msg);
    expect(pkt.code).toBe(PacketCode.CoARequest);
    expect(getString(pkt, 'Mikrotik-Rate-Limit')).toBe('2M/5M');
    const ts = Buffer.alloc(4);
    ts.writeUInt32BE(1_750_000_001);
    const vsa = Buffer.concat([Buffer.from([26, 13, 0, 0, 0x3a, 0x8c, 8, 7]), Buffer.from('2M/5M')]);
    const attrs = Buffer.concat([tlv(1, Buffer.from('alice')), tlv(44, Buffer.from('sess-1')), tlv(55, ts), vsa]);
    expect(msg.toString('hex')).toBe(independentDynAuth(43, pkt.identifier, attrs, SECRET).toString('hex'));
  });

  it('refuses a Disconnect with non-identification attributes and a request without session identification', () => {
    expect(() =>
      buildDynAuthAttributes({ kind: 'disconnect', userName: 'u', attributes: [{ name: 'Session-Timeout', value: 5 }] }),
    ).toThrow(RadiusCodecError);
    expect(() => buildDynAuthAttributes({ kind: 'coa', nasIpAddress: '192.0.2.1' })).toThrow(RadiusCodecError);
    expect(() =>
      buildDynAuthAttributes({ kind: 'coa', userName: 'u', attributes: [{ name: 'Event-Timestamp', value: 1 }] }),
    ).toThrow(RadiusCodecError);
    // identification extras are fine in a Disconnect
    const attrs = buildDynAuthAttributes({
      kind: 'disconnect',
      acctSessionId: 's',
      attributes: [{ name: 'Calling-Station-Id', value: 'AA-BB' }],
      eventTimestamp: 5,
    });
    expect(names(attrs)).toEqual(['Acct-Session-Id', 'Event-Timestamp', 'Calling-Station-Id']);
  });
});

describe('DynAuthClient outcomes', () => {
  it('returns nak with Error-Cause 503 and its name', async () => {
    const nas = await fakeNas((msg) => [answer(msg, nakOf(msg), [{ name: 'Error-Cause', value: 503 }])]);
    const res = await client().send(nas.target(), { kind: 'disconnect', acctSessionId: 'gone' });
    expect(res).toEqual({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      rttMs: expect.any(Number),
      attempts: 1,
    });
  });

  it('returns nak without Error-Cause when the NAS gives none', async () => {
    const nas = await fakeNas((msg) => [answer(msg, nakOf(msg))]);
    const res = await client().send(nas.target(), { kind: 'coa', userName: 'u' });
    expect(res).toEqual({ outcome: 'nak', rttMs: expect.any(Number), attempts: 1 });
  });

  it('times out after the schedule, retransmitting identical bytes from the same source port', async () => {
    const nas = await fakeNas(() => []);
    const c = client();
    const started = Date.now();
    const res = await c.send(nas.target(), { kind: 'disconnect', userName: 'u', acctSessionId: 's' });
    expect(res).toEqual({ outcome: 'timeout', attempts: 3, elapsedMs: expect.any(Number) });
    if (res.outcome !== 'timeout') throw new Error('unreachable');
    // 50 + 100 + 200 ms (±10 %): generous bounds only
    expect(res.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(nas.received).toHaveLength(3);
    const [first, ...rest] = nas.received;
    for (const r of rest) {
      expect(r.msg.equals(first!.msg)).toBe(true);
      expect(r.rinfo.port).toBe(first!.rinfo.port);
    }
    expect(c.stats()).toMatchObject({ requests: 1, transmissions: 3, timeouts: 1 });
    expect(c.inFlight).toBe(0);
  });

  it('accepts an answer to a retransmission (attempts 2)', async () => {
    const nas = await fakeNas((msg, _r, n) => (n === 2 ? [answer(msg, ackOf(msg))] : []));
    const res = await client().send(nas.target(), { kind: 'coa', acctSessionId: 's' });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 2 });
    expect(nas.received[1]!.msg.equals(nas.received[0]!.msg)).toBe(true);
  });

  it('uses the FreeRADIUS defaults when no schedule is given', async () => {
    const nas = await fakeNas(acking);
    const c = new DynAuthClient();
    clients.push(c);
    await expect(c.send(nas.target(), { kind: 'coa', userName: 'u' })).resolves.toMatchObject({ outcome: 'ack' });
  });
});

describe('DynAuthClient reply checking', () => {
  it('drops replies signed with the wrong secret (and logs them) until the request times out', async () => {
    const nas = await fakeNas((msg) => [answer(msg, ackOf(msg), [], 'not-the-secret')]);
    const cap = capture();
    const res = await client({}, cap).send(nas.target(), { kind: 'disconnect', userName: 'u' });
    expect(res.outcome).toBe('timeout');
    expect(cap.drops).toEqual(['bad-authenticator', 'bad-authenticator', 'bad-authenticator']);
    expect(cap.warns.map((w) => w.msg)).toEqual(Array(3).fill('dynauth reply dropped'));
    expect(cap.warns[0]!.obj).toMatchObject({ reason: 'bad-authenticator' });
  });

  it('a NAS answering garbage does not stall a parallel request to a good NAS', async () => {
    const garbage = await fakeNas((msg) => {
      const forged = Buffer.from(msg.subarray(0, 20));
      forged[0] = ackOf(msg); // right id and length, random authenticator
      forged.writeUInt16BE(20, 2);
      forged.fill(0xab, 4, 20);
      return [Buffer.from('garbage!'), Buffer.alloc(300, 0x5a), forged];
    });
    const good = await fakeNas((msg) => [answer(msg, ackOf(msg))]);
    const cap = capture();
    const c = client({ schedule: { irt: 0.2, mrt: 0, mrc: 1, mrd: 0 } }, cap);
    const [bad, ok, ok2] = await Promise.all([
      c.send(garbage.target(), { kind: 'coa', userName: 'u', attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }] }),
      c.send(good.target(), { kind: 'coa', userName: 'u', attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }] }),
      c.send(good.target(), { kind: 'disconnect', userName: 'v' }),
    ]);
    expect(ok).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(ok2).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(bad).toMatchObject({ outcome: 'timeout', attempts: 2 });
    expect(cap.drops).toContain('malformed');
    expect(cap.drops).toContain('bad-authenticator');
    expect(new Set(cap.warns.map((w) => w.msg))).toEqual(new Set(['dynauth reply dropped']));
  });

  it('drops a correctly signed reply that comes from another port', async () => {
    const impostor = createSocket('udp4');
    await new Promise<void>((resolve) => impostor.bind(0, '127.0.0.1', resolve));
    const nas = await fakeNas((msg, rinfo, n) => {
      const reply = answer(msg, ackOf(msg));
      if (n === 1) {
        impostor.send(reply, rinfo.port, rinfo.address);
        return [];
      }
      return [reply];
    });
    const cap = capture();
    try {
      const res = await client({}, cap).send(nas.target(), { kind: 'coa', userName: 'u' });
      expect(res).toMatchObject({ outcome: 'ack', attempts: 2 });
      expect(cap.drops).toEqual(['unexpected-source']);
    } finally {
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  });

  it('drops a duplicate late answer as unknown-id without affecting anything', async () => {
    const nas = await fakeNas((msg) => {
      const r = answer(msg, ackOf(msg));
      return [r, r];
    });
    const cap = capture();
    const c = client({}, cap);
    expect((await c.send(nas.target(), { kind: 'coa', userName: 'u' })).outcome).toBe('ack');
    await new Promise((r) => setTimeout(r, 50));
    expect(cap.drops).toEqual(['unknown-id']);
  });
});

describe('DynAuthClient multiplexing', () => {
  it('shares one socket across NAS and allocates identifiers per destination', async () => {
    const a = await fakeNas(acking);
    const b = await fakeNas(acking);
    const c = client();
    await Promise.all([
      c.send(a.target(), { kind: 'coa', userName: 'u' }),
      c.send(b.target(), { kind: 'coa', userName: 'u' }),
    ]);
    expect(a.received[0]!.rinfo.port).toBe(b.received[0]!.rinfo.port);
    expect(a.received[0]!.msg[1]).toBe(0);
    expect(b.received[0]!.msg[1]).toBe(0);
    expect((await c.address())?.port).toBe(a.received[0]!.rinfo.port);
  });

  it('handles more than 256 concurrent requests to one NAS (ids are queued, none reused while in flight)', async () => {
    const inFlightIds = new Set<number>();
    let reused = false;
    const nas = await fakeNas((msg, rinfo, _n, self) => {
      const id = msg[1]!;
      if (inFlightIds.has(id)) reused = true;
      inFlightIds.add(id);
      setTimeout(() => {
        inFlightIds.delete(id);
        self.socket.send(answer(msg, ackOf(msg)), rinfo.port, rinfo.address);
      }, 5);
      return [];
    });
    const c = client({ schedule: { irt: 5, mrt: 0, mrc: 1, mrd: 0 } });
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => c.send(nas.target(), { kind: 'disconnect', acctSessionId: `s${i}` })),
    );
    expect(results.every((r) => r.outcome === 'ack')).toBe(true);
    expect(reused).toBe(false);
    expect(c.stats()).toMatchObject({ requests: 400, acks: 400 });
  });

  it('rejects on abort and on close', async () => {
    const nas = await fakeNas(() => []);
    const c = client({ schedule: { irt: 5, mrt: 0, mrc: 1, mrd: 0 } });
    const ac = new AbortController();
    const aborted = c.send(nas.target(), { kind: 'coa', userName: 'u' }, { signal: ac.signal });
    const closed = c.send(nas.target(), { kind: 'coa', userName: 'v' });
    await new Promise((r) => setTimeout(r, 20));
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await c.close();
    await expect(closed).rejects.toBeInstanceOf(RadiusClientClosedError);
    await expect(c.send(nas.target(), { kind: 'coa', userName: 'u' })).rejects.toBeInstanceOf(RadiusClientClosedError);
  });
});
