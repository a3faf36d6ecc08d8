/**
 * The fallback kick against the RouterOS simulator, over real loopback sockets: the right
 * session goes, the others stay, errors are typed, and RouterOS 7.18's `!empty` replies are
 * handled. Ordering comes from the simulator's hooks, never from sleeping.
 */
import { routerOsKick, type RouterOsTarget } from '../../../src/mikrotik/fallback';
import { RouterOsAbortError, RouterOsConnectionError, RouterOsLoginError } from '../../../src/mikrotik/errors';
import { startRouterOsSimulator, type RouterOsSimulator, type RouterOsSimulatorOptions } from '../../../src/simulate/routeros-simulator';

const USER = { name: 'lango-api', password: 'S3cret-€' };

const sims: RouterOsSimulator[] = [];
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close();
});

async function simulator(options: RouterOsSimulatorOptions = {}): Promise<RouterOsSimulator> {
  const sim = await startRouterOsSimulator({ users: [USER], ...options });
  sims.push(sim);
  return sim;
}

function target(sim: RouterOsSimulator, overrides: Partial<RouterOsTarget> = {}): RouterOsTarget {
  return { address: '127.0.0.1', apiPort: sim.port, apiUsername: USER.name, apiPassword: USER.password, ...overrides };
}

const users = (rows: Record<string, string>[], key: string) => rows.map((r) => `${r[key]}@${r.address ?? '-'}`).sort();

describe.each([
  ['RouterOS before 7.18', false],
  ['RouterOS 7.18 (!empty replies)', true],
])('routerOsKick, %s', (_label, emptyReplies) => {
  it('kicks the hotspot session of that user at that address and no other', async () => {
    const sim = await simulator({ emptyReplies });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10', macAddress: 'aa:bb:cc:00:00:01' });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.11', macAddress: 'aa:bb:cc:00:00:02' });
    sim.addActive('hotspot', { user: 'bob', address: '10.5.50.12' });
    sim.addActive('ppp', { user: 'alice', address: '10.10.0.9' });

    const result = await routerOsKick(target(sim), { username: 'alice', framedIp: '10.5.50.11', acctSessionId: '80000007' });

    expect(result).toEqual({ removed: 1, kind: 'hotspot' });
    expect(users(sim.listActive('hotspot'), 'user')).toEqual(['alice@10.5.50.10', 'bob@10.5.50.12']);
    expect(users(sim.listActive('ppp'), 'name')).toEqual(['alice@10.10.0.9']);
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
  });

  it('falls through to PPP and prefers the row whose session-id is the Acct-Session-Id', async () => {
    const sim = await simulator({ emptyReplies });
    sim.addActive('ppp', { user: 'carol', address: '10.10.0.5', sessionId: '0x81A00001' });
    sim.addActive('ppp', { user: 'carol', address: '10.10.0.6', sessionId: '0x81A00002' });
    sim.addActive('ppp', { user: 'dave', address: '10.10.0.7', sessionId: '0x81A00003' });

    const result = await routerOsKick(target(sim), { username: 'carol', framedIp: null, acctSessionId: '81a00002' });

    expect(result).toEqual({ removed: 1, kind: 'ppp' });
    expect(users(sim.listActive('ppp'), 'name')).toEqual(['carol@10.10.0.5', 'dave@10.10.0.7']);
  });

  it('without a framed IP or a session-id match, ends every session of that user in the first list that has one', async () => {
    const sim = await simulator({ emptyReplies });
    sim.addActive('ppp', { user: 'erin', address: '10.10.0.5' });
    sim.addActive('ppp', { user: 'erin', address: '10.10.0.6' });
    sim.addActive('ppp', { user: 'frank', address: '10.10.0.7' });

    expect(await routerOsKick(target(sim), { username: 'erin', framedIp: null, acctSessionId: 'no-such-id' })).toEqual({ removed: 2, kind: 'ppp' });
    expect(users(sim.listActive('ppp'), 'name')).toEqual(['frank@10.10.0.7']);
  });

  it('finds nothing: removed 0, kind null, nothing touched', async () => {
    const sim = await simulator({ emptyReplies });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10' });
    sim.addActive('ppp', { user: 'bob', address: '10.10.0.5' });

    // same user, other address; and a user that is not on the router at all
    expect(await routerOsKick(target(sim), { username: 'alice', framedIp: '10.5.50.99', acctSessionId: 'x' })).toEqual({ removed: 0, kind: null });
    expect(await routerOsKick(target(sim), { username: 'zed', framedIp: null, acctSessionId: 'x' })).toEqual({ removed: 0, kind: null });
    // kinds limits where it looks
    expect(await routerOsKick(target(sim), { username: 'alice', framedIp: null, acctSessionId: 'x' }, { kinds: ['ppp'] })).toEqual({ removed: 0, kind: null });
    expect(sim.listActive('hotspot')).toHaveLength(1);
    expect(sim.listActive('ppp')).toHaveLength(1);
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
  });

  it('a session that logged out between the print and the remove is not counted, and is no error', async () => {
    const sim = await simulator({ emptyReplies });
    const id = sim.addActive('hotspot', { user: 'gina', address: '10.5.50.30' });
    const remove = sim.hold('/ip/hotspot/active/remove');
    const kick = routerOsKick(target(sim), { username: 'gina', framedIp: '10.5.50.30', acctSessionId: 'x' });
    expect((await remove.arrived).attrs['.id']).toBe(id);
    expect(sim.removeActive('hotspot', id)).toBe(true);
    remove.release();
    expect(await kick).toEqual({ removed: 0, kind: 'hotspot' });
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
  });

  it('removes several matching sessions on one connection and closes it', async () => {
    const sim = await simulator({ emptyReplies });
    for (const address of ['10.5.50.40', '10.5.50.40', '10.5.50.40']) sim.addActive('hotspot', { user: 'hal', address });
    sim.addActive('hotspot', { user: 'hal', address: '10.5.50.41' });
    expect(await routerOsKick(target(sim), { username: 'hal', framedIp: '10.5.50.40', acctSessionId: '' })).toEqual({ removed: 3, kind: 'hotspot' });
    expect(users(sim.listActive('hotspot'), 'user')).toEqual(['hal@10.5.50.41']);
    expect(sim.stats.connections).toBe(1);
    expect(sim.stats.logins).toBe(1);
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
  });
});

