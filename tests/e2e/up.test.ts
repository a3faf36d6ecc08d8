/**
 * The newcomer's path: the real `lango up` command (bin/lango, compiled by `npm test`'s build
 * step) with no DATABASE_URL (embedded PostgreSQL), the printed radtest line, a second tenant
 * added through the API, Ctrl-C, and a restart on the same state.
 */
import { mkdtempSync, statSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import os from 'node:os';
import path from 'node:path';
import { pickFreeUdpPorts } from '../../src/freeradius/ports';
import { freeTcpPort } from '../helpers/ports';
import { RadiusClient, PacketCode, getString } from '../../src/radius';
import { parseReply } from '../helpers/radclient';
import { json, REPO_ROOT, removeStateDir, runPrintedRadtest, sh, startLangoUp } from '../helpers/lango-up';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';

jest.setTimeout(180000);

let stateDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  // mkdtemp makes it 0700: as root the embedded PostgreSQL must work all the same.
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'lango-up-'));
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
  removeStateDir(stateDir);
});

const up = () => startLangoUp({ env });

it('brings everything up, the printed radtest line gets Access-Accept, a second tenant works, and a restart keeps data', async () => {
  const stack = await up();
  const lines = stack.lines;
  let firstRunToken = '';
  try {
    expect(lines.join('\n')).toContain('embedded PostgreSQL');
    const reply = parseReply(await runPrintedRadtest(stack));
    expect(reply.code).toBe('Access-Accept');
    expect(reply.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
    expect(reply.attrs['Session-Timeout']).toHaveLength(1);

    // A second tenant, as the README shows it.
    const api = `${stack.apiUrl}/api/v1`;
    const admin = (await json(`${api}/auth/login`, { email: stack.adminEmail, password: stack.adminPassword })).body
      .token;
    firstRunToken = admin;
    expect(
      (
        await json(
          `${api}/tenants`,
          { name: 'Second ISP', slug: 'second', admin: { email: 'owner@second.test', password: 'second-owner-pw' } },
          admin,
        )
      ).status,
    ).toBe(201);
    const t = (await json(`${api}/auth/login`, { email: 'owner@second.test', password: 'second-owner-pw' })).body.token;
    const plan = (
      await json(
        `${api}/plans`,
        { name: 'Weekly', durationSeconds: 604800, rateLimit: '5M/10M', dataQuotaBytes: 6442450944 },
        t,
      )
    ).body;
    expect(
      (await json(`${api}/nas`, { name: 'second-router', address: '127.0.0.2', secret: 'second-secret' }, t)).status,
    ).toBe(201);
    expect(
      (await json(`${api}/subscribers`, { username: 'demo', password: 'other-password', planId: plan.id }, t)).status,
    ).toBe(201);

    const second = new RadiusClient({
      host: '127.0.0.1',
      port: stack.authPort,
      secret: 'second-secret',
      bindAddress: '127.0.0.2',
      timeoutMs: 1000,
      retries: 3,
    });
    try {
      const res = await second.accessRequestPap('demo', 'other-password');
      expect(res.packet.code).toBe(PacketCode.AccessAccept);
      expect(getString(res.packet, 'Mikrotik-Rate-Limit')).toBe('5M/10M');
    } finally {
      await second.close();
    }
    const cross = parseReply(
      await sh('radtest', ['demo', 'other-password', `127.0.0.1:${stack.authPort}`, '0', 'lango-demo-secret']),
    );
    expect(cross.code).toBe('Access-Reject');

    // The demo owner has a password of its own, not the platform admin's.
    expect(stack.ownerPassword).not.toBe(stack.adminPassword);
    expect(
      (await json(`${api}/auth/login`, { email: stack.ownerEmail, password: stack.ownerPassword })).body.user.role,
    ).toBe('tenant_admin');
    expect((await json(`${api}/auth/login`, { email: stack.ownerEmail, password: stack.adminPassword })).status).toBe(
      401,
    );
    // Tokens are signed with a random secret kept in the state directory, so a platform-admin
    // token forged with the published development secret is refused.
    expect(statSync(path.join(stateDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    const adminId = (await json(`${api}/me`, undefined, admin)).body.id;
    const forged = jwt.sign({ sub: adminId, role: 'platform_admin', tid: null, ver: 0 }, DEVELOPMENT_JWT_SECRET, {
      algorithm: 'HS256',
      issuer: 'lango',
      expiresIn: 600,
    });
    expect((await json(`${api}/tenants`, undefined, forged)).status).toBe(401);
    expect((await json(`${api}/tenants`, undefined, admin)).status).toBe(200);
    // The API and FreeRADIUS connect as least-privilege roles, not as the embedded superuser.
    expect(lines.join('\n')).toMatch(/Database\s+postgres:\/\/lango_app:<password in [^>]*database-roles\.json>@/);
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
    const admin = (
      await json(`${again.apiUrl}/api/v1/auth/login`, { email: 'owner@second.test', password: 'second-owner-pw' })
    ).body.token;
    const subs = (await json(`${again.apiUrl}/api/v1/subscribers`, undefined, admin)).body;
    expect(subs.data.map((s: { username: string }) => s.username)).toEqual(['demo']);
    expect(parseReply(await runPrintedRadtest(again)).code).toBe('Access-Accept');
  } finally {
    expect(await again.stop()).toBe(0);
  }
});

it('stops with one clear sentence, and no stack trace, when the embedded PostgreSQL cannot start', async () => {
  const net = await import('node:net');
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  const port = (blocker.address() as import('node:net').AddressInfo).port;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lango-up-busy-'));
  try {
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [path.join(REPO_ROOT, 'bin/lango'), 'up'],
        {
          env: { ...process.env, ...env, LANGO_STATE_DIR: dir, LANGO_EMBEDDED_PG_PORT: String(port) },
          timeout: 60000,
        },
        (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `lango: Port ${port} is in use: set LANGO_EMBEDDED_PG_PORT to a free port or set DATABASE_URL to use a PostgreSQL of your own.`,
    );
  } finally {
    blocker.close();
    removeStateDir(dir);
  }
});
