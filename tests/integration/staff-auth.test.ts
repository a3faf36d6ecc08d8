/**
 * Staff authentication and tenant-level hardening against real Postgres: what tenants see of
 * platform admins, tenant suspension (staff, tokens, keys, live sessions), revocation of
 * tokens and keys, per-tenant staff emails, and login rate limits.
 */
import request from 'supertest';
import {
  createTestApi,
  JWT_SECRET,
  TestApi,
  TestTenant,
  suffix,
  testApp,
  testConfig,
  testServices,
} from '../helpers/api';
import { signToken } from '../../src/modules/tenancy/credentials';
import { claimDue } from '../../src/modules/enforcement/outbox.repo';
import * as platformActorBackfill from '../../db/migrations/20261201000202_platform_actor_backfill';
import { addNas, openSession } from './enforcement-fixtures';

let api: TestApi;
let platformId: string;
beforeAll(async () => {
  api = await createTestApi();
  platformId = (await request(api.app).get('/api/v1/me').set(api.adminAuth)).body.id;
});
afterAll(async () => {
  await api.close();
});

const PASSWORD = 'staff-password-1';
const login = (body: Record<string, unknown>) => request(api.app).post('/api/v1/auth/login').send(body);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const asPlatform = (t: { id: string }) => ({ ...api.adminAuth, 'X-Tenant-Id': t.id });
const me = (auth: Record<string, string>) => request(api.app).get('/api/v1/me').set(auth);

async function addStaff(t: TestTenant, o: { role?: string; email?: string; password?: string } = {}) {
  const email = o.email ?? `staff-${suffix()}@lango.test`;
  const password = o.password ?? PASSWORD;
  const res = await request(api.app)
    .post('/api/v1/users')
    .set(t.auth)
    .send({ email, password, role: o.role ?? 'tenant_operator' });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email, password };
}

async function tokenFor(email: string, password = PASSWORD, tenant?: string): Promise<string> {
  const res = await login({ email, password, ...(tenant ? { tenant } : {}) });
  expect(res.status).toBe(200);
  return res.body.token;
}

