/**
 * RouterOS API client against the simulator and scripted fake devices, over real loopback
 * sockets on random free ports. Nothing here waits for time to pass: deadlines and idle timers
 * run on a FakeClock, and the order of events comes from the simulator's hooks (hold a
 * command, report a command) and from the client's own log lines.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RouterOsClient, type RouterOsClientOptions, type RouterOsLogger } from '../../../src/mikrotik/client';
import {
  RouterOsAbortError,
  RouterOsClosedError,
  RouterOsConnectionError,
  RouterOsFatalError,
  RouterOsLoginError,
  RouterOsProtocolError,
  RouterOsTimeoutError,
  RouterOsTrapError,
} from '../../../src/mikrotik/errors';
import { createTlsTransport, tlsTransport } from '../../../src/mikrotik/transports';
import {
  RouterOsSimulator,
  startRouterOsSimulator,
  type RouterOsSimulatorOptions,
} from '../../../src/simulate/routeros-simulator';
import { encodeSentence } from '../../../src/mikrotik/protocol';
import { FakeClock } from '../../helpers/clock';
import { acceptLogin, startScriptedDevice, type ScriptedDevice } from './scripted-device';

const USER = { name: 'lango-api', password: 'S3cret-€' };

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: RouterOsSimulatorOptions = {}): Promise<RouterOsSimulator> {
  const sim = await startRouterOsSimulator({ users: [USER], ...options });
  cleanups.push(() => sim.close());
  return sim;
}

function client(port: number, options: Partial<RouterOsClientOptions> = {}): RouterOsClient {
  const c = new RouterOsClient({
    host: '127.0.0.1',
    port,
    username: USER.name,
    password: USER.password,
    connectTimeoutMs: 2_000,
    commandTimeoutMs: 2_000,
    ...options,
  });
  cleanups.push(() => c.close());
  return c;
}

async function scripted(...args: Parameters<typeof startScriptedDevice>): Promise<ScriptedDevice> {
  const device = await startScriptedDevice(...args);
  cleanups.push(() => device.close());
  return device;
}

/** A client logger that tells when a given message has been logged. */
function watchedLogger(): { logger: RouterOsLogger; next(msg: string): Promise<void> } {
  const waiters: Array<{ msg: string; resolve: () => void }> = [];
  const seen = (_obj: object, msg: string): void => {
    const i = waiters.findIndex((w) => w.msg === msg);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve();
  };
  return {
    logger: { debug: seen, info: seen, warn: seen },
    next: (msg) => new Promise((resolve) => waiters.push({ msg, resolve })),
  };
}

