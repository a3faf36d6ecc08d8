import request from 'supertest';
import { createTestApi, TestApi, TestTenant, suffix } from '../helpers/api';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(async () => {
  await api.close();
});

async function plan(t: TestTenant, extra: Record<string, unknown> = {}) {
  const res = await request(api.app)
    .post('/api/v1/plans')
    .set(t.auth)
    .send({
      name: `P ${suffix()}`,
      durationSeconds: 86400,
      rateLimit: '2M/5M',
      dataQuotaBytes: 6 * 1024 ** 3,
      price: 50,
      ...extra,
    });
  expect(res.status).toBe(201);
  return res.body;
}

describe('auth and tenants', () => {
  it('logs in, rejects a wrong password and a forged token', async () => {
    const t = await api.newTenant();
    const me = await request(api.app).get('/api/v1/me').set(t.auth);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ role: 'tenant_admin', tenantId: t.id });
    const bad = await request(api.app)
      .post('/api/v1/auth/login')
      .send({ email: t.adminEmail, password: 'nope-nope-nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('INVALID_CREDENTIALS');
    const forged = await request(api.app)
      .get('/api/v1/me')
      .set('Authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.x');
    expect(forged.status).toBe(401);
    expect((await request(api.app).get('/api/v1/plans')).status).toBe(401);
  });

  it('only a platform admin creates tenants; duplicate slugs are 409', async () => {
    const t = await api.newTenant();
    const res = await request(api.app)
      .post('/api/v1/tenants')
      .set(t.auth)
      .send({ name: 'x', slug: `s-${suffix()}`, admin: { email: `a${suffix()}@x.test`, password: 'longenough1' } });
    expect(res.status).toBe(403);
    const dup = await request(api.app)
      .post('/api/v1/tenants')
      .set(api.adminAuth)
      .send({ name: 'x', slug: t.slug, admin: { email: `b${suffix()}@x.test`, password: 'longenough1' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('TENANT_EXISTS');
    const tz = await request(api.app)
      .post('/api/v1/tenants')
      .set(api.adminAuth)
      .send({
        name: 'x',
        slug: `s-${suffix()}`,
        timeZone: 'Mars/Olympus',
        admin: { email: `c${suffix()}@x.test`, password: 'longenough1' },
      });
    expect(tz.status).toBe(400);
  });

  it('validates bodies: unknown fields and wrong types give 400 with the field path', async () => {
    const t = await api.newTenant();
    const res = await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'A', durationSeconds: '86400', colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const paths = res.body.error.details.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.durationSeconds', 'body.colour']));
    const json = await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('BAD_JSON');
    const q = await request(api.app).get('/api/v1/subscribers?limit=0').set(t.auth);
    expect(q.status).toBe(400);
    expect(q.body.error.details.errors[0].path).toBe('query.limit');
    const rate = await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'B', durationSeconds: 3600, rateLimit: 'fast please' });
    expect(rate.status).toBe(400);
    expect(rate.body.error.details.errors[0].path).toBe('body.rateLimit');
  });
});

describe('plans are FreeRADIUS groups', () => {
  it('writes and rewrites radgroupreply/radgroupcheck rows', async () => {
    const t = await api.newTenant();
    const p = await plan(t, { simultaneousUse: 2, idleTimeoutSeconds: 600 });
    const reply = await api.db('radgroupreply').where({ tenant_id: t.id, groupname: p.groupname }).orderBy('attribute');
    expect(Object.fromEntries(reply.map((r) => [r.attribute, r.value]))).toEqual({
      'Acct-Interim-Interval': '300',
      'Idle-Timeout': '600',
      'Mikrotik-Rate-Limit': '2M/5M',
      'WISPr-Bandwidth-Max-Down': '5000000',
      'WISPr-Bandwidth-Max-Up': '2000000',
    });
    expect(
      await api
        .db('radgroupcheck')
        .where({ tenant_id: t.id, groupname: p.groupname })
        .select('attribute', 'op', 'value'),
    ).toEqual([{ attribute: 'Simultaneous-Use', op: ':=', value: '2' }]);
    const upd = await request(api.app)
      .patch(`/api/v1/plans/${p.id}`)
      .set(t.auth)
      .send({ rateLimit: '1M/1M', idleTimeoutSeconds: null });
    expect(upd.status).toBe(200);
    const after = await api.db('radgroupreply').where({ tenant_id: t.id, groupname: p.groupname }).pluck('attribute');
    expect(after.sort()).toEqual([
      'Acct-Interim-Interval',
      'Mikrotik-Rate-Limit',
      'WISPr-Bandwidth-Max-Down',
      'WISPr-Bandwidth-Max-Up',
    ]);
  });

  it('refuses to delete a plan in use, deletes an unused one with its group rows', async () => {
    const t = await api.newTenant();
    const p = await plan(t);
    const s = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: `u${suffix()}`, password: 'pw', planId: p.id });
    expect(s.status).toBe(201);
    const inUse = await request(api.app).delete(`/api/v1/plans/${p.id}`).set(t.auth);
    expect([inUse.status, inUse.body.error.code]).toEqual([409, 'PLAN_IN_USE']);
    // Refused as a whole: the group rows are still there.
    expect(await api.db('radgroupreply').where({ groupname: p.groupname }).count()).not.toEqual([{ count: '0' }]);
    const p2 = await plan(t);
    expect((await request(api.app).delete(`/api/v1/plans/${p2.id}`).set(t.auth)).status).toBe(204);
    expect(await api.db('radgroupreply').where({ groupname: p2.groupname }).count()).toEqual([{ count: '0' }]);
  });
});

