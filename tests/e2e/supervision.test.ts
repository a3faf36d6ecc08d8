/**
 * Supervision and readiness of what `lango up` runs beside itself: FreeRADIUS and the embedded
 * PostgreSQL are SIGKILLed under bringUp(); /ready answers 503 naming what is down, the process
 * comes back by itself, /ready is 200 again and the service works. `lango radius` (the real
 * command) instead exits non-zero when its FreeRADIUS dies, for systemd or compose to restart it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bringUp, DEMO, type Stack } from '../../src/stack';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { freeTcpPort } from '../helpers/ports';
import { parseReply } from '../helpers/radclient';
import { eventually } from '../helpers/wait';
import { json, REPO_ROOT, removeStateDir, sh } from '../helpers/lango-up';

jest.setTimeout(120000);

function capturingLogger() {
  const entries: Array<Record<string, any>> = [];
  const logger = createLogger('info', { write: (line: string) => void entries.push(JSON.parse(line)) });
  return { logger, entries };
}

async function ready(stack: Stack) {
  const res = await fetch(`${stack.apiUrl}/ready`);
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * SIGKILL `pid`, then wait for /ready's 503 naming `what` (the supervisor restarts after a
 * delay; while a dying postmaster takes the database away, one answer may name only the
 * heartbeat query that failed first).
 */
async function killAndSeeNotReady(stack: Stack, pid: number, what: string) {
  process.kill(pid, 'SIGKILL');
  const down = await eventually(async () => {
    const r = await ready(stack);
    return r.status === 503 && (r.body.error?.details?.down ?? []).includes(what) && r;
  }, `/ready to answer 503 naming ${what}`);
  expect(down.body.error.code).toBe('NOT_READY');
  return down.body.error;
}

const demoRadtest = async (stack: Stack) =>
  parseReply(
    await sh('radtest', [DEMO.username, DEMO.password, `127.0.0.1:${stack.radius.authPort}`, '0', DEMO.nasSecret]),
  ).code;

function baseEnv(stateDir: string): Record<string, string> {
  return {
    LANGO_ENV: 'development',
    LANGO_STATE_DIR: stateDir,
    LANGO_API_PORT: '0',
    LANGO_RADIUS_AUTH_PORT: '0',
    LANGO_RADIUS_ACCT_PORT: '0',
    LANGO_RADIUS_CLIENT_LIFETIME: '1',
    LANGO_WORKER_SWEEP_SECONDS: '3600',
  };
}

describe('FreeRADIUS under lango up', () => {
  let tdb: TestDatabase;
  let stateDir: string;
  let stack: Stack;
  const { logger, entries } = capturingLogger();

  beforeAll(async () => {
    tdb = await createTestDatabase();
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'lango-supervise-radius-'));
    stack = (await bringUp(loadConfig({ ...baseEnv(stateDir), DATABASE_URL: tdb.url }), logger, () => undefined))!;
  });
  afterAll(async () => {
    await stack?.stop();
    await tdb?.drop();
    removeStateDir(stateDir);
  });

  it('is restarted when killed: /ready is 503 naming radius meanwhile, then 200, and logins work again', async () => {
    expect(await ready(stack)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { database: 'up', worker: 'up', radius: 'up' } },
    });
    expect(await demoRadtest(stack)).toBe('Access-Accept');

    const pid = stack.pids().freeradius!;
    const down = await killAndSeeNotReady(stack, pid, 'radius');
    expect(down.details).toEqual({
      checks: { database: 'up', worker: 'up', radius: 'down' },
      down: ['radius'],
      reasons: {},
    });

    await eventually(async () => (await ready(stack)).status === 200, '/ready to answer 200 again', 60000);
    const again = stack.pids().freeradius!;
    expect(again).not.toBe(pid);
    // Same ports as before (NAS are configured with them), answering logins again.
    expect(await demoRadtest(stack)).toBe('Access-Accept');

    const exit = entries.find((e) => e.msg === 'supervised process exited unexpectedly; restarting');
    expect(exit).toMatchObject({ process: 'FreeRADIUS', pid, signal: 'SIGKILL', code: null });
    expect(exit!.lastLines.join('\n')).toContain('Ready to process requests');
    expect(entries.some((e) => e.msg === 'supervised process restarted' && e.pid === again)).toBe(true);
  });
});

describe('the embedded PostgreSQL under lango up', () => {
  let stateDir: string;
  let stack: Stack;

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'lango-supervise-pg-'));
    const env = { ...baseEnv(stateDir), LANGO_EMBEDDED_PG_PORT: String(await freeTcpPort()) };
    stack = (await bringUp(loadConfig(env), capturingLogger().logger, () => undefined))!;
  });
  afterAll(async () => {
    await stack?.stop();
    removeStateDir(stateDir);
  });

  it('is restarted when its postmaster is killed: /ready is 503 naming the database, then the API answers again', async () => {
    const api = `${stack.apiUrl}/api/v1`;
    const token = (
      await json(`${api}/auth/login`, {
        email: stack.credentials.adminEmail,
        password: stack.credentials.adminPassword,
      })
    ).body.token;
    expect((await json(`${api}/tenants`, undefined, token)).status).toBe(200);

    const pid = stack.pids().postgres!;
    const down = await killAndSeeNotReady(stack, pid, 'database');
    expect(down.details.down).toContain('database');

    await eventually(async () => (await ready(stack)).status === 200, '/ready to answer 200 again', 90000);
    expect(stack.pids().postgres).not.toBe(pid);
    const list = await json(`${api}/tenants`, undefined, token);
    expect(list.status).toBe(200);
    expect(list.body.data.map((t: { slug: string }) => t.slug)).toContain('demo');
    // FreeRADIUS reconnects to the restarted database by itself.
    await eventually(async () => (await demoRadtest(stack)) === 'Access-Accept', 'an Access-Accept after the restart');
  });
});

describe('lango radius', () => {
  let tdb: TestDatabase;
  let stateDir: string;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'lango-radius-cli-'));
  });
  afterAll(async () => {
    await tdb?.drop();
    removeStateDir(stateDir);
  });

  /** Spawns `bin/lango radius`, resolves with the child and FreeRADIUS's pid once it runs. */
  function radius() {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/lango'), 'radius'], {
      env: { ...process.env, ...baseEnv(stateDir), DATABASE_URL: tdb.url, LANGO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const running = new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /FreeRADIUS running \(pid (\d+)\)/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      void exited.then((code) => reject(new Error(`lango radius exited with ${code}: ${stdout}${stderr}`)));
    });
    return { child, running, exited, stderr: () => stderr };
  }

  it('exits non-zero when its FreeRADIUS dies, saying so', async () => {
    const r = radius();
    const pid = await r.running;
    process.kill(pid, 'SIGKILL');
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toContain(`FreeRADIUS (pid ${pid}) exited unexpectedly (signal SIGKILL)`);
  });

  it('exits 0 when it is stopped', async () => {
    const r = radius();
    const pid = await r.running;
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
