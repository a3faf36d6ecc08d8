/**
 * The shared transport under RadiusClient and DynAuthClient, with its retransmission timers on
 * a FakeClock: retransmissions happen when the test moves time, never by waiting.
 */
import { encodeRequest, PacketCode } from '../../../src/radius/codec';
import { UdpEndpoint } from '../../../src/radius/transport/udp-endpoint';
import { acking, answer, ignore, startRadiusPeer, type RadiusPeer } from '../../helpers/fakes/radius-peer';
import { FakeClock } from '../../helpers/clock';
import { eventually } from '../../helpers/wait';

const SECRET = 'endpoint-secret';
const peers: RadiusPeer[] = [];
const endpoints: UdpEndpoint[] = [];

afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function peer(script = acking, secret = SECRET): Promise<RadiusPeer> {
  const p = await startRadiusPeer({ secret, script });
  peers.push(p);
  return p;
}

const accounting = (secret: string) => (identifier: number) =>
  encodeRequest({
    code: PacketCode.AccountingRequest,
    identifier,
    secret,
    attributes: [{ name: 'Acct-Session-Id', value: 'x' }],
  });

describe('UdpEndpoint', () => {
  it('retransmits the same bytes when the clock passes each delay, then gives up without a reply', async () => {
    const clock = new FakeClock();
    const ep = new UdpEndpoint({ clock });
    endpoints.push(ep);
    const p = await peer(() => ignore);
    const done = ep.exchange({ address: '127.0.0.1', port: p.port, secret: SECRET }, accounting(SECRET), {
      schedule: [1000, 2000],
    });
    await p.waitFor(1);
    expect(clock.timers()).toEqual([1000]);
    await clock.advance(1000);
    await p.waitFor(2);
    expect(clock.timers()).toEqual([2000]);
    await clock.advance(2000);
    const res = await done;
    expect(res.packet).toBeUndefined();
    expect(res.attempts).toBe(2);
    expect(p.received[1]!.bytes.equals(p.received[0]!.bytes)).toBe(true);
    expect(ep.inFlight).toBe(0);
  });

  it('an answer to the retransmission settles the request and cancels the timer', async () => {
    const clock = new FakeClock();
    const ep = new UdpEndpoint({ clock });
    endpoints.push(ep);
    const p = await peer((r) => (r.n === 2 ? answer(PacketCode.AccountingResponse) : ignore));
    const done = ep.exchange({ address: '127.0.0.1', port: p.port, secret: SECRET }, accounting(SECRET), {
      schedule: [500, 500, 500],
    });
    await p.waitFor(1);
    await clock.advance(500);
    const res = await done;
    expect(res.packet?.code).toBe(PacketCode.AccountingResponse);
    expect(res.attempts).toBe(2);
    expect(clock.timers()).toEqual([]);
  });

  it('one socket for two destinations with their own secrets; a reply signed with the other secret is dropped', async () => {
    const clock = new FakeClock();
    const drops: string[] = [];
    const ep = new UdpEndpoint({ clock, onDrop: (reason) => drops.push(reason) });
    endpoints.push(ep);
    const a = await peer(acking, 'secret-a');
    const b = await peer(
      (r) => answer(PacketCode.AccountingResponse, [], { secret: r.n === 1 ? 'secret-a' : 'secret-b' }),
      'secret-b',
    );
    const ra = ep.exchange({ address: '127.0.0.1', port: a.port, secret: 'secret-a' }, accounting('secret-a'), {
      schedule: [1000, 1000],
    });
    const rb = ep.exchange({ address: '127.0.0.1', port: b.port, secret: 'secret-b' }, accounting('secret-b'), {
      schedule: [1000, 1000],
    });
    expect((await ra).packet?.code).toBe(PacketCode.AccountingResponse);
    await b.waitFor(1);
    await eventually(async () => drops.includes('bad-authenticator'), 'the forged reply dropped');
    await clock.advance(1000);
    const resB = await rb;
    expect(resB.attempts).toBe(2);
    expect(a.received[0]!.from.port).toBe(b.received[0]!.from.port);
    expect(drops).toEqual(['bad-authenticator']);
  });
});
