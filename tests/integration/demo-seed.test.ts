/**
 * `lango up`'s demo seeding and its JWT secret, against a real database and a temporary state
 * directory (the whole command runs in tests/e2e/up.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { testServices } from '../helpers/api';
import { seedDemo } from '../../src/demo-seed';
import { stateJwtSecret } from '../../src/stack';
import { SYSTEM } from '../../src/modules/audit/actor';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function stateDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lango-seed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function database(): Promise<TestDatabase> {
  const tdb = await createTestDatabase();
  cleanups.push(() => tdb.drop());
  return tdb;
}

const mode = (file: string) => statSync(file).mode & 0o777;

describe('demo seeding', () => {
  it("gives the demo owner its own password, kept beside the platform admin's; seeding again changes nothing", async () => {
    const tdb = await database();
    const services = testServices(tdb.db);
    const dir = stateDir();
    const cred = await seedDemo(tdb.db, services, dir);
    expect(cred.tenantAdminEmail).toBe('owner@demo.lango.local');
    expect(cred.tenantAdminPassword).toEqual(expect.any(String));
    expect(cred.tenantAdminPassword).not.toBe(cred.adminPassword);
    const file = path.join(dir, 'demo-credentials.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(cred);
    expect(mode(file)).toBe(0o600);

    expect((await services.users.verifyLogin(cred.tenantAdminEmail, cred.tenantAdminPassword)).user.role).toBe(
      'tenant_admin',
    );
    await expect(services.users.verifyLogin(cred.tenantAdminEmail, cred.adminPassword)).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    expect((await services.users.verifyLogin(cred.adminEmail, cred.adminPassword)).user.role).toBe('platform_admin');

    expect(await seedDemo(tdb.db, services, dir)).toEqual(cred);
    expect((await services.users.verifyLogin(cred.tenantAdminEmail, cred.tenantAdminPassword)).user.role).toBe(
      'tenant_admin',
    );
  });

  it("gives an owner seeded before it had a password of its own a new one: no longer the admin's", async () => {
    const tdb = await database();
    const services = testServices(tdb.db);
    const dir = stateDir();
    // What the previous seedDemo left: one password for both accounts, and a file without the owner's.
    const old = { adminEmail: 'admin@lango.local', adminPassword: 'old-shared-password' };
    writeFileSync(path.join(dir, 'demo-credentials.json'), JSON.stringify(old), { mode: 0o600 });
    await services.users.createPlatformAdmin(old.adminEmail, old.adminPassword);
    await services.tenants.create(SYSTEM, {
      name: 'Demo Hotspot',
      slug: 'demo',
      admin: { email: 'owner@demo.lango.local', password: old.adminPassword },
    });

    const cred = await seedDemo(tdb.db, services, dir);
    expect(cred).toMatchObject(old);
    expect(cred.tenantAdminPassword).not.toBe(old.adminPassword);
    expect(JSON.parse(readFileSync(path.join(dir, 'demo-credentials.json'), 'utf8'))).toEqual(cred);
    await expect(services.users.verifyLogin(cred.tenantAdminEmail, old.adminPassword)).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    expect((await services.users.verifyLogin(cred.tenantAdminEmail, cred.tenantAdminPassword)).user.role).toBe(
      'tenant_admin',
    );
    expect((await services.users.verifyLogin(cred.adminEmail, old.adminPassword)).user.role).toBe('platform_admin');
  });
});

describe("lango up's JWT secret", () => {
  it('is random, at least 32 bytes, kept in the state directory (0600) and reused', () => {
    const dir = stateDir();
    const secret = stateJwtSecret(dir);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(secret).not.toBe(DEVELOPMENT_JWT_SECRET);
    expect(mode(path.join(dir, 'jwt-secret'))).toBe(0o600);
    expect(stateJwtSecret(dir)).toBe(secret);
    expect(stateJwtSecret(stateDir())).not.toBe(secret);
  });
});
