/** An API app over a fresh test database, with a platform admin and helpers to add tenants. */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Knex } from 'knex';
import { createTestDatabase, TestDatabase } from './db';
import { createLogger } from '../../src/logger';
import { loadConfig, type Config } from '../../src/config';
import { createServices, Services } from '../../src/modules/services';
import { createApp, type AppDeps } from '../../src/http/app';
import { appConfig } from '../../src/main';
import { signToken } from '../../src/modules/tenancy/credentials';
import type { RouteRegistry } from '../../src/http/registry';
import type { TargetPolicy } from '../../src/config/networks';
import type { Clock } from '../../src/lib/clock';

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256';

export interface TestTenant {
  id: string;
  slug: string;
  token: string;
  adminEmail: string;
  auth: { Authorization: string };
}

export interface TestApi {
  app: import('express').Express;
  db: Knex;
  url: string;
  services: Services;
  registry: RouteRegistry;
  openapi: Record<string, any>;
  adminAuth: { Authorization: string };
  newTenant(): Promise<TestTenant>;
  close(): Promise<void>;
}

export const suffix = () => randomBytes(4).toString('hex');

/** NAS in tests may have any address (development mode: loopback too). */
export const ANY_TARGET: TargetPolicy = { networks: ['0.0.0.0/0', '::/0'], allowLoopback: true };

/** The configuration of a test run: the defaults (src/config), the test secret, any address as a NAS. */
export function testConfig(env: Record<string, string> = {}): Config {
  return {
    ...loadConfig({ LANGO_ENV: 'test', LANGO_JWT_SECRET: JWT_SECRET, LANGO_JWT_TTL: '3600', ...env }),
    enforcementTargets: ANY_TARGET,
  };
}

export function testServices(db: Knex, overrides: Partial<Config> = {}): Services {
  return createServices(db, { ...testConfig(), ...overrides });
}

/** The app as `lango api` builds it, every answer checked against its schema. */
export function testApp(db: Knex, services: Services, config: Config = testConfig(), extra: Partial<AppDeps> = {}) {
  return createApp({
    db,
    services,
    config: appConfig(config),
    logger: createLogger('silent'),
    checkResponses: true,
    ...extra,
  });
}

export async function createTestApi(
  tdb?: TestDatabase,
  db?: Knex,
  opts: { enforcementTargets?: TargetPolicy; env?: Record<string, string>; clock?: Clock } = {},
): Promise<TestApi> {
  const t = tdb ?? (await createTestDatabase());
  // The application role, as in production: a missing grant fails the tests.
  const handle = db ?? t.appDb;
  const config = {
    ...testConfig(opts.env ?? {}),
    ...(opts.enforcementTargets ? { enforcementTargets: opts.enforcementTargets } : {}),
  };
  const services = createServices(handle, config, opts.clock);
  const { app, registry, openapi } = testApp(handle, services, config);
  const admin = await services.users.createPlatformAdmin(`root-${suffix()}@lango.test`, 'root-password-1');
  const adminAuth = {
    Authorization: `Bearer ${signToken(JWT_SECRET, 3600, { sub: admin.id, role: 'platform_admin', tid: null, ver: 0 })}`,
  };
  return {
    app,
    db: handle,
    url: t.url,
    services,
    registry,
    openapi,
    adminAuth,
    async newTenant() {
      const slug = `t-${suffix()}`;
      const adminEmail = `${slug}@lango.test`;
      const res = await request(app)
        .post('/api/v1/tenants')
        .set(adminAuth)
        .send({
          name: `Tenant ${slug}`,
          slug,
          timeZone: 'Africa/Nairobi',
          admin: { email: adminEmail, password: 'tenant-password-1' },
        });
      if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${JSON.stringify(res.body)}`);
      const login = await request(app)
        .post('/api/v1/auth/login')
        .send({ email: adminEmail, password: 'tenant-password-1' });
      const token = login.body.token as string;
      return { id: res.body.tenant.id, slug, token, adminEmail, auth: { Authorization: `Bearer ${token}` } };
    },
    close: () => (tdb ? Promise.resolve() : t.drop()),
  };
}
