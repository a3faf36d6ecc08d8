/**
 * DynAuthClient (RFC 5176) against scripted fake NAS on loopback UDP (the scriptable peer of
 * tests/helpers/fakes/radius-peer.ts; answers built with the codec's encodeResponse); the request
 * bytes are also checked by an independent few-line implementation of RFC 5176 §3.4 / RFC 3579
 * §3.2 (node:crypto only).
 */
import { createHash, createHmac } from 'node:crypto';
import {
  buildDynAuthAttributes,
  DynAuthClient,
  type DynAuthClientOptions,
  type DynAuthLogger,
  type DynAuthTarget,
} from '../../../src/radius/dynauth-client';
import {
  decodePacket,
  getNumber,
  getString,
  isNamedAttribute,
  PacketCode,
  verifyRequest,
  type RadiusAttribute,
} from '../../../src/radius/codec';
import type { DropReason } from '../../../src/radius/client';
import { RadiusClientClosedError, RadiusCodecError } from '../../../src/radius/errors';
import {
  ackCode,
  answer,
  forgedAck,
  ignore,
  nakCode,
  raw,
  signedReply,
  startRadiusPeer,
  type RadiusPeer,
  type Script,
} from '../../helpers/fakes/radius-peer';

const SECRET = 'coa-secret-1';
/** Tiny schedule: 3 transmissions 50 / 100 ms apart (jitter ±10 %). */
const FAST = { irt: 0.05, mrt: 0, mrc: 2, mrd: 0 };

const open: RadiusPeer[] = [];

/** A fake NAS on 127.0.0.1 whose CoA secret is SECRET. */
async function fakeNas(script: Script): Promise<RadiusPeer> {
  const nas = await startRadiusPeer({ secret: SECRET, script });
  open.push(nas);
  return nas;
}

const target = (nas: RadiusPeer, secret = SECRET): DynAuthTarget => ({ host: '127.0.0.1', port: nas.port, secret });

/** ACKs every request that verifies with SECRET. */
const acking: Script = (r) => (r.verified ? answer(ackCode(r.bytes[0] ?? 0)) : ignore);

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

const names = (attrs: readonly RadiusAttribute[]): string[] =>
  attrs.map((a) => (isNamedAttribute(a) ? a.name : `#${a.type}`));

describe('DynAuthClient packets', () => {
  it('sends a golden Disconnect-Request: MA first, identification, Event-Timestamp, byte-exact', async () => {
    const nas = await fakeNas(acking);
    const c = client();
    const res = await c.send(target(nas), {
      kind: 'disconnect',
      userName: '0712345678',
      acctSessionId: '81a0000b',
      framedIpAddress: '10.5.50.20',
      nasIpAddress: '192.0.2.1',
      nasIdentifier: 'hotspot-1',
      eventTimestamp: 1_750_000_000,
    });
    expect(res).toEqual({ outcome: 'ack', rttMs: expect.any(Number), attempts: 1 });
    const msg = nas.received[0]!.bytes;
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
    const res = await client().send(target(nas), {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: 'sess-1',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }],
      eventTimestamp: 1_750_000_001,
    });
    expect(res.outcome).toBe('ack');
    const msg = nas.received[0]!.bytes;
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
      buildDynAuthAttributes({
        kind: 'disconnect',
        userName: 'u',
        attributes: [{ name: 'Session-Timeout', value: 5 }],
      }),
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
    const nas = await fakeNas((r) => answer(nakCode(r.bytes[0] ?? 0), [{ name: 'Error-Cause', value: 503 }]));
    const res = await client().send(target(nas), { kind: 'disconnect', acctSessionId: 'gone' });
    expect(res).toEqual({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      rttMs: expect.any(Number),
      attempts: 1,
    });
  });

  it('returns nak without Error-Cause when the NAS gives none', async () => {
    const nas = await fakeNas((r) => answer(nakCode(r.bytes[0] ?? 0)));
    const res = await client().send(target(nas), { kind: 'coa', userName: 'u' });
    expect(res).toEqual({ outcome: 'nak', rttMs: expect.any(Number), attempts: 1 });
  });

  it('times out after the schedule, retransmitting identical bytes from the same source port', async () => {
    const nas = await fakeNas(() => ignore);
    const c = client();
    const started = Date.now();
    const res = await c.send(target(nas), { kind: 'disconnect', userName: 'u', acctSessionId: 's' });
    expect(res).toEqual({ outcome: 'timeout', attempts: 3, elapsedMs: expect.any(Number) });
    if (res.outcome !== 'timeout') throw new Error('unreachable');
    // 50 + 100 + 200 ms (±10 %): generous bounds only
    expect(res.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(nas.received).toHaveLength(3);
    const [first, ...rest] = nas.received;
    for (const r of rest) {
      expect(r.bytes.equals(first!.bytes)).toBe(true);
      expect(r.from.port).toBe(first!.from.port);
    }
    expect(c.stats()).toMatchObject({ requests: 1, transmissions: 3, timeouts: 1 });
    expect(c.inFlight).toBe(0);
  });

  it('accepts an answer to a retransmission (attempts 2)', async () => {
    const nas = await fakeNas((r) => (r.n === 2 ? answer(ackCode(r.bytes[0] ?? 0)) : ignore));
    const res = await client().send(target(nas), { kind: 'coa', acctSessionId: 's' });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 2 });
    expect(nas.received[1]!.bytes.equals(nas.received[0]!.bytes)).toBe(true);
  });

  it('uses the FreeRADIUS defaults when no schedule is given', async () => {
    const nas = await fakeNas(acking);
    const c = new DynAuthClient();
    clients.push(c);
    await expect(c.send(target(nas), { kind: 'coa', userName: 'u' })).resolves.toMatchObject({ outcome: 'ack' });
  });
});