describe('routerOsKick errors', () => {
  it('a wrong password is a typed login error, and the connection is closed', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10' });
    const kick = routerOsKick(target(sim, { apiPassword: 'wrong' }), { username: 'alice', framedIp: '10.5.50.10', acctSessionId: 'x' });
    await expect(kick).rejects.toBeInstanceOf(RouterOsLoginError);
    await expect(kick).rejects.toMatchObject({ code: 'ROUTEROS_LOGIN_FAILED' });
    expect(sim.listActive('hotspot')).toHaveLength(1);
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
  });

  it('an unreachable router is a typed connection error', async () => {
    const sim = await simulator();
    const port = sim.port;
    await sim.close();
    sims.splice(sims.indexOf(sim), 1);
    await expect(
      routerOsKick({ address: '127.0.0.1', apiPort: port, apiUsername: USER.name, apiPassword: USER.password }, { username: 'a', framedIp: null, acctSessionId: 'x' }),
    ).rejects.toBeInstanceOf(RouterOsConnectionError);
  });

  it('an aborted signal stops it with a typed abort error', async () => {
    const sim = await simulator();
    const controller = new AbortController();
    controller.abort(new Error('enforcement deadline'));
    await expect(
      routerOsKick(target(sim), { username: 'alice', framedIp: null, acctSessionId: 'x' }, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(RouterOsAbortError);
  });

  it('refuses arguments that could match the wrong sessions', async () => {
    const sim = await simulator();
    await expect(routerOsKick(target(sim), { username: '', framedIp: null, acctSessionId: 'x' })).rejects.toThrow(TypeError);
    await expect(routerOsKick(target(sim), { username: 'a', framedIp: 'not-an-ip', acctSessionId: 'x' })).rejects.toThrow(TypeError);
    await expect(routerOsKick(target(sim), { username: 'a', framedIp: null, acctSessionId: 'x' }, { kinds: [] })).rejects.toThrow(TypeError);
    await expect(routerOsKick(target(sim, { apiUsername: '' }), { username: 'a', framedIp: null, acctSessionId: 'x' })).rejects.toThrow(TypeError);
    expect(sim.stats.connections).toBe(0);
  });
});