async function apiKey(auth: Record<string, string>, body: Record<string, unknown> = {}) {
  const res = await request(api.app)
    .post('/api/v1/api-keys')
    .set(auth)
    .send({ name: `k-${suffix()}`, role: 'tenant_operator', ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string; expiresAt: string | null };
}

const withKey = (key: string) => request(api.app).get('/api/v1/subscribers').set('X-API-Key', key);

describe('what a tenant sees of platform admins', () => {
  it('shows a platform admin as "platform" without its id in the audit log', async () => {
    const t = await api.newTenant();
    expect(
      (
        await request(api.app)
          .patch(`/api/v1/tenants/${t.id}`)
          .set(api.adminAuth)
          .send({ name: 'Renamed by the platform' })
      ).status,
    ).toBe(200);
    expect(
      (
        await request(api.app)
          .post('/api/v1/users')
          .set(asPlatform(t))
          .send({ email: `p-${suffix()}@lango.test`, password: PASSWORD, role: 'tenant_operator' })
      ).status,
    ).toBe(201);
    await apiKey(asPlatform(t));
    const own = await addStaff(t);

    const log = await request(api.app).get('/api/v1/audit-log').set(t.auth);
    expect(log.status).toBe(200);
    expect(JSON.stringify(log.body)).not.toContain(platformId);
    const byAction = (action: string) => log.body.data.filter((e: { action: string }) => e.action === action);
    for (const a of ['tenant.create', 'tenant.update', 'api_key.create']) {
      expect(byAction(a).map((e: any) => [e.actorType, e.actorId])).toEqual([['platform', null]]);
    }
    // The tenant's own admin stays visible to its tenant.
    const created = byAction('user.create').find((e: any) => e.entityId === own.id);
    expect(created.actorType).toBe('user');
    expect(created.actorId).toBe((await me(t.auth)).body.id);
    // The platform keeps the id for its own investigations.
    expect(await api.db('audit_log').where({ tenant_id: t.id, action: 'tenant.update' }).pluck('actor_id')).toEqual([
      platformId,
    ]);
    // An API key made by a platform admin has no creator to follow.
    expect(await api.db('api_keys').where({ tenant_id: t.id }).pluck('created_by')).toEqual([null]);
  });

  it('reclassifies entries platform admins wrote before the "platform" actor existed', async () => {
    const t = await api.newTenant();
    await api.db('audit_log').insert({
      tenant_id: t.id,
      actor_type: 'user',
      actor_id: platformId,
      action: 'legacy.update',
      entity: 'tenant',
      entity_id: t.id,
    });
    await platformActorBackfill.up(api.db);
    const log = await request(api.app).get('/api/v1/audit-log').set(t.auth);
    expect(log.body.data.find((e: any) => e.action === 'legacy.update')).toMatchObject({
      actorType: 'platform',
      actorId: null,
    });
    expect(JSON.stringify(log.body)).not.toContain(platformId);
  });
});

describe('tenant suspension', () => {
  const suspend = (t: { id: string }, status: 'suspended' | 'active') =>
    request(api.app).patch(`/api/v1/tenants/${t.id}`).set(api.adminAuth).send({ status });

  it("locks out a suspended tenant's staff, tokens and API keys, not the platform; reactivation restores them", async () => {
    const t = await api.newTenant();
    const other = await api.newTenant();
    const key = await apiKey(t.auth);
    expect((await suspend(t, 'suspended')).body.status).toBe('suspended');

    const refused = async (res: request.Response) => {
      expect([res.status, res.body.error?.code]).toEqual([403, 'TENANT_SUSPENDED']);
    };
    await refused(await me(t.auth));
    await refused(await withKey(key.key));
    await refused(await login({ email: t.adminEmail, password: 'tenant-password-1' }));
    // Only someone who knows the password learns that the tenant is suspended.
    expect((await login({ email: t.adminEmail, password: 'wrong-password' })).body.error.code).toBe(
      'INVALID_CREDENTIALS',
    );
    // The tenant admin cannot lift it, the platform reads and reactivates; other tenants go on.
    await refused(await request(api.app).patch(`/api/v1/tenants/${t.id}`).set(t.auth).send({ status: 'active' }));
    expect((await request(api.app).get(`/api/v1/tenants/${t.id}`).set(api.adminAuth)).body.status).toBe('suspended');
    expect((await request(api.app).get('/api/v1/subscribers').set(asPlatform(t))).status).toBe(200);
    expect((await me(other.auth)).status).toBe(200);

    expect((await suspend(t, 'active')).body.status).toBe('active');
    expect((await me(t.auth)).status).toBe(200);
    expect((await withKey(key.key)).status).toBe(200);
    expect((await login({ email: t.adminEmail, password: 'tenant-password-1' })).status).toBe(200);
  });

  it('queues one Disconnect per open session of the tenant and none for other tenants', async () => {
    const t = await api.newTenant();
    const other = await api.newTenant();
    const subs: Record<string, string> = {};
    for (const username of ['alice', 'bob']) {
      subs[username] = (
        await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username, password: 'pw' })
      ).body.id;
    }
    const nas = await addNas(api.db, t.id, '127.0.0.1', 'coa-secret', 3799, { identifier: suffix() });
    const otherNas = await addNas(api.db, other.id, '127.0.0.1', 'coa-secret', 3799, { identifier: suffix() });
    const open = [
      await openSession(api.db, { tenantId: t.id, nasId: nas, username: 'alice' }),
      await openSession(api.db, { tenantId: t.id, nasId: nas, username: 'alice' }),
      await openSession(api.db, { tenantId: t.id, nasId: nas, username: 'bob' }),
    ];
    const ended = await openSession(api.db, { tenantId: t.id, nasId: nas, username: 'bob' });
    await api.db('radacct').where({ radacctid: ended.id }).update({ acctstoptime: api.db.fn.now() });
    const otherSession = await openSession(api.db, { tenantId: other.id, nasId: otherNas, username: 'alice' });

    expect((await suspend(t, 'suspended')).status).toBe(200);
    const rows = await api.db('enforcement_actions').where({ tenant_id: t.id }).orderBy('radacct_id');
    expect(
      rows.map((r) => [Number(r.radacct_id), r.kind, r.reason, r.status, r.subscriber_id, r.requested_by_type]),
    ).toEqual([
      [open[0]!.id, 'disconnect', 'tenant_suspended', 'pending', subs.alice, 'platform'],
      [open[1]!.id, 'disconnect', 'tenant_suspended', 'pending', subs.alice, 'platform'],
      [open[2]!.id, 'disconnect', 'tenant_suspended', 'pending', subs.bob, 'platform'],
    ]);
    expect(await api.db('enforcement_actions').where({ radacct_id: otherSession.id }).count()).toEqual([
      { count: '0' },
    ]);
    expect(await api.db('enforcement_actions').where({ tenant_id: other.id }).count()).toEqual([{ count: '0' }]);
    const audit = await api.db('audit_log').where({ tenant_id: t.id, action: 'tenant.update' }).first();
    expect(audit.data).toMatchObject({ status: 'suspended', disconnectsQueued: 3 });

    // Suspending again queues nothing new, while pending or once answered.
    expect((await suspend(t, 'suspended')).status).toBe(200);
    await api.db('enforcement_actions').where({ tenant_id: t.id }).update({ status: 'ack' });
    expect((await suspend(t, 'suspended')).status).toBe(200);
    expect(await api.db('enforcement_actions').where({ tenant_id: t.id }).count()).toEqual([{ count: '3' }]);

    // The enforcement log shows who asked as "platform", without the id.
    const actions = await request(api.app)
      .get('/api/v1/enforcement-actions?reason=tenant_suspended')
      .set(asPlatform(t));
    expect(actions.body.data.map((a: any) => a.requestedBy)).toEqual([
      { type: 'platform', id: null },
      { type: 'platform', id: null },
      { type: 'platform', id: null },
    ]);
    expect(JSON.stringify(actions.body)).not.toContain(platformId);
  });

  it('cancels queued Disconnects when the tenant is active again before they are sent', async () => {
    const stays = await api.newTenant();
    const back = await api.newTenant();
    const ids: Record<string, number> = {};
    for (const t of [stays, back]) {
      const nas = await addNas(api.db, t.id, '127.0.0.1', 'coa-secret', 3799, { identifier: suffix() });
      ids[t.id] = (await openSession(api.db, { tenantId: t.id, nasId: nas, username: 'carol' })).id;
      expect((await suspend(t, 'suspended')).status).toBe(200);
    }
    expect((await suspend(back, 'active')).status).toBe(200);
    const claimed = await claimDue(api.db, { worker: 'test', limit: 100, leaseSeconds: 30 });
    const cancel = (t: TestTenant) => claimed.find((c) => Number(c.radacct_id) === ids[t.id])!.cancel_reason;
    expect(cancel(stays)).toBeNull();
    expect(cancel(back)).toBe('tenant reactivated');
  });
});

