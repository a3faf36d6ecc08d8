/**
 * The FreeRADIUS runner with the project's overlay against a cloned test database, exercised
 * with the independent radtest/radclient client from freeradius-utils.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkFreeRadiusConfig,
  FreeRadiusConfigError,
  FreeRadiusNotInstalledError,
  FreeRadiusOptionsError,
  FreeRadiusStartError,
  resolveFreeRadiusSourceDir,
  startFreeRadius,
  type FreeRadiusHandle,
} from '../../src/freeradius';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { accountingWritten, startTestFreeRadius, TEST_FREERADIUS_STATE_DIR } from '../helpers/freeradius';
import { migrationSource } from '../../db/migrations';

jest.setTimeout(60000);

const SECRET = 'nas-s3cret';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 20000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : -1
        : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** radtest: PAP, NAS-Port 0, one try per 3 s (radclient -r 3 by default... set below). */
function radtest(user: string, password: string, port: number, secret = SECRET): Promise<RunResult> {
  return run('/usr/bin/radtest', [user, password, `127.0.0.1:${port}`, '0', secret]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a UDP socket can bind 127.0.0.1:port right now (it is closed again at once). */
async function canBindUdp(port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

async function seed(t: TestDatabase): Promise<void> {
  await t.db.transaction(async (trx) => {
    const tenant = (await trx.raw(`INSERT INTO tenants (name, slug) VALUES ('Test ISP', 'test-isp') RETURNING id`))
      .rows[0].id as string;
    await trx.raw(
      `INSERT INTO nas (tenant_id, nasname, shortname, secret, approved_at) VALUES (?, '127.0.0.1', 'test-nas', ?, now())`,
      [tenant, SECRET],
    );
    const plan = (
      await trx.raw(
        `INSERT INTO plans (tenant_id, name, groupname, price, duration_seconds, rate_limit)
         VALUES (?, 'Basic', 'plan-basic', 100, 86400, '2M/5M') RETURNING id`,
        [tenant],
      )
    ).rows[0].id as string;
    await trx.raw(
      `INSERT INTO radgroupreply (tenant_id, groupname, attribute, op, value) VALUES
         (?, 'plan-basic', 'Mikrotik-Rate-Limit', ':=', '2M/5M'),
         (?, 'plan-basic', 'Acct-Interim-Interval', ':=', '300')`,
      [tenant, tenant],
    );
    const subscriber = (
      await trx.raw(`INSERT INTO subscribers (tenant_id, username, plan_id) VALUES (?, 'alice', ?) RETURNING id`, [
        tenant,
        plan,
      ])
    ).rows[0].id as string;
    await trx.raw(
      `INSERT INTO radcheck (tenant_id, username, attribute, op, value) VALUES (?, 'alice', 'Cleartext-Password', ':=', 'pw')`,
      [tenant],
    );
    await trx.raw(
      `INSERT INTO radusergroup (tenant_id, username, groupname, priority) VALUES (?, 'alice', 'plan-basic', 1)`,
      [tenant],
    );
    await trx.raw(
      `INSERT INTO subscriptions (tenant_id, subscriber_id, plan_id, plan_name, price, starts_at, ends_at)
       VALUES (?, ?, ?, 'Basic', 100, now() - interval '1 minute', now() + interval '1 day')`,
      [tenant, subscriber, plan],
    );
  });
}

describe('startFreeRadius with the project overlay', () => {
  let t: TestDatabase;
  let radius: FreeRadiusHandle;

  beforeAll(async () => {
    t = await createTestDatabase();
    await seed(t);
    radius = await startTestFreeRadius(t.radiusUrl);
  });

  afterAll(async () => {
    await radius?.stop();
    await t?.drop();
  });

  it('listens on distinct free ports from a private runtime directory', async () => {
    expect(radius.authPort).toBeGreaterThan(0);
    expect(radius.acctPort).toBeGreaterThan(0);
    expect(radius.acctPort).not.toBe(radius.authPort);
    expect(isRunning(radius.pid)).toBe(true);
    expect(path.dirname(radius.dir)).toBe(TEST_FREERADIUS_STATE_DIR);
    expect(path.basename(radius.dir)).toMatch(new RegExp(`^freeradius-${radius.authPort}-`));
    const { statSync, lstatSync, readFileSync } = await import('node:fs');
    expect(statSync(radius.dir).mode & 0o777).toBe(0o700);
    expect(lstatSync(path.join(radius.dir, 'mods-enabled', 'sql')).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(radius.dir, 'clients.conf'), 'utf8')).toContain('ipaddr = 127.0.0.0/8');
    expect(existsSync(path.join(radius.dir, 'var', 'log'))).toBe(true);
    expect(existsSync(path.join(radius.dir, 'var', 'run'))).toBe(true);
    expect(radius.output().some((l) => l.includes('Ready to process requests'))).toBe(true);
  });

  it('answers Access-Accept with the plan replies for the right password', async () => {
    const res = await radtest('alice', 'pw', radius.authPort);
    expect(res.stdout).toContain('Received Access-Accept');
    expect(res.stdout).toContain('Mikrotik-Rate-Limit = "2M/5M"');
    expect(res.stdout).toMatch(/Session-Timeout = \d+/);
    expect(res.stdout).toContain('Acct-Interim-Interval = 300');
    expect(res.code).toBe(0);
  });

  it('answers Access-Reject for a wrong password', async () => {
    const res = await radtest('alice', 'wrong', radius.authPort);
    expect(res.stdout).toContain('Received Access-Reject');
    expect(res.stdout).not.toContain('Mikrotik-Rate-Limit');
  });

  it('answers accounting on the acct port', async () => {
    const res = await run(
      '/usr/bin/radclient',
      ['-x', '-r', '1', '-t', '3', `127.0.0.1:${radius.acctPort}`, 'acct', SECRET],
      'User-Name = "alice"\nAcct-Status-Type = Start\nAcct-Session-Id = "s-1"\nNAS-IP-Address = 127.0.0.1\n',
    );
    expect(res.stdout).toContain('Received Accounting-Response');
    // Answered from the spool; the reader writes it to radacct (docs/accounting-spool.md).
    await accountingWritten(radius);
    const rows = await t.db('radacct').where({ acctsessionid: 's-1' }).select('username', 'acctstoptime');
    expect(rows).toEqual([{ username: 'alice', acctstoptime: null }]);
  });

  it('answers the readiness probe on a loopback Status-Server socket that no NAS secret opens', async () => {
    await expect(radius.probe()).resolves.toBeUndefined();
    expect(new Set([radius.authPort, radius.acctPort, radius.statusPort]).size).toBe(3);
    // 127.0.0.1 is a NAS (a dynamic client) with SECRET; on the probe's socket it gets nothing,
    // neither for Status-Server nor for an Access-Request.
    const status = await run(
      '/usr/bin/radclient',
      ['-x', '-r', '1', '-t', '1', `127.0.0.1:${radius.statusPort}`, 'status', SECRET],
      'Message-Authenticator = 0x00\n',
    );
    expect(status.stdout).not.toContain('Received');
    const auth = await run(
      '/usr/bin/radclient',
      ['-x', '-r', '1', '-t', '1', `127.0.0.1:${radius.statusPort}`, 'auth', SECRET],
      'User-Name = "alice"\nUser-Password = "pw"\n',
    );
    expect(auth.stdout).not.toContain('Received');
    // The NAS still authenticates on the auth port.
    expect((await radtest('alice', 'pw', radius.authPort)).stdout).toContain('Received Access-Accept');
  });

  it('keeps a bounded, redacted output buffer', () => {
    const out = radius.output();
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThanOrEqual(1000);
  });
});

describe('stop()', () => {
  it('ends the process, frees the ports and removes the runtime directory', async () => {
    const t = await createTestDatabase();
    try {
      const radius = await startTestFreeRadius(t.radiusUrl);
      const { pid, dir, authPort, acctPort, statusPort } = radius;
      await Promise.all([radius.stop(), radius.stop()]);
      // SIGTERM was enough: a clean exit, not the SIGKILL that follows after 5 s.
      expect(await radius.exited).toEqual({ code: 0, signal: null });
      expect(isRunning(pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
      // Every port it held can be bound again.
      for (const port of [authPort, acctPort, statusPort]) expect(await canBindUdp(port)).toBe(true);
      await radius.stop(); // idempotent
      // The same fixed ports can be used again at once.
      const again = await startTestFreeRadius(t.radiusUrl, { authPort, acctPort });
      expect(again.authPort).toBe(authPort);
      await again.stop();
      expect(isRunning(again.pid)).toBe(false);
    } finally {
      await t.drop();
    }
  });
});

describe('a FreeRADIUS that dies', () => {
  it('resolves exited with the signal, and probe() fails', async () => {
    const t = await createTestDatabase();
    try {
      const radius = await startTestFreeRadius(t.url);
      try {
        await radius.probe();
        process.kill(radius.pid, 'SIGKILL');
        expect(await radius.exited).toEqual({ code: null, signal: 'SIGKILL' });
        await expect(radius.probe({ timeoutMs: 300 })).rejects.toThrow();
      } finally {
        await radius.stop();
      }
      expect(existsSync(radius.dir)).toBe(false);
    } finally {
      await t.drop();
    }
  });
});

describe('listenAddress "*"', () => {
  it('listens on every IPv4 address', async () => {
    const t = await createTestDatabase();
    try {
      await seed(t);
      const radius = await startTestFreeRadius(t.radiusUrl, { listenAddress: '*' });
      try {
        const res = await radtest('alice', 'pw', radius.authPort);
        expect(res.stdout).toContain('Received Access-Accept');
      } finally {
        await radius.stop();
      }
    } finally {
      await t.drop();
    }
  });
});

describe('createTestDatabase', () => {
  it('clones the migrated template several times in parallel, and drop() removes the database', async () => {
    const dbs = await Promise.all([1, 2, 3, 4].map(() => createTestDatabase()));
    try {
      expect(new Set(dbs.map((d) => d.name)).size).toBe(4);
      for (const d of dbs) {
        const { rows } = await d.db.raw(`SELECT count(*)::int AS n FROM lango_migrations`);
        expect(rows[0].n).toBe((await migrationSource.getMigrations([])).length);
      }
    } finally {
      await Promise.all(dbs.map((d) => d.drop()));
    }
    const admin = await createTestDatabase();
    try {
      const { rows } = await admin.db.raw('SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY(?)', [
        dbs.map((d) => d.name),
      ]);
      expect(rows[0].n).toBe(0);
    } finally {
      await admin.drop();
    }
  });
});

describe('failures', () => {
  const stateDir = TEST_FREERADIUS_STATE_DIR;

  async function runtimeDirs(): Promise<string[]> {
    // Runtime directories only: the accounting spool beside them is kept on purpose.
    return existsSync(stateDir) ? (await readdir(stateDir)).filter((n) => n.startsWith('freeradius-')) : [];
  }

  it('a missing binary gives FreeRadiusNotInstalledError with the install command', async () => {
    const before = await runtimeDirs();
    const err = await startFreeRadius({
      databaseUrl: 'postgres://u:p@127.0.0.1:5432/d',
      authPort: 0,
      acctPort: 0,
      stateDir,
      binary: path.join(os.tmpdir(), 'no-such-dir', 'freeradius'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FreeRadiusNotInstalledError);
    expect((err as Error).message).toContain(
      'install with apt-get install -y freeradius freeradius-postgresql freeradius-utils',
    );
    expect(await runtimeDirs()).toEqual(before);
  });

  it('refuses a /32 client network before starting anything', async () => {
    await expect(
      startFreeRadius({ databaseUrl: 'postgres://h/d', stateDir, clientNetworks: ['127.0.0.1/32'] }),
    ).rejects.toThrow(FreeRadiusOptionsError);
  });

  it('a port already in use gives FreeRadiusStartError with the last lines of output', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
    const port = blocker.address().port;
    const t = await createTestDatabase();
    try {
      const before = await runtimeDirs();
      const err = await startTestFreeRadius(t.radiusUrl, { authPort: port }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FreeRadiusStartError);
      const e = err as FreeRadiusStartError;
      expect(e.message).toMatch(/exited before it was ready/);
      expect(e.output.length).toBeGreaterThan(0);
      expect(e.output.length).toBeLessThanOrEqual(40);
      expect(e.output.join('\n')).toMatch(
        new RegExp(`Failed binding to auth address 127\\.0\\.0\\.1 port ${port}.*Address already in use`),
      );
      expect(await runtimeDirs()).toEqual(before);
    } finally {
      blocker.close();
      await t.drop();
    }
  });

  it('starts while the database is unreachable (pool.start = 0) and never prints the DB password', async () => {
    // An outage must not keep FreeRADIUS down: it comes up, and SQL is retried per request.
    const r = await startTestFreeRadius('postgres://lango:Hunter2-pw@127.0.0.1:1/nodb', { debug: true });
    try {
      const out = r.output().join('\n');
      expect(out).toContain('Ready to process requests');
      // -X prints the conninfo; the password must not reach the kept output.
      expect(out).not.toContain('Hunter2-pw');
    } finally {
      await r.stop();
    }
  });

  it('checkFreeRadiusConfig accepts the overlay and rejects a broken copy', async () => {
    // -XC does not connect to the database.
    const ok = await checkFreeRadiusConfig({
      databaseUrl: 'postgres://u:p@127.0.0.1:1/d',
      authPort: 0,
      acctPort: 0,
      stateDir,
    });
    expect(ok.output.join('\n')).toContain('Configuration appears to be OK');

    const { cp, appendFile, mkdtemp, rm } = await import('node:fs/promises');
    const broken = await mkdtemp(path.join(os.tmpdir(), 'lango-broken-raddb-'));
    try {
      await cp(resolveFreeRadiusSourceDir(), broken, { recursive: true, verbatimSymlinks: true });
      await appendFile(
        path.join(broken, 'policy.d', 'lango-authorize'),
        '\nlango_broken {\n\tif (&reply:Nope-Such-Attribute) {\n',
      );
      const err = await checkFreeRadiusConfig({
        databaseUrl: 'postgres://u:p@127.0.0.1:1/d',
        authPort: 0,
        acctPort: 0,
        stateDir,
        sourceDir: broken,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FreeRadiusConfigError);
      expect((err as FreeRadiusConfigError).exitCode).not.toBe(0);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