describe('subscribers', () => {
  it('creates the business rows and the FreeRADIUS rows together', async () => {
    const t = await api.newTenant();
    const p = await plan(t);
    const res = await request(api.app).post('/api/v1/subscribers').set(t.auth).send({
      username: 'alice',
      password: 's3cret',
      planId: p.id,
      macAddress: 'aa-bb-cc-dd-ee-ff',
      staticIp: '10.5.50.9',
      phone: '+254 712 345678',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      username: 'alice',
      status: 'active',
      planId: p.id,
      macAddress: 'AA:BB:CC:DD:EE:FF',
      staticIp: '10.5.50.9',
    });
    expect(new Date(res.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 86000_000);
    const check = await api
      .db('radcheck')
      .where({ tenant_id: t.id, username: 'alice' })
      .select('attribute', 'op', 'value');
    expect(check).toEqual([{ attribute: 'Cleartext-Password', op: ':=', value: 's3cret' }]);
    expect(await api.db('radusergroup').where({ tenant_id: t.id, username: 'alice' }).pluck('groupname')).toEqual([
      p.groupname,
    ]);
    expect(await api.db('radreply').where({ tenant_id: t.id, username: 'alice' }).select('attribute', 'value')).toEqual(
      [{ attribute: 'Framed-IP-Address', value: '10.5.50.9' }],
    );
    expect(JSON.stringify(res.body)).not.toContain('s3cret');
  });

  it('gives 409 for a duplicate username in a tenant but allows it in another tenant', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    expect(
      (await request(api.app).post('/api/v1/subscribers').set(a.auth).send({ username: 'same', password: 'x' })).status,
    ).toBe(201);
    const dup = await request(api.app)
      .post('/api/v1/subscribers')
      .set(a.auth)
      .send({ username: 'same', password: 'y' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('SUBSCRIBER_EXISTS');
    expect(
      (await request(api.app).post('/api/v1/subscribers').set(b.auth).send({ username: 'same', password: 'z' })).status,
    ).toBe(201);
  });

  it('never shows one tenant another tenant’s records: 404 by id, absent from lists', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const pa = await plan(a);
    const sa = (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(a.auth)
        .send({ username: `x${suffix()}`, password: 'x', planId: pa.id })
    ).body;
    for (const [method, path] of [
      ['get', `/api/v1/subscribers/${sa.id}`],
      ['patch', `/api/v1/subscribers/${sa.id}`],
      ['delete', `/api/v1/subscribers/${sa.id}`],
      ['post', `/api/v1/subscribers/${sa.id}/suspend`],
      ['get', `/api/v1/plans/${pa.id}`],
      ['delete', `/api/v1/plans/${pa.id}`],
    ] as const) {
      const res = await request(api.app)[method](path).set(b.auth).send({});
      expect([path, res.status]).toEqual([path, 404]);
    }
    // b cannot put its subscriber on a's plan either
    const cross = await request(api.app)
      .post('/api/v1/subscribers')
      .set(b.auth)
      .send({ username: `y${suffix()}`, password: 'x', planId: pa.id });
    expect(cross.status).toBe(404);
    const list = await request(api.app).get('/api/v1/subscribers').set(b.auth);
    expect(list.body.data.map((s: { id: string }) => s.id)).not.toContain(sa.id);
    expect((await request(api.app).get(`/api/v1/tenants/${a.id}`).set(b.auth)).status).toBe(404);
    // a platform admin acts on a tenant only by naming it
    expect((await request(api.app).get('/api/v1/subscribers').set(api.adminAuth)).status).toBe(400);
    const viaAdmin = await request(api.app)
      .get(`/api/v1/subscribers/${sa.id}`)
      .set(api.adminAuth)
      .set('X-Tenant-Id', a.id);
    expect(viaAdmin.status).toBe(200);
  });

  it('accepts usernames RADIUS can carry (quotes, spaces, unicode, 253 bytes) and refuses the rest', async () => {
    const t = await api.newTenant();
    for (const u of [`o'brien x@isp`, 'Wanjiru Kamau', 'mtumiaji-ñandú-😀', 'a'.repeat(253), '"quoted"\\back']) {
      const res = await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username: u, password: 'pw' });
      expect([u.length, res.status]).toEqual([u.length, 201]);
      expect(res.body.username).toBe(u);
    }
    for (const u of ['a'.repeat(254), 'é'.repeat(127), 'tab\there', ' lead', 'trail ', '']) {
      const res = await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username: u, password: 'pw' });
      expect([u, res.status]).toEqual([u, 400]);
      expect(res.body.error.details.errors[0].path).toBe('body.username');
    }
  });

  /** A tenant with two plans and a subscriber on the first. */
  async function bob() {
    const t = await api.newTenant();
    const p1 = await plan(t, { durationSeconds: 3600 });
    const p2 = await plan(t, { durationSeconds: 7200, rateLimit: '10M/10M' });
    const s = (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(t.auth)
        .send({ username: 'bob', password: 'pw1', planId: p1.id })
    ).body;
    const post = (path: string, body: Record<string, unknown> = {}) =>
      request(api.app).post(`/api/v1/subscribers/${s.id}${path}`).set(t.auth).send(body);
    return { t, p1, p2, s, post };
  }

  it('suspends with a reason and activates', async () => {
    const { post } = await bob();
    const sus = await post('/suspend', { reason: 'unpaid' });
    expect(sus.body).toMatchObject({ status: 'suspended', suspendedReason: 'unpaid' });
    expect((await post('/activate')).body.status).toBe('active');
  });

  it('renews: the new period starts when the current one ends', async () => {
    const { s, post } = await bob();
    const ren = await post('/renew');
    expect(ren.status).toBe(200);
    expect(new Date(ren.body.subscription.startsAt).getTime()).toBeCloseTo(new Date(s.expiresAt).getTime(), -3);
  });

  it('changes plan now: the FreeRADIUS group and the one live period are the new plan', async () => {
    const { t, p2, s, post } = await bob();
    const ch = await post('/change-plan', { planId: p2.id });
    expect(ch.status).toBe(200);
    expect(ch.body.subscriber.planId).toBe(p2.id);
    expect(await api.db('radusergroup').where({ tenant_id: t.id, username: 'bob' }).pluck('groupname')).toEqual([
      p2.groupname,
    ]);
    const subs = (await request(api.app).get(`/api/v1/subscribers/${s.id}/subscriptions`).set(t.auth)).body.data;
    const live = subs.filter(
      (x: { status: string; endsAt: string }) => x.status === 'active' && new Date(x.endsAt) > new Date(),
    );
    expect(live).toHaveLength(1);
    expect(live[0].planId).toBe(p2.id);
  });

  it('resets the password in radcheck', async () => {
    const { t, post } = await bob();
    expect((await post('/reset-password', { password: 'pw2' })).status).toBe(204);
    expect(await api.db('radcheck').where({ tenant_id: t.id, username: 'bob' }).pluck('value')).toEqual(['pw2']);
  });

  it('deletes without orphans: no FreeRADIUS rows, no periods, 404 after', async () => {
    const { t, s } = await bob();
    expect((await request(api.app).delete(`/api/v1/subscribers/${s.id}`).set(t.auth)).status).toBe(204);
    for (const table of ['radcheck', 'radreply', 'radusergroup']) {
      expect(await api.db(table).where({ tenant_id: t.id, username: 'bob' }).count()).toEqual([{ count: '0' }]);
    }
    expect(await api.db('subscriptions').where({ subscriber_id: s.id }).count()).toEqual([{ count: '0' }]);
    expect((await request(api.app).get(`/api/v1/subscribers/${s.id}`).set(t.auth)).status).toBe(404);
  });

  it('records every step in the audit trail, newest first, also after the delete', async () => {
    const { t, p2, s, post } = await bob();
    for (const [path, body] of [
      ['/suspend', { reason: 'unpaid' }],
      ['/activate', {}],
      ['/renew', {}],
      ['/change-plan', { planId: p2.id }],
      ['/reset-password', { password: 'pw2' }],
    ] as const) {
      expect((await post(path, body)).status).toBeLessThan(300);
    }
    expect((await request(api.app).delete(`/api/v1/subscribers/${s.id}`).set(t.auth)).status).toBe(204);
    const trail = (
      await request(api.app).get(`/api/v1/audit-log?entity=subscriber&entityId=${s.id}`).set(t.auth)
    ).body.data.map((a: { action: string }) => a.action);
    expect(trail).toEqual([
      'subscriber.delete',
      'subscriber.reset_password',
      'subscriber.change_plan',
      'subscriber.renew',
      'subscriber.activate',
      'subscriber.suspend',
      'subscriber.create',
    ]);
  });

  it('lists with pagination and filters', async () => {
    const t = await api.newTenant();
    const p = await plan(t);
    for (let i = 0; i < 5; i++)
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(t.auth)
        .send({ username: `page${i}`, password: 'x', planId: p.id, fullName: i === 2 ? 'Achieng Otieno' : undefined });
    await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username: 'noplan', password: 'x' });
    const first = await request(api.app).get('/api/v1/subscribers?limit=2&offset=0').set(t.auth);
    expect(first.body.page).toEqual({ limit: 2, offset: 0, total: 6 });
    expect(first.body.data).toHaveLength(2);
    const byName = await request(api.app).get('/api/v1/subscribers?q=achieng').set(t.auth);
    expect(byName.body.data.map((s: { username: string }) => s.username)).toEqual(['page2']);
    const expired = await request(api.app).get('/api/v1/subscribers?expired=true').set(t.auth);
    expect(expired.body.data.map((s: { username: string }) => s.username)).toEqual(['noplan']);
    const byPlan = await request(api.app).get(`/api/v1/subscribers?planId=${p.id}`).set(t.auth);
    expect(byPlan.body.page.total).toBe(5);
  });
});