describe('revocation', () => {
  it("a password change, a role change, a disable and a logout end the user's tokens; re-enabling does not revive them", async () => {
    const t = await api.newTenant();
    const u = await addStaff(t);
    const patch = (body: Record<string, unknown>) =>
      request(api.app).patch(`/api/v1/users/${u.id}`).set(t.auth).send(body);
    const dead = async (token: string) => {
      const res = await me(bearer(token));
      expect([res.status, res.body.error?.code]).toEqual([401, 'UNAUTHENTICATED']);
    };

    const beforePassword = await tokenFor(u.email);
    expect((await patch({ password: 'a-new-password-2' })).status).toBe(200);
    await dead(beforePassword);
    const beforeRole = await tokenFor(u.email, 'a-new-password-2');
    expect((await patch({ role: 'tenant_admin' })).status).toBe(200);
    await dead(beforeRole);
    const current = await tokenFor(u.email, 'a-new-password-2');
    // Setting the role it already has, or its name, changes nothing.
    expect((await patch({ role: 'tenant_admin', name: 'Ann' })).status).toBe(200);
    expect((await me(bearer(current))).status).toBe(200);

    expect((await patch({ disabled: true })).status).toBe(200);
    await dead(current);
    expect((await patch({ disabled: false })).status).toBe(200);
    await dead(current);

    // Logout ends every token of the account, not only the one that asked.
    const laptop = await tokenFor(u.email, 'a-new-password-2');
    const phone = await tokenFor(u.email, 'a-new-password-2');
    expect((await me(bearer(laptop))).status).toBe(200);
    expect((await request(api.app).post('/api/v1/auth/logout').set(bearer(phone))).status).toBe(204);
    await dead(phone);
    await dead(laptop);
    expect((await me(bearer(await tokenFor(u.email, 'a-new-password-2')))).status).toBe(200);
    expect(await api.db('audit_log').where({ entity_id: u.id, action: 'user.logout' }).count()).toEqual([
      { count: '1' },
    ]);

    // A key cannot log out (it is revoked instead); a token from before versions is refused.
    const key = await apiKey(t.auth);
    expect((await request(api.app).post('/api/v1/auth/logout').set('X-API-Key', key.key)).body.error.code).toBe(
      'FORBIDDEN',
    );
    const unversioned = signToken(JWT_SECRET, 3600, { sub: u.id, role: 'tenant_admin', tid: t.id } as never);
    await dead(unversioned);
  });

  it('API keys take an optional expiry, in the future and bounded; an expired key is refused', async () => {
    const t = await api.newTenant();
    const create = (expiresAt: unknown) =>
      request(api.app).post('/api/v1/api-keys').set(t.auth).send({ name: 'k', role: 'tenant_operator', expiresAt });
    for (const bad of [
      new Date(Date.now() - 60_000).toISOString(),
      new Date(Date.now() + 731 * 86400_000).toISOString(),
      'next tuesday',
    ]) {
      const res = await create(bad);
      expect([res.status, res.body.error.code, res.body.error.details.errors[0].path]).toEqual([
        400,
        'VALIDATION_FAILED',
        'body.expiresAt',
      ]);
    }
    const until = new Date(Date.now() + 86400_000).toISOString();
    const key = await apiKey(t.auth, { expiresAt: until });
    expect(key.expiresAt).toBe(until);
    expect((await withKey(key.key)).status).toBe(200);
    const forever = await apiKey(t.auth);
    expect(forever.expiresAt).toBeNull();
    expect(
      (await request(api.app).get('/api/v1/api-keys').set(t.auth)).body.data.find((k: any) => k.id === key.id)
        .expiresAt,
    ).toBe(until);

    await api
      .db('api_keys')
      .where({ id: key.id })
      .update({ expires_at: api.db.raw("now() - interval '1 second'") });
    const res = await withKey(key.key);
    expect([res.status, res.body.error.code]).toEqual([401, 'API_KEY_EXPIRED']);
    expect((await withKey(forever.key)).status).toBe(200);
  });

  it('refuses an API key while the user who created it is disabled', async () => {
    const t = await api.newTenant();
    const admin = await addStaff(t, { role: 'tenant_admin' });
    const key = await apiKey(bearer(await tokenFor(admin.email)));
    expect((await withKey(key.key)).status).toBe(200);
    expect(
      (await request(api.app).patch(`/api/v1/users/${admin.id}`).set(t.auth).send({ disabled: true })).status,
    ).toBe(200);
    const res = await withKey(key.key);
    expect([res.status, res.body.error.code]).toEqual([401, 'API_KEY_CREATOR_DISABLED']);
    expect(
      (await request(api.app).patch(`/api/v1/users/${admin.id}`).set(t.auth).send({ disabled: false })).status,
    ).toBe(200);
    expect((await withKey(key.key)).status).toBe(200);
  });
});