describe('DynAuthClient reply checking', () => {
  it('drops replies signed with the wrong secret (and logs them) until the request times out', async () => {
    const nas = await fakeNas((r) => answer(ackCode(r.bytes[0] ?? 0), [], { secret: 'not-the-secret' }));
    const cap = capture();
    const res = await client({}, cap).send(target(nas), { kind: 'disconnect', userName: 'u' });
    expect(res.outcome).toBe('timeout');
    expect(cap.drops).toEqual(['bad-authenticator', 'bad-authenticator', 'bad-authenticator']);
    expect(cap.warns.map((w) => w.msg)).toEqual(Array(3).fill('dynauth reply dropped'));
    expect(cap.warns[0]!.obj).toMatchObject({ reason: 'bad-authenticator' });
  });

  it('a NAS answering garbage does not stall a parallel request to a good NAS', async () => {
    // right id and length, wrong authenticator
    const garbage = await fakeNas((r) => [
      raw(Buffer.from('garbage!')),
      raw(Buffer.alloc(300, 0x5a)),
      raw(forgedAck(r)),
    ]);
    const good = await fakeNas((r) => answer(ackCode(r.bytes[0] ?? 0)));
    const cap = capture();
    const c = client({ schedule: { irt: 0.2, mrt: 0, mrc: 1, mrd: 0 } }, cap);
    const [bad, ok, ok2] = await Promise.all([
      c.send(target(garbage), {
        kind: 'coa',
        userName: 'u',
        attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }],
      }),
      c.send(target(good), {
        kind: 'coa',
        userName: 'u',
        attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }],
      }),
      c.send(target(good), { kind: 'disconnect', userName: 'v' }),
    ]);
    expect(ok).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(ok2).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(bad).toMatchObject({ outcome: 'timeout', attempts: 2 });
    expect(cap.drops).toContain('malformed');
    expect(cap.drops).toContain('bad-authenticator');
    expect(new Set(cap.warns.map((w) => w.msg))).toEqual(new Set(['dynauth reply dropped']));
  });

  it('drops a correctly signed reply that comes from another port', async () => {
    const impostor = await fakeNas(() => ignore);
    const nas = await fakeNas((r) => {
      if (r.n === 1) {
        impostor.send(signedReply(r, ackCode(r.bytes[0] ?? 0), [], SECRET), r.from.port, r.from.address);
        return ignore;
      }
      return answer(ackCode(r.bytes[0] ?? 0));
    });
    const cap = capture();
    const res = await client({}, cap).send(target(nas), { kind: 'coa', userName: 'u' });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 2 });
    expect(cap.drops).toEqual(['unexpected-source']);
  });

  it('drops a duplicate late answer as unknown-id without affecting anything', async () => {
    const nas = await fakeNas((r) => {
      const reply = raw(signedReply(r, ackCode(r.bytes[0] ?? 0), [], SECRET));
      return [reply, reply];
    });
    const cap = capture();
    const c = client({}, cap);
    expect((await c.send(target(nas), { kind: 'coa', userName: 'u' })).outcome).toBe('ack');
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
      c.send(target(a), { kind: 'coa', userName: 'u' }),
      c.send(target(b), { kind: 'coa', userName: 'u' }),
    ]);
    expect(a.received[0]!.from.port).toBe(b.received[0]!.from.port);
    expect(a.received[0]!.bytes[1]).toBe(0);
    expect(b.received[0]!.bytes[1]).toBe(0);
    expect((await c.address())?.port).toBe(a.received[0]!.from.port);
  });

  it('handles more than 256 concurrent requests to one NAS (ids are queued, none reused while in flight)', async () => {
    const inFlightIds = new Set<number>();
    let reused = false;
    const nas = await fakeNas((r, self) => {
      const id = r.bytes[1]!;
      if (inFlightIds.has(id)) reused = true;
      inFlightIds.add(id);
      setTimeout(() => {
        inFlightIds.delete(id);
        self.send(signedReply(r, ackCode(r.bytes[0] ?? 0), [], SECRET), r.from.port, r.from.address);
      }, 5);
      return ignore;
    });
    const c = client({ schedule: { irt: 5, mrt: 0, mrc: 1, mrd: 0 } });
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => c.send(target(nas), { kind: 'disconnect', acctSessionId: `s${i}` })),
    );
    expect(results.every((r) => r.outcome === 'ack')).toBe(true);
    expect(reused).toBe(false);
    expect(c.stats()).toMatchObject({ requests: 400, acks: 400 });
  });

  it('rejects on abort and on close', async () => {
    const nas = await fakeNas(() => ignore);
    const c = client({ schedule: { irt: 5, mrt: 0, mrc: 1, mrd: 0 } });
    const ac = new AbortController();
    const aborted = c.send(target(nas), { kind: 'coa', userName: 'u' }, { signal: ac.signal });
    const closed = c.send(target(nas), { kind: 'coa', userName: 'v' });
    await new Promise((r) => setTimeout(r, 20));
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await c.close();
    await expect(closed).rejects.toBeInstanceOf(RadiusClientClosedError);
    await expect(c.send(target(nas), { kind: 'coa', userName: 'u' })).rejects.toBeInstanceOf(RadiusClientClosedError);
  });
});