describe('NAS devices', () => {
  it('adds a NAS, never returns its secret, and enforces address sharing rules', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const addr = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.1`;
    const n = await request(api.app)
      .post('/api/v1/nas')
      .set(a.auth)
      .send({ name: 'r1', address: addr, secret: 'sekret123' });
    expect(n.status).toBe(201);
    expect(n.body).toMatchObject({ address: addr, kind: 'mikrotik', coaPort: 3799 });
    expect(JSON.stringify(n.body)).not.toContain('sekret123');
    // another tenant may not take the address
    const taken = await request(api.app)
      .post('/api/v1/nas')
      .set(b.auth)
      .send({ name: 'r2', address: addr, identifier: 'b-router', secret: 'sekret123' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('NAS_ADDRESS_IN_USE');
    // the same tenant may share it with identifiers and the same secret
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(a.auth)
          .send({ name: 'r3', address: addr, identifier: 'x', secret: 'sekret123' })
      ).status,
    ).toBe(409);
    expect(
      (await request(api.app).patch(`/api/v1/nas/${n.body.id}`).set(a.auth).send({ identifier: 'r1' })).status,
    ).toBe(200);
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(a.auth)
          .send({ name: 'r3', address: addr, identifier: 'r3', secret: 'other-secret' })
      ).status,
    ).toBe(400);
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(a.auth)
          .send({ name: 'r3', address: addr, identifier: 'r3', secret: 'sekret123' })
      ).status,
    ).toBe(201);
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(a.auth)
          .send({ name: 'bad', address: 'not-an-ip', secret: 'sekret123' })
      ).status,
    ).toBe(400);
    expect((await request(api.app).get(`/api/v1/nas/${n.body.id}`).set(b.auth)).status).toBe(404);
    const v6 = await request(api.app)
      .post('/api/v1/nas')
      .set(a.auth)
      .send({ name: 'v6', address: '2001:DB8:0:0::5', secret: 'sekret123' });
    expect(v6.body.address).toBe('2001:db8::5');
  });
});

describe('roles and API keys', () => {
  it('operators read and suspend but cannot create; API keys are shown once and revocable', async () => {
    const t = await api.newTenant();
    const p = await plan(t);
    const s = (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(t.auth)
        .send({ username: `o${suffix()}`, password: 'x', planId: p.id })
    ).body;
    const key = await request(api.app)
      .post('/api/v1/api-keys')
      .set(t.auth)
      .send({ name: 'support desk', role: 'tenant_operator' });
    expect(key.status).toBe(201);
    expect(key.body.key).toMatch(/^lk_[0-9a-f]{12}_/);
    const row = await api.db('api_keys').where({ id: key.body.id }).first();
    expect(row.key_hash).not.toContain(key.body.key.split('_')[2]);
    const listed = await request(api.app).get('/api/v1/api-keys').set(t.auth);
    expect(JSON.stringify(listed.body)).not.toContain(key.body.key);

    const op = { 'X-API-Key': key.body.key };
    expect((await request(api.app).get('/api/v1/subscribers').set(op)).status).toBe(200);
    expect((await request(api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(op).send({})).status).toBe(200);
    const denied = await request(api.app).post('/api/v1/subscribers').set(op).send({ username: 'nope', password: 'x' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');

    expect((await request(api.app).delete(`/api/v1/api-keys/${key.body.id}`).set(t.auth)).status).toBe(200);
    expect((await request(api.app).get('/api/v1/subscribers').set(op)).status).toBe(401);
    expect(
      (
        await request(api.app)
          .get('/api/v1/subscribers')
          .set('X-API-Key', 'lk_000000000000_' + 'A'.repeat(43))
      ).status,
    ).toBe(401);
  });
});