describe('staff emails are unique per tenant', () => {
  it('adds a user whose email exists at another tenant without telling; the same tenant still gives 409', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const email = `shared-${suffix()}@lango.test`;
    await addStaff(a, { email });
    await addStaff(b, { email: email.toUpperCase() });
    const dup = await request(api.app)
      .post('/api/v1/users')
      .set(a.auth)
      .send({ email: email.toUpperCase(), password: PASSWORD, role: 'tenant_operator' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'USER_EXISTS']);
    // A new tenant's first admin may carry an email another tenant uses.
    const c = await request(api.app)
      .post('/api/v1/tenants')
      .set(api.adminAuth)
      .send({ name: 'C', slug: `c-${suffix()}`, admin: { email, password: PASSWORD } });
    expect(c.status).toBe(201);
    // Platform admins are unique among themselves, and independent of tenants' staff.
    await expect(api.services.users.createPlatformAdmin(email, PASSWORD)).resolves.toMatchObject({
      role: 'platform_admin',
    });
    await expect(api.services.users.createPlatformAdmin(email.toUpperCase(), PASSWORD)).rejects.toMatchObject({
      code: 'USER_EXISTS',
    });
  });

  it('logs in the one account whose password matches, and asks for the tenant when several do', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const c = await api.newTenant();
    const email = `many-${suffix()}@lango.test`;
    await addStaff(a, { email, password: 'password-of-a-1' });
    await addStaff(b, { email, password: 'password-of-b-1' });
    await addStaff(c, { email, password: 'password-of-a-1' });

    expect((await login({ email, password: 'password-of-b-1' })).body.user.tenantId).toBe(b.id);
    const both = await login({ email, password: 'password-of-a-1' });
    expect([both.status, both.body.error.code]).toEqual([400, 'TENANT_REQUIRED']);
    expect(JSON.stringify(both.body)).not.toMatch(new RegExp(`${a.slug}|${c.slug}`));
    expect((await login({ email, password: 'password-of-a-1', tenant: a.slug })).body.user.tenantId).toBe(a.id);
    expect((await login({ email, password: 'password-of-a-1', tenant: c.slug })).body.user.tenantId).toBe(c.id);
    const wrongTenant = await login({ email, password: 'password-of-a-1', tenant: b.slug });
    expect([wrongTenant.status, wrongTenant.body.error.code]).toEqual([401, 'INVALID_CREDENTIALS']);
  });
});