/** Whether `promise` has settled once the microtasks and I/O callbacks queued so far have run. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** A promise and its resolver, for scripted devices that report what they received. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('login', () => {
  it('logs in with the 6.43+ plaintext method', async () => {
    const sim = await simulator();
    const c = client(sim.port);
    await c.connect();
    expect(sim.stats.logins).toBe(1);
    expect(await c.command(['/system/identity/print'])).toEqual([{ name: 'MikroTik' }]);
  });

  it('rejects a wrong password with a typed login error', async () => {
    const sim = await simulator();
    const err = await rejection(client(sim.port, { password: 'wrong' }).connect());
    expect(err).toBeInstanceOf(RouterOsLoginError);
    expect(err).toBeInstanceOf(RouterOsTrapError);
    expect((err as RouterOsLoginError).code).toBe('ROUTEROS_LOGIN_FAILED');
    expect(sim.stats.logins).toBe(0);
  });

  it('a command on a client with bad credentials fails with the login error, not a hang', async () => {
    const sim = await simulator();
    const err = await rejection(client(sim.port, { username: 'nobody' }).command(['/system/identity/print']));
    expect((err as RouterOsLoginError).code).toBe('ROUTEROS_LOGIN_FAILED');
  });

  it('answers a pre-6.43 challenge with the MD5 response (win1252 password)', async () => {
    const sim = await simulator({ legacyLogin: true });
    const c = client(sim.port);
    await c.connect();
    expect(sim.stats.logins).toBe(1);
    const bad = await rejection(client(sim.port, { password: 'S3cret-E' }).connect());
    expect(bad).toBeInstanceOf(RouterOsLoginError);
  });

  it('treats a malformed challenge as a protocol error', async () => {
    const device = await scripted((conn, words, tag) => {
      if (words[0] === '/login') conn.send(['!done', '=ret=not-hex', `.tag=${tag}`]);
    });
    const err = await rejection(client(device.port).connect());
    expect(err).toBeInstanceOf(RouterOsProtocolError);
    expect((err as RouterOsProtocolError).reason).toBe('BAD_LOGIN_CHALLENGE');
  });

  it('refused TCP connections give a connection error', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await rejection(client(port).connect());
    expect(err).toBeInstanceOf(RouterOsConnectionError);
  });

  it('a device that accepts TCP but never answers hits the connect timeout', async () => {
    const clock = new FakeClock();
    const login = signal();
    const device = await scripted((_conn, words) => {
      if (words[0] === '/login') login.resolve(); // and never answer
    });
    const connecting = rejection(client(device.port, { connectTimeoutMs: 150, clock }).connect());
    await login.promise;
    await clock.advance(149);
    expect(await hasSettled(connecting)).toBe(false);
    await clock.advance(1);
    const err = await connecting;
    expect(err).toBeInstanceOf(RouterOsTimeoutError);
    expect((err as RouterOsTimeoutError).phase).toBe('connect');
    expect((err as RouterOsTimeoutError).timeoutMs).toBe(150);
  });

  it('api-ssl: logs in over TLS to a router whose certificate is trusted, refuses an untrusted one', async () => {
    const fixtures = path.resolve(__dirname, '../../fixtures/routeros-tls');
    const cert = readFileSync(path.join(fixtures, 'cert.pem'));
    const sim = await simulator({ tls: { key: readFileSync(path.join(fixtures, 'key.pem')), cert } });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10' });
    const trusted = client(sim.port, { transport: createTlsTransport({ ca: cert }) });
    expect(await trusted.listActiveSessions('hotspot')).toEqual([expect.objectContaining({ user: 'alice' })]);
    expect(sim.stats.logins).toBe(1);
    // The host's own store does not know this self-signed certificate.
    const err = await rejection(client(sim.port, { transport: tlsTransport }).connect());
    expect(err).toBeInstanceOf(RouterOsConnectionError);
    expect(sim.stats.logins).toBe(1);
  });
});

describe('listing sessions', () => {
  it('returns typed hotspot rows and filters on the router', async () => {
    const sim = await simulator();
    const alice = sim.addActive('hotspot', {
      user: '0712345678',
      address: '10.5.50.10',
      macAddress: 'aa:bb:cc:dd:ee:01',
      uptimeSeconds: 3723,
      bytesIn: 1000,
      bytesOut: 2000,
    });
    sim.addActive('hotspot', { user: 'bob', address: '10.5.50.11', macAddress: 'AA:BB:CC:DD:EE:02' });
    const c = client(sim.port);

    const all = await c.listActiveSessions('hotspot');
    expect(all).toHaveLength(2);
    const [first] = await c.listActiveSessions('hotspot', { user: '0712345678' });
    expect(first).toEqual({
      id: alice,
      user: '0712345678',
      address: '10.5.50.10',
      macAddress: 'AA:BB:CC:DD:EE:01',
      uptime: expect.any(Number),
      bytesIn: 1000,
      bytesOut: 2000,
    });
    expect(first?.uptime).toBeGreaterThanOrEqual(3723);
    expect(await c.listActiveSessions('hotspot', { macAddress: 'aa:bb:cc:dd:ee:02' })).toEqual([
      expect.objectContaining({ user: 'bob' }),
    ]);
    expect(await c.listActiveSessions('hotspot', { user: 'nobody' })).toEqual([]);
  });

  it('returns PPP rows (name -> user, caller-id -> macAddress, session-id)', async () => {
    const sim = await simulator();
    const id = sim.addActive('ppp', {
      user: 'pppoe-client',
      address: '100.64.0.9',
      macAddress: '00:11:22:33:44:55',
      sessionId: '0x81500004',
    });
    const rows = await client(sim.port).listActiveSessions('ppp', { user: 'pppoe-client' });
    expect(rows).toEqual([
      {
        id,
        user: 'pppoe-client',
        address: '100.64.0.9',
        macAddress: '00:11:22:33:44:55',
        uptime: expect.any(Number),
        sessionId: '0x81500004',
      },
    ]);
  });

  it('raw command() honours .proplist and ?queries including ?# operations', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'a', address: '10.0.0.1' });
    sim.addActive('hotspot', { user: 'b', address: '10.0.0.2' });
    sim.addActive('hotspot', { user: 'c', address: '10.0.0.3' });
    const c = client(sim.port);
    const rows = await c.command([
      '/ip/hotspot/active/print',
      '=.proplist=user,address',
      '?user=a',
      '?user=c',
      '?#|',
    ]);
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { user: 'a', address: '10.0.0.1' },
      { user: 'c', address: '10.0.0.3' },
    ]);
  });

  it('keeps non-ASCII (win1252) user names intact end to end', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'José€', address: '10.0.0.7' });
    const c = client(sim.port);
    expect((await c.listActiveSessions('hotspot', { user: 'José€' }))[0]?.user).toBe('José€');
  });

  it('RouterOS 7.18 mode: an empty print answers !empty + !done and resolves to []', async () => {
    const sim = await simulator({ emptyReplies: true });
    const c = client(sim.port);
    expect(await c.listActiveSessions('hotspot')).toEqual([]);
    expect(await c.listActiveSessions('ppp', { user: 'x' })).toEqual([]);
    expect(await c.command(['/ppp/active/print'])).toEqual([]);
    // the connection is still healthy afterwards
    sim.addActive('ppp', { user: 'x' });
    expect(await c.listActiveSessions('ppp', { user: 'x' })).toHaveLength(1);
    expect(sim.stats.connections).toBe(1);
  });

  it('rejects rows that break the contract (bad .id) with a protocol error', async () => {
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      conn.send(['!re', '=.id=not-an-id', '=user=x', `.tag=${tag}`]);
      conn.send(['!done', `.tag=${tag}`]);
    });
    const err = await rejection(client(device.port).listActiveSessions('hotspot'));
    expect((err as RouterOsProtocolError).reason).toBe('INVALID_ROW');
  });
});

describe('kicking', () => {
  it('kicks by user and reports how many were removed', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10' });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.12' });
    sim.addActive('hotspot', { user: 'bob', address: '10.5.50.11' });
    const c = client(sim.port);
    expect(await c.kickSessions({ kind: 'hotspot', user: 'alice' })).toBe(2);
    expect(sim.listActive('hotspot').map((r) => r.user)).toEqual(['bob']);
  });

  it('kicks by user and address together (CoA fallback)', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.10' });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.12' });
    const c = client(sim.port);
    expect(await c.kickSessions({ kind: 'hotspot', user: 'alice', address: '10.5.50.12' })).toBe(1);
    expect(sim.listActive('hotspot').map((r) => r.address)).toEqual(['10.5.50.10']);
  });

  it('kicks a PPP session by session id', async () => {
    const sim = await simulator();
    sim.addActive('ppp', { user: 'p1', sessionId: '0x81500001' });
    sim.addActive('ppp', { user: 'p1', sessionId: '0x81500002' });
    const c = client(sim.port);
    expect(await c.kickSessions({ kind: 'ppp', sessionId: '0x81500002' })).toBe(1);
    expect(sim.listActive('ppp').map((r) => r['session-id'])).toEqual(['0x81500001']);
  });

  it('kicking an unknown user removes nothing and is not an error (also in 7.18 mode)', async () => {
    const sim = await simulator({ emptyReplies: true });
    sim.addActive('hotspot', { user: 'alice' });
    const c = client(sim.port);
    expect(await c.kickSessions({ kind: 'hotspot', user: 'ghost' })).toBe(0);
    expect(sim.listActive('hotspot')).toHaveLength(1);
  });

  it('refuses to kick without any criterion', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'alice' });
    const c = client(sim.port);
    await expect(c.kickSessions({ kind: 'hotspot' })).rejects.toThrow(TypeError);
    await expect(c.kickSessions({ kind: 'hotspot', user: '' })).rejects.toThrow(TypeError);
    expect(sim.listActive('hotspot')).toHaveLength(1);
  });

  it('a session that vanished between print and remove is not counted', async () => {
    const sim = await simulator();
    const id = sim.addActive('hotspot', { user: 'alice' });
    sim.addActive('hotspot', { user: 'alice', address: '10.5.50.13' });
    const c = client(sim.port);
    const remove = sim.hold((cmd) => cmd.command === '/ip/hotspot/active/remove' && cmd.attrs['.id'] === id);
    const kick = c.kickSessions({ kind: 'hotspot', user: 'alice' });
    expect((await remove.arrived).attrs['.id']).toBe(id);
    expect(sim.removeActive('hotspot', id)).toBe(true); // logged out on its own meanwhile
    remove.release();
    expect(await kick).toBe(1); // only the other one was still there to remove
    expect(sim.listActive('hotspot')).toEqual([]);
  });

  it('removing an unknown .id is a trap with the router message', async () => {
    const sim = await simulator();
    const err = await rejection(client(sim.port).command(['/ip/hotspot/active/remove', '=.id=*FFFF']));
    expect(err).toBeInstanceOf(RouterOsTrapError);
    expect((err as RouterOsTrapError).routerMessage).toBe('no such item');
  });

  it('unknown commands are traps with a category', async () => {
    const sim = await simulator();
    const err = await rejection(client(sim.port).command(['/no/such/thing']));
    expect(err).toBeInstanceOf(RouterOsTrapError);
    expect((err as RouterOsTrapError).category).toBe(0);
  });
});

describe('connection life cycle', () => {
  it('reconnects transparently after the router closed an idle connection', async () => {
    const routerClock = new FakeClock();
    const sim = await simulator({ idleTimeoutMs: 100, clock: routerClock });
    sim.addActive('hotspot', { user: 'alice' });
    const log = watchedLogger();
    const c = client(sim.port, { logger: log.logger });
    expect(await c.listActiveSessions('hotspot')).toHaveLength(1);
    const noticed = log.next('routeros connection closed');
    await routerClock.advance(99);
    expect(sim.openConnections).toBe(1);
    await routerClock.advance(1);
    expect(sim.openConnections).toBe(0);
    await noticed;
    expect(await c.listActiveSessions('hotspot')).toHaveLength(1);
    expect(sim.stats.connections).toBe(2);
    expect(sim.stats.logins).toBe(2);
  });

  it('reconnects after the router dropped every connection', async () => {
    const sim = await simulator();
    const log = watchedLogger();
    const c = client(sim.port, { logger: log.logger });
    await c.connect();
    const noticed = log.next('routeros connection closed');
    sim.dropConnections();
    await noticed;
    expect(await c.command(['/system/identity/print'])).toHaveLength(1);
    expect(sim.stats.logins).toBe(2);
  });

  it('retries an idempotent command once when a reused connection dies before any reply', async () => {
    // connection 0 logs in, then dies on the first print (as if the router closed it while
    // idle just as we wrote); connection 1 answers normally
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      if (conn.index === 0) {
        conn.socket.destroy();
        return;
      }
      conn.send(['!re', '=.id=*1', '=user=alice', `.tag=${tag}`]);
      conn.send(['!done', `.tag=${tag}`]);
    });
    const c = client(device.port);
    await c.connect();
    expect(await c.listActiveSessions('hotspot')).toEqual([{ id: '*1', user: 'alice' }]);
    expect(device.connections).toBe(2);
  });

  it('does not retry a non-idempotent command', async () => {
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      conn.socket.destroy();
    });
    const c = client(device.port);
    await c.connect();
    const err = await rejection(c.command(['/ip/hotspot/user/add', '=name=v1']));
    expect(err).toBeInstanceOf(RouterOsConnectionError);
    expect(device.connections).toBe(1);
  });

  it('!fatal rejects pending commands with a typed error; the next command reconnects', async () => {
    const sim = await simulator();
    const c = client(sim.port);
    const err = await rejection(c.command(['/quit']));
    expect(err).toBeInstanceOf(RouterOsFatalError);
    expect((err as RouterOsFatalError).routerMessage).toBe('session terminated on request');
    expect(await c.command(['/system/identity/print'])).toHaveLength(1);
    expect(sim.stats.connections).toBe(2);
  });

  it('a command timeout rejects, cancels on the router and leaves the connection usable', async () => {
    const clock = new FakeClock();
    const sim = await simulator();
    const c = client(sim.port, { clock });
    await c.connect();
    const print = sim.hold('/ppp/active/print');
    const cancel = sim.received('/cancel');
    const pending = rejection(c.command(['/ppp/active/print'], { timeoutMs: 100 }));
    await print.arrived;
    await clock.advance(99);
    expect(await hasSettled(pending)).toBe(false);
    await clock.advance(1);
    const err = await pending;
    expect(err).toBeInstanceOf(RouterOsTimeoutError);
    expect((err as RouterOsTimeoutError).phase).toBe('command');
    // The router got the /cancel for that tag and answered the held print `interrupted`; those
    // late replies come before the next answer on the connection and are absorbed quietly.
    expect((await cancel).attrs.tag).toBeDefined();
    expect(await c.command(['/system/identity/print'])).toHaveLength(1);
    // The router showed signs of life within the probe's grace period: the link stays up.
    await clock.advance(100);
    expect(await c.command(['/system/identity/print'])).toHaveLength(1);
    print.release(); // cancelled: nothing left to answer
    expect(sim.stats.connections).toBe(1);
  });

  it('a command to a device that went silent times out and the next one reconnects', async () => {
    const clock = new FakeClock();
    const silentCommand = signal();
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      if (conn.index === 0) {
        if (words[0] === '/system/identity/print') silentCommand.resolve();
        return; // silent, also to the /cancel
      }
      conn.send(['!done', `.tag=${tag}`]);
    });
    const c = client(device.port, { clock });
    await c.connect();
    const pending = rejection(c.command(['/system/identity/print'], { timeoutMs: 100 }));
    await silentCommand.promise;
    await clock.advance(100);
    expect(await pending).toBeInstanceOf(RouterOsTimeoutError);
    await clock.advance(100); // no answer to the /cancel within the grace period: link declared dead
    expect(await c.command(['/system/identity/print'])).toEqual([]);
    expect(device.connections).toBe(2);
  });

  it('honours an AbortSignal', async () => {
    const sim = await simulator();
    const c = client(sim.port);
    const ac = new AbortController();
    const print = sim.hold('/system/identity/print');
    const pending = c.command(['/system/identity/print'], { signal: ac.signal });
    await print.arrived;
    ac.abort(new Error('shutdown'));
    const err = await rejection(pending);
    expect(err).toBeInstanceOf(RouterOsAbortError);
    expect(((err as RouterOsAbortError).cause as Error).message).toBe('shutdown');
    const already = new AbortController();
    already.abort();
    await expect(c.command(['/system/identity/print'], { signal: already.signal })).rejects.toBeInstanceOf(
      RouterOsAbortError,
    );
  });

  it('close() rejects pending commands and later ones', async () => {
    const sim = await simulator();
    const c = client(sim.port);
    await c.connect();
    const print = sim.hold('/system/identity/print');
    const pending = c.command(['/system/identity/print']);
    await print.arrived;
    await c.close();
    await expect(pending).rejects.toBeInstanceOf(RouterOsClosedError);
    await expect(c.command(['/system/identity/print'])).rejects.toBeInstanceOf(RouterOsClosedError);
  });

  it('idleCloseMs closes our side when nothing is in flight', async () => {
    const clock = new FakeClock();
    const sim = await simulator();
    const c = client(sim.port, { idleCloseMs: 50, clock });
    await c.connect();
    await clock.advance(49);
    expect(sim.openConnections).toBe(1);
    await clock.advance(1);
    await sim.allClosed();
    expect(sim.openConnections).toBe(0);
    expect(await c.command(['/system/identity/print'])).toHaveLength(1);
    expect(sim.stats.connections).toBe(2);
  });
});

describe('tags: several commands in flight', () => {
  it('routes out-of-order replies to the right callers', async () => {
    const sim = await simulator();
    const held = sim.hold('/ppp/active/print');
    sim.addActive('ppp', { user: 'slow' });
    sim.addActive('hotspot', { user: 'fast' });
    const c = client(sim.port);
    await c.connect();
    const order: string[] = [];
    const slow = c.listActiveSessions('ppp').then((r) => {
      order.push('ppp');
      return r;
    });
    const fast = c.listActiveSessions('hotspot').then((r) => {
      order.push('hotspot');
      return r;
    });
    const identity = c.command(['/system/identity/print']).then((r) => {
      order.push('identity');
      return r;
    });
    const [hotspotRows, identityRows] = await Promise.all([fast, identity]);
    await held.arrived;
    expect([...order].sort()).toEqual(['hotspot', 'identity']); // both answered while ppp waits
    held.release();
    const pppRows = await slow;
    expect(order[2]).toBe('ppp');
    expect(pppRows.map((r) => r.user)).toEqual(['slow']);
    expect(hotspotRows.map((r) => r.user)).toEqual(['fast']);
    expect(identityRows).toEqual([{ name: 'MikroTik' }]);
    expect(sim.stats.connections).toBe(1);
  });

  it('runs 50 concurrent commands on one connection, opened once, answered in reverse order', async () => {
    const sim = await simulator();
    const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);
    for (const user of users) sim.addActive('hotspot', { user });
    const holds = users.map((user) => sim.hold((cmd) => cmd.queries.includes(`user=${user}`)));
    const c = client(sim.port);
    const answered: string[] = [];
    const pending = users.map((user) =>
      c.listActiveSessions('hotspot', { user }).then((rows) => {
        answered.push(user);
        return rows;
      }),
    );
    await Promise.all(holds.map((h) => h.arrived));
    for (const hold of [...holds].reverse()) hold.release();
    const results = await Promise.all(pending);
    expect(answered).toEqual([...users].reverse());
    expect(results.map((rows) => rows.map((r) => r.user))).toEqual(users.map((u) => [u]));
    expect(sim.stats.connections).toBe(1);
    expect(sim.stats.logins).toBe(1);
  });
});

describe('untrusted replies', () => {
  it('a server that writes junk rejects the command with a protocol error', async () => {
    const device = await scripted(
      () => undefined,
      (conn) => conn.raw(Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37])),
    );
    const err = await rejection(client(device.port).command(['/system/identity/print']));
    expect(err).toBeInstanceOf(RouterOsProtocolError);
    expect((err as RouterOsProtocolError).reason).toBe('RESERVED_LENGTH_BYTE');
  });

  it.each([
    ['closes after a short answer', false, 'TRUNCATED_SENTENCE'],
    ['keeps talking', true, 'UNKNOWN_REPLY'],
  ] as const)('an HTTP server that %s is a protocol error, not a crash or a hang', async (_name, keepOpen, reason) => {
    const body = 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n';
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('data', () => {
        if (keepOpen) socket.write(body + 'x'.repeat(200));
        else socket.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as net.AddressInfo;
    const err = await rejection(client(port).command(['/system/identity/print']));
    expect(err).toBeInstanceOf(RouterOsProtocolError);
    expect((err as RouterOsProtocolError).reason).toBe(reason);
  });

  it('junk after login rejects every pending command and the process survives', async () => {
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      // the last of the three: all of them are pending now
      if (words[0] === '/system/identity/print') conn.raw(encodeSentence(['!bogus', `.tag=${tag}`]));
    });
    const c = client(device.port);
    await c.connect();
    const pending = [
      c.command(['/ip/hotspot/active/print']),
      c.command(['/ppp/active/print']),
      c.command(['/system/identity/print']),
    ];
    const errors = await Promise.all(pending.map(rejection));
    for (const err of errors) {
      expect(err).toBeInstanceOf(RouterOsProtocolError);
      expect((err as RouterOsProtocolError).reason).toBe('UNKNOWN_REPLY');
    }
  });

  it.each([
    ['an unknown tag', (tag: string | undefined) => ['!done', `.tag=${tag}999`], 'UNKNOWN_TAG'],
    ['a missing tag', () => ['!done'], 'MISSING_TAG'],
    ['a bare word', (tag: string | undefined) => ['!re', 'garbage', `.tag=${tag}`], 'MALFORMED_WORD'],
  ] as const)('a reply with %s is a protocol error', async (_name, reply, reason) => {
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      conn.send([...reply(tag)]);
    });
    const err = await rejection(client(device.port).command(['/system/identity/print']));
    expect((err as RouterOsProtocolError).reason).toBe(reason);
  });

  it('a trap without category and a late !done for an already rejected tag are fine', async () => {
    // Each trap's `!done` is held back and sent just before the next command's answer.
    let lateDone: string | undefined;
    const device = await scripted((conn, words, tag) => {
      if (acceptLogin(conn, words, tag)) return;
      if (lateDone !== undefined) conn.send(['!done', `.tag=${lateDone}`]);
      conn.send(['!trap', '=message=failure: already have such entry', `.tag=${tag}`]);
      lateDone = tag;
    });
    const c = client(device.port);
    const err = await rejection(c.command(['/ip/hotspot/user/add', '=name=v1']));
    expect(err).toBeInstanceOf(RouterOsTrapError);
    expect((err as RouterOsTrapError).category).toBeUndefined();
    expect((err as RouterOsTrapError).routerMessage).toBe('failure: already have such entry');
    await expect(c.command(['/ip/hotspot/user/add', '=name=v2'])).rejects.toBeInstanceOf(RouterOsTrapError);
    await expect(c.command(['/ip/hotspot/user/add', '=name=v3'])).rejects.toBeInstanceOf(RouterOsTrapError);
    expect(device.connections).toBe(1);
  });
});

describe('node-routeros 1.6.9 against the simulator (why we do not wrap it)', () => {
  const script = `
    const { RouterOSAPI } = require('node-routeros');
    const [port, user, password] = process.argv.slice(1);
    process.on('uncaughtException', (e) => {
      console.log(JSON.stringify({ uncaught: e.errno || e.message }));
      process.exit(3);
    });
    const api = new RouterOSAPI({ host: '127.0.0.1', port: Number(port), user, password, timeout: 5 });
    api.connect()
      .then(() => api.write('/ip/hotspot/active/print'))
      .then((rows) => { console.log(JSON.stringify({ rows: rows.length })); return api.close(); })
      .then(() => process.exit(0))
      .catch((e) => { console.log(JSON.stringify({ rejected: e.errno || e.message })); process.exit(2); });
  `;

  function runNodeRouteros(port: number): Promise<{ code: number | null; out: unknown }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['-e', script, String(port), USER.name, USER.password],
        { cwd: path.resolve(__dirname, '../../..'), timeout: 15_000 },
        (error, stdout) => {
          const line = stdout.trim().split('\n').pop() ?? '';
          resolve({ code: error ? (error.code as number | null) : 0, out: line ? JSON.parse(line) : null });
        },
      );
    });
  }

  it('interoperates with the simulator on a print with results', async () => {
    const sim = await simulator();
    sim.addActive('hotspot', { user: 'alice' });
    expect(await runNodeRouteros(sim.port)).toEqual({ code: 0, out: { rows: 1 } });
  });

  it('dies with an uncaught UNKNOWNREPLY on the 7.18 !empty reply (gotcha G3)', async () => {
    const sim = await simulator({ emptyReplies: true });
    expect(await runNodeRouteros(sim.port)).toEqual({ code: 3, out: { uncaught: 'UNKNOWNREPLY' } });
  });
});
