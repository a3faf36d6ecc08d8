/** An API app over a fresh test database, with a platform admin and helpers to add tenants. */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Knex } from 'knex';
import { createTestDatabase, TestDatabase } from './db';
import { createLogger } from '../../src/logger';
import { createServices, Services } from '../../src/services';
import { createApp } from '../../src/http/app';
import { signToken } from '../../src/http/auth';
import type { RouteRegistry } from '../../src/http/registry';
import type { TargetPolicy } from '../../src/config/networks';

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

export async function createTestApi(tdb?: TestDatabase, db?: Knex, opts: { enforcementTargets?: TargetPolicy } = {}): Promise<TestApi> {
  const t = tdb ?? (await createTestDatabase());
  // The application role, as in production: a missing grant fails the tests.
  const handle = db ?? t.appDb;
  const services = createServices(handle, { enforcementTargets: opts.enforcementTargets ?? ANY_TARGET });
  const { app, registry, openapi } = createApp({ db: handle, services, config: { jwtSecret: JWT_SECRET, jwtTtlSeconds: 3600 }, logger: createLogger('silent') });
  const admin = await services.users.createPlatformAdmin(`root-${suffix()}@lango.test`, 'root-password-1');
  const adminAuth = { Authorization: `Bearer ${signToken(JWT_SECRET, 3600, { sub: admin.id, role: 'platform_admin', tid: null, ver: 0 })}` };
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
        .send({ name: `Tenant ${slug}`, slug, timeZone: 'Africa/Nairobi', admin: { email: adminEmail, password: 'tenant-password-1' } });
      if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${JSON.stringify(res.body)}`);
      const login = await request(app).post('/api/v1/auth/login').send({ email: adminEmail, password: 'tenant-password-1' });
      const token = login.body.token as string;
      return { id: res.body.tenant.id, slug, token, adminEmail, auth: { Authorization: `Bearer ${token}` } };
    },
    close: () => (tdb ? Promise.resolve() : t.drop()),
  };
}