describe('login rate limits', () => {
  /** An app over the same database with small limits, behind a trusted proxy on loopback. */
  function throttledApp(env: Record<string, string>) {
    const config = testConfig(env);
    return testApp(api.db, testServices(api.db, config), config).app;
  }
  const from = (app: import('express').Express, address: string | null, body: Record<string, unknown>) => {
    const r = request(app).post('/api/v1/auth/login');
    if (address) r.set('X-Forwarded-For', address);
    return r.send(body);
  };
  const limited = (res: request.Response, window: number) => {
    expect([res.status, res.body.error?.code]).toEqual([429, 'RATE_LIMITED']);
    const after = Number(res.headers['retry-after']);
    expect(Number.isInteger(after) && after >= 1 && after <= window).toBe(true);
    expect(res.body.error.details.retryAfterSeconds).toBe(after);
  };

  it('answers 429 with Retry-After after N failures for one account; other accounts and addresses still log in', async () => {
    const app = throttledApp({
      LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
      LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS: '10',
      LANGO_TRUST_PROXY: 'loopback',
    });
    const t = await api.newTenant();
    const victim = await addStaff(t);
    const bystander = await addStaff(t);
    for (let i = 0; i < 3; i++)
      expect((await from(app, '198.51.100.1', { email: victim.email, password: `guess-${i}` })).status).toBe(401);
    limited(await from(app, '198.51.100.1', { email: victim.email, password: 'guess-3' }), 900);
    // The account is locked from anywhere, even with its password, until the window ends.
    limited(await from(app, '198.51.100.2', { email: victim.email.toUpperCase(), password: PASSWORD }), 900);
    // Another account logs in, from another address and from the same one.
    expect((await from(app, '198.51.100.2', { email: bystander.email, password: PASSWORD })).status).toBe(200);
    expect((await from(app, '198.51.100.1', { email: bystander.email, password: PASSWORD })).status).toBe(200);
  });

  it("a successful login clears the account's failures", async () => {
    const app = throttledApp({ LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LANGO_TRUST_PROXY: 'loopback' });
    const t = await api.newTenant();
    const u = await addStaff(t);
    for (let i = 0; i < 2; i++)
      expect((await from(app, '198.51.100.7', { email: u.email, password: 'wrong-wrong' })).status).toBe(401);
    expect((await from(app, '198.51.100.7', { email: u.email, password: PASSWORD })).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await from(app, '198.51.100.7', { email: u.email, password: 'wrong-wrong' })).status).toBe(401);
    limited(await from(app, '198.51.100.7', { email: u.email, password: PASSWORD }), 900);
  });

  it('limits one client address across accounts; X-Forwarded-For counts only from a trusted proxy', async () => {
    await api.db('login_throttle').del();
    const behindProxy = throttledApp({
      LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS: '4',
      LANGO_LOGIN_WINDOW_SECONDS: '60',
      LANGO_TRUST_PROXY: 'loopback',
    });
    const unknown = () => ({ email: `nobody-${suffix()}@lango.test`, password: 'guess' });
    for (let i = 0; i < 4; i++) expect((await from(behindProxy, '203.0.113.9', unknown())).status).toBe(401);
    limited(await from(behindProxy, '203.0.113.9', unknown()), 60);
    expect((await from(behindProxy, '203.0.113.10', unknown())).status).toBe(401);
    // Successful logins give their own point back, and no more: they cannot be saved up.
    const t = await api.newTenant();
    const u = await addStaff(t);
    for (let i = 0; i < 6; i++)
      expect((await from(behindProxy, '203.0.113.11', { email: u.email, password: PASSWORD })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await from(behindProxy, '203.0.113.11', unknown())).status).toBe(401);
    limited(await from(behindProxy, '203.0.113.11', unknown()), 60);

    // Without a trusted proxy the header is the client's own word: the socket address counts.
    const direct = throttledApp({ LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS: '4' });
    for (let i = 0; i < 4; i++) expect((await from(direct, `192.0.2.${i + 1}`, unknown())).status).toBe(401);
    limited(await from(direct, '192.0.2.99', unknown()), 900);
  });
});
