/**
 * NAS RouterOS API credentials (write-only) and GET /nas/{id}/mikrotik.rsc through the REST API.
 */
import request from 'supertest';
import { createTestApi, suffix, testApp, testConfig, TestApi, TestTenant } from './../helpers/api';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(async () => {
  await api.close();
});

const API_PASSWORD = 'Api-P@ss-w0rd-€';
const SECRET = 'Rad$ec?"ret\\1';

let octet = Math.floor(Math.random() * 200);
const uniqueAddress = () =>
  `10.${(octet = (octet + 1) % 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

async function nas(t: TestTenant, body: Record<string, unknown> = {}) {
  const res = await request(api.app)
    .post('/api/v1/nas')
    .set(t.auth)
    .send({ name: `r-${suffix()}`, address: uniqueAddress(), secret: SECRET, ...body });
  expect(res.status).toBe(201);
  return res.body as {
    id: string;
    name: string;
    address: string;
    routerOsApi: { configured: boolean; port: number; tls: boolean };
  };
}

function script(
  t: TestTenant | { auth: Record<string, string> },
  id: string,
  query: Record<string, string> = { radiusServer: '203.0.113.5' },
) {
  return request(api.app).get(`/api/v1/nas/${id}/mikrotik.rsc`).query(query).set(t.auth);
}

describe('RouterOS API credentials', () => {
  it('are write-only: stored, reported as configured, never returned', async () => {
    const t = await api.newTenant();
    const created = await nas(t, { routerOsApi: { username: 'lango-api', password: API_PASSWORD } });
    expect(created.routerOsApi).toEqual({ configured: true, port: 8728, tls: false });

    const row = await api.db('nas').where({ id: created.id }).first();
    expect(row).toMatchObject({
      api_username: 'lango-api',
      api_password: API_PASSWORD,
      api_port: 8728,
      api_tls: false,
    });

    const responses = [
      await request(api.app).get(`/api/v1/nas/${created.id}`).set(t.auth),
      await request(api.app).get('/api/v1/nas').set(t.auth),
      await request(api.app)
        .patch(`/api/v1/nas/${created.id}`)
        .set(t.auth)
        .send({ routerOsApi: { password: `${API_PASSWORD}-2` } }),
      await request(api.app).get(`/api/v1/audit-log?entity=nas&entityId=${created.id}`).set(t.auth),
    ];
    for (const res of responses) {
      expect(res.status).toBe(200);
      const text = JSON.stringify(res.body);
      expect(text).not.toContain('Api-P@ss');
      expect(text).not.toContain('Rad$ec');
    }
    expect(responses[1]?.body.data[0].routerOsApi).toEqual({ configured: true, port: 8728, tls: false });
    expect((await api.db('nas').where({ id: created.id }).first()).api_password).toBe(`${API_PASSWORD}-2`);
    // the audit trail says the password changed, not what it is
    const trail = responses[3]?.body.data as Array<{ action: string; data: Record<string, any> }>;
    expect(trail.find((a) => a.action === 'nas.update')?.data.routerOsApi).toEqual({ password: '[changed]' });
  });

  it('can be added later, switched to api-ssl, moved and removed', async () => {
    const t = await api.newTenant();
    const n = await nas(t);
    expect(n.routerOsApi).toEqual({ configured: false, port: 8728, tls: false });
    const patch = (routerOsApi: unknown) =>
      request(api.app).patch(`/api/v1/nas/${n.id}`).set(t.auth).send({ routerOsApi });

    // a username alone is not enough when there is no password yet
    const half = await patch({ username: 'lango-api' });
    expect(half.status).toBe(400);
    expect(half.body.error.details.errors[0].path).toBe('body.routerOsApi.password');

    expect((await patch({ username: 'lango-api', password: '' })).body.routerOsApi).toEqual({
      configured: true,
      port: 8728,
      tls: false,
    });
    expect((await patch({ tls: true })).body.routerOsApi).toEqual({ configured: true, port: 8729, tls: true });
    expect((await patch({ port: 18729 })).body.routerOsApi).toEqual({ configured: true, port: 18729, tls: true });
    expect((await patch(null)).body.routerOsApi).toEqual({ configured: false, port: 8728, tls: false });
    expect(await api.db('nas').where({ id: n.id }).first()).toMatchObject({ api_username: null, api_password: null });
  });

  it('are validated', async () => {
    const t = await api.newTenant();
    const bad = [
      { routerOsApi: { username: 'lango-api' } },
      { routerOsApi: { username: 'lango-api', password: 'x', port: 0 } },
      { routerOsApi: { username: 'lango-api', password: 'x', tls: 'yes' } },
      { routerOsApi: { username: 'lango-api', password: 'x', colour: 'red' } },
      { routerOsApi: { username: 'bad\nname', password: 'x' } },
    ];
    for (const body of bad) {
      const res = await request(api.app)
        .post('/api/v1/nas')
        .set(t.auth)
        .send({ name: 'r', address: uniqueAddress(), secret: SECRET, ...body });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      expect(res.body.error.details.errors[0].path).toMatch(/^body\.routerOsApi/);
    }
  });
});

describe('GET /nas/{id}/mikrotik.rsc', () => {
  it('renders the RouterOS script for that NAS as text/plain', async () => {
    const t = await api.newTenant();
    const n = await nas(t, {
      identifier: 'kibera-core',
      routerOsApi: { username: 'lango-api', password: API_PASSWORD },
    });
    const res = await script(t, n.id, { radiusServer: '203.0.113.5', portalHost: 'pay.example.co.ke' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-store');
    const text = res.text;
    expect(text).toContain(`#   NAS      "${n.name}"`);
    expect(text).toContain(`("${t.slug}")`);
    expect(text).toContain(':local langoRadius "203.0.113.5"');
    // the NAS's secret, escaped for RouterOS
    expect(text).toContain(
      'secret="Rad\\$ec\\?\\"ret\\\\1" service="hotspot,ppp" authentication-port=1812 accounting-port=1813',
    );
    expect(text).toContain('/radius incoming set accept=yes port=3799');
    expect(text).toContain(
      '/ip hotspot profile set [find name="hsprof1"] use-radius=yes radius-accounting=yes radius-interim-update=received',
    );
    expect(text).toContain('/ppp aaa set use-radius=yes accounting=yes interim-update=5m');
    expect(text).toContain('/ip hotspot walled-garden add dst-host="pay.example.co.ke" action=allow');
    expect(text).toContain('/ip hotspot walled-garden ip add dst-host="pay.example.co.ke" action=accept');
    expect(text).toContain('src-address-list="lango-blocked"');
    expect(text).toContain('/system identity set name="kibera-core"');
    expect(text).not.toContain('Api-P@ss');
    expect(text).not.toMatch(/\{\{|\}\}/);

    const trail = await request(api.app).get(`/api/v1/audit-log?entity=nas&entityId=${n.id}`).set(t.auth);
    expect(trail.body.data[0]).toMatchObject({
      action: 'nas.mikrotik_script',
      data: { radiusServer: '203.0.113.5', portalHost: 'pay.example.co.ke' },
    });
  });

  it('takes services, hotspotProfile and the NAS CoA port into account', async () => {
    const t = await api.newTenant();
    const n = await nas(t, { coaPort: 13799 });
    const ppp = await script(t, n.id, { radiusServer: 'radius.lango.example', services: 'ppp' });
    expect(ppp.status).toBe(200);
    expect(ppp.text).toContain('service="ppp"');
    expect(ppp.text).toContain('/radius incoming set accept=yes port=13799');
    expect(ppp.text).toContain(':set langoRadius [:resolve $langoRadius]');
    expect(ppp.text).not.toContain('\n/ip hotspot');
    expect(ppp.text).toContain('No portal host was given');

    const hs = await script(t, n.id, { radiusServer: '2001:db8::53', services: 'hotspot', hotspotProfile: 'lango hs' });
    expect(hs.status).toBe(200);
    expect(hs.text).toContain('[find name="lango hs"] use-radius=yes');
    expect(hs.text).toContain(':local langoRadius "2001:db8::53"');
    expect(hs.text).not.toContain('\n/ppp aaa');
  });

  it('defaults the RADIUS address to the request host, and refuses a loopback one', async () => {
    const t = await api.newTenant();
    const n = await nas(t);
    const byHost = await request(api.app)
      .get(`/api/v1/nas/${n.id}/mikrotik.rsc`)
      .set(t.auth)
      .set('Host', 'lango.example.co.ke:3000');
    expect(byHost.status).toBe(200);
    expect(byHost.text).toContain(':local langoRadius "lango.example.co.ke"');

    const loopback = await request(api.app)
      .get(`/api/v1/nas/${n.id}/mikrotik.rsc`)
      .set(t.auth)
      .set('Host', '127.0.0.1:3000');
    expect(loopback.status).toBe(400);
    expect(loopback.body.error.details.errors[0].path).toBe('query.radiusServer');
  });

  it('uses LANGO_PUBLIC_RADIUS_ADDRESS and the FreeRADIUS ports from config when given', async () => {
    const t = await api.newTenant();
    const n = await nas(t);
    const { app } = testApp(
      api.db,
      api.services,
      testConfig({
        LANGO_PUBLIC_RADIUS_ADDRESS: 'radius.isp.example',
        LANGO_RADIUS_AUTH_PORT: '11812',
        LANGO_RADIUS_ACCT_PORT: '11813',
      }),
    );
    const res = await request(app).get(`/api/v1/nas/${n.id}/mikrotik.rsc`).set(t.auth);
    expect(res.status).toBe(200);
    expect(res.text).toContain(':local langoRadius "radius.isp.example"');
    expect(res.text).toContain('authentication-port=11812 accounting-port=11813');
  });

  it("is 404 for another tenant's NAS, 403 for an operator, 400 for a bad query, 409 for a gateway", async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const n = await nas(a);
    const other = await script(b, n.id);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('NAS_NOT_FOUND');
    expect(other.text).not.toContain('Rad$ec');

    const key = await request(api.app)
      .post('/api/v1/api-keys')
      .set(a.auth)
      .send({ name: 'desk', role: 'tenant_operator' });
    const operator = await script({ auth: { 'X-API-Key': key.body.key } }, n.id);
    expect(operator.status).toBe(403);
    expect(operator.body.error.code).toBe('FORBIDDEN');
    expect((await request(api.app).get(`/api/v1/nas/${n.id}/mikrotik.rsc`)).status).toBe(401);

    // a platform admin names the tenant
    const admin = await script({ auth: { ...api.adminAuth, 'X-Tenant-Id': a.id } }, n.id);
    expect(admin.status).toBe(200);

    for (const [query, path] of [
      [{ radiusServer: '203.0.113.5', services: 'wifi' }, 'query.services'],
      [{ radiusServer: '203.0.113.5', services: 'hotspot,' }, 'query.services'],
      [{ radiusServer: 'not a host!' }, 'query.radiusServer'],
      [{ radiusServer: '203.0.113.5', portalHost: '2001:db8::1' }, 'query.portalHost'],
      [{ radiusServer: '203.0.113.5', hotspotProfile: 'bad\nname' }, 'query.hotspotProfile'],
      [{ radiusServer: '203.0.113.5', colour: 'red' }, 'query.colour'],
    ] as const) {
      const res = await script(a, n.id, query);
      expect([JSON.stringify(query), res.status]).toEqual([JSON.stringify(query), 400]);
      expect(res.body.error.details.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await request(api.app).get('/api/v1/nas/not-a-uuid/mikrotik.rsc').set(a.auth)).status).toBe(400);

    const gw = await nas(a, { kind: 'gateway' });
    expect((await script(a, gw.id)).status).toBe(409);
  });

  it('is in the OpenAPI document as text/plain for admins', () => {
    const op = api.openapi.paths['/api/v1/nas/{id}/mikrotik.rsc'].get;
    expect(op['x-roles']).toEqual(['platform_admin', 'tenant_admin']);
    expect(op.responses['200'].content).toHaveProperty(['text/plain']);
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual([
      'id',
      'radiusServer',
      'portalHost',
      'hotspotProfile',
      'services',
    ]);
  });
});
