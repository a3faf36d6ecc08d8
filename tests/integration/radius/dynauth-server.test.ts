/**
 * DynAuthServer (RFC 5176 receiver) on loopback: requests from DynAuthClient and hand-built
 * packets from the fake peer; its clock is a FakeClock, so the Event-Timestamp window and the
 * duplicate cache move only when the test says.
 */
import { DynAuthClient, type DynAuthTarget } from '../../../src/radius/dynauth-client';
import {
  DynAuthServer,
  type DynAuthHandler,
  type DynAuthIncoming,
  type DynAuthServerEvent,
  type DynAuthServerOptions,
} from '../../../src/radius/dynauth-server';
import {
  decodePacket,
  encodeRequest,
  getNumber,
  getString,
  PacketCode,
  type RadiusAttribute,
} from '../../../src/radius/codec';
import { ignore, startRadiusPeer, type RadiusPeer } from '../../helpers/fakes/radius-peer';
import { FakeClock } from '../../helpers/clock';
import { eventually } from '../../helpers/wait';

const SECRET = 'coa-secret-9';
const FAST = { irt: 0.05, mrt: 0, mrc: 2, mrd: 0 };

const servers: DynAuthServer[] = [];
const clients: DynAuthClient[] = [];
const peers: RadiusPeer[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Harness {
  readonly server: DynAuthServer;
  readonly clock: FakeClock;
  readonly seen: DynAuthIncoming[];
  readonly events: DynAuthServerEvent[];
}

async function serve(handler: DynAuthHandler, extra: Partial<DynAuthServerOptions> = {}): Promise<Harness> {
  const clock = new FakeClock(Date.now());
  const seen: DynAuthIncoming[] = [];
  const events: DynAuthServerEvent[] = [];
  const server = await DynAuthServer.listen({
    secret: SECRET,
    clock,
    handler: (req) => {
      seen.push(req);
      return handler(req);
    },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  servers.push(server);
  return { server, clock, seen, events };
}

function dac(): DynAuthClient {
  const c = new DynAuthClient({ schedule: FAST });
  clients.push(c);
  return c;
}

const target = (s: DynAuthServer, secret = SECRET): DynAuthTarget => ({ host: '127.0.0.1', port: s.port, secret });

async function sender(): Promise<RadiusPeer> {
  const p = await startRadiusPeer({ secret: SECRET, script: () => ignore });
  peers.push(p);
  return p;
}

function packet(
  code: number,
  attributes: RadiusAttribute[],
  opts: { id?: number; ma?: boolean; ts?: number } = {},
): Buffer {
  return encodeRequest({
    code,
    identifier: opts.id ?? 9,
    secret: SECRET,
    attributes: [...attributes, { name: 'Event-Timestamp', value: opts.ts ?? Math.floor(Date.now() / 1000) }],
    addMessageAuthenticator: opts.ma ?? true,
  }).buffer;
}

describe('DynAuthServer', () => {
  it('hands a verified CoA to the handler with its identification and changes, and ACKs', async () => {
    const h = await serve(() => ({ outcome: 'ack' }));
    const res = await dac().send(target(h.server), {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: 's-1',
      framedIpAddress: '10.5.50.7',
      nasIdentifier: 'gw-1',
      attributes: [
        { name: 'Mikrotik-Rate-Limit', value: '1M/2M' },
        { name: 'Calling-Station-Id', value: '02:00:00:00:00:07' },
      ],
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
    expect(h.seen).toHaveLength(1);
    const req = h.seen[0]!;
    expect(req.kind).toBe('coa');
    expect(req.identification).toEqual({
      userName: 'alice',
      acctSessionId: 's-1',
      framedIpAddress: '10.5.50.7',
      callingStationId: '02:00:00:00:00:07',
      nasIdentifier: 'gw-1',
    });
    expect(req.changes).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '1M/2M' }]);
    expect(h.events.map((e) => e.type)).toEqual(['answered']);
  });

  it('NAKs with the Error-Cause the handler names (Disconnect-NAK 503)', async () => {
    const h = await serve(() => ({ outcome: 'nak', errorCause: 'Session-Context-Not-Found' }));
    await expect(dac().send(target(h.server), { kind: 'disconnect', acctSessionId: 'nope' })).resolves.toMatchObject({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
    });
  });

  it('a handler that fails answers NAK Resources-Unavailable (506)', async () => {
    const h = await serve(() => {
      throw new Error('boom');
    });
    await expect(dac().send(target(h.server), { kind: 'coa', userName: 'u' })).resolves.toMatchObject({
      outcome: 'nak',
      errorCause: 506,
    });
  });

  it('drops a wrong secret silently: no answer, no handler call, the client times out', async () => {
    const h = await serve(() => ({ outcome: 'ack' }));
    const res = await dac().send(target(h.server, 'wrong-secret'), { kind: 'disconnect', userName: 'u' });
    expect(res).toMatchObject({ outcome: 'timeout', attempts: 3 });
    expect(h.seen).toEqual([]);
    expect(h.events.map((e) => (e.type === 'dropped' ? e.reason : e.type))).toEqual(Array(3).fill('bad-authenticator'));
  });

  it('drops a source without a secret (unknown client)', async () => {
    const h = await serve(() => ({ outcome: 'ack' }), { secret: () => undefined });
    const p = await sender();
    p.send(packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'u' }]), h.server.port, '127.0.0.1');
    await eventually(async () => h.events.length === 1, 'the drop');
    expect(h.events[0]).toMatchObject({ type: 'dropped', reason: 'unknown-client' });
    expect(p.received).toEqual([]);
  });

  it('requireMessageAuthenticator: a request without one is dropped, with one it is answered', async () => {
    const h = await serve(() => ({ outcome: 'ack' }), { requireMessageAuthenticator: true });
    const p = await sender();
    p.send(
      packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'u' }], { id: 1, ma: false }),
      h.server.port,
      '127.0.0.1',
    );
    await eventually(async () => h.events.length === 1, 'the drop');
    expect(h.events[0]).toMatchObject({ type: 'dropped', reason: 'missing-message-authenticator' });
    p.send(packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'u' }], { id: 2 }), h.server.port, '127.0.0.1');
    const [reply] = await p.waitFor(1);
    expect(decodePacket(reply!.bytes).code).toBe(PacketCode.CoAAck);
    expect(h.seen).toHaveLength(1);
  });

  it('a retransmission within the window gets the cached reply and no second action; after the window it is new', async () => {
    let n = 0;
    const h = await serve(() => ({ outcome: 'ack', attributes: [{ name: 'Reply-Message', value: `action ${++n}` }] }), {
      duplicateWindowMs: 30_000,
    });
    const p = await sender();
    const pkt = packet(PacketCode.DisconnectRequest, [{ name: 'Acct-Session-Id', value: 's-2' }]);
    p.send(pkt, h.server.port, '127.0.0.1');
    await p.waitFor(1);
    p.send(pkt, h.server.port, '127.0.0.1');
    const replies = await p.waitFor(2);
    expect(replies[1]!.bytes.equals(replies[0]!.bytes)).toBe(true);
    expect(getString(decodePacket(replies[0]!.bytes), 'Reply-Message')).toBe('action 1');
    expect(h.seen).toHaveLength(1);
    expect(h.events.map((e) => e.type)).toEqual(['answered', 'duplicate']);
    await h.clock.advance(31_000);
    p.send(pkt, h.server.port, '127.0.0.1');
    const third = await p.waitFor(3);
    expect(getString(decodePacket(third[2]!.bytes), 'Reply-Message')).toBe('action 2');
    expect(h.seen).toHaveLength(2);
  });

  it('the same Identifier with another authenticator is a new request', async () => {
    const h = await serve(() => ({ outcome: 'ack' }));
    const p = await sender();
    p.send(packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'a' }], { id: 5 }), h.server.port, '127.0.0.1');
    await p.waitFor(1);
    p.send(packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'b' }], { id: 5 }), h.server.port, '127.0.0.1');
    await p.waitFor(2);
    expect(h.seen.map((r) => r.identification.userName)).toEqual(['a', 'b']);
  });

  it('drops an Event-Timestamp outside the window (by its clock), malformed datagrams and non-CoA codes', async () => {
    const h = await serve(() => ({ outcome: 'ack' }), { eventTimestampWindowSec: 300 });
    const p = await sender();
    const now = Math.floor(h.clock.now() / 1000);
    p.send(
      packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'u' }], { id: 1, ts: now - 301 }),
      h.server.port,
      '127.0.0.1',
    );
    p.send(Buffer.from('junk'), h.server.port, '127.0.0.1');
    p.send(
      encodeRequest({
        code: PacketCode.AccountingRequest,
        identifier: 3,
        secret: SECRET,
        attributes: [{ name: 'User-Name', value: 'u' }],
      }).buffer,
      h.server.port,
      '127.0.0.1',
    );
    await eventually(async () => h.events.length === 3, 'three drops');
    expect(h.events.map((e) => (e.type === 'dropped' ? e.reason : e.type)).sort()).toEqual([
      'malformed',
      'stale-event-timestamp',
      'unsupported-code',
    ]);
    // Inside the window it is answered.
    p.send(
      packet(PacketCode.CoARequest, [{ name: 'User-Name', value: 'u' }], { id: 2, ts: now - 299 }),
      h.server.port,
      '127.0.0.1',
    );
    const [reply] = await p.waitFor(1);
    expect(getNumber(decodePacket(reply!.bytes), 'Error-Cause')).toBeUndefined();
    expect(h.seen).toHaveLength(1);
  });
});
