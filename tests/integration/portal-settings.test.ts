/** The portal settings API: defaults without a row, partial changes, validation, tenant scope. */
import request from 'supertest';
import { createTestApi, TestApi, TestTenant } from '../helpers/api';

let api: TestApi;
let A: TestTenant;
let B: TestTenant;

beforeAll(async () => {
  api = await createTestApi();
  A = await api.newTenant();
  B = await api.newTenant();
});
afterAll(async () => api?.close());

it('answers the defaults, keeps fields not given, lower-cases colours and DNS names, and is per tenant', async () => {
  const before = await request(api.app).get('/api/v1/portal-settings').set(A.auth);
  expect(before.status).toBe(200);
  expect(before.body).toMatchObject({ displayName: null, primaryColor: '#0b6e4f', hotspotDnsNames: [], paybill: null });
  const p1 = await request(api.app)
    .patch('/api/v1/portal-settings')
    .set(A.auth)
    .send({
      displayName: 'Mtaani',
      primaryColor: '#AA2200',
      hotspotDnsNames: ['Hotspot.Mtaani.co.ke'],
      supportPhone: '+254700000001',
      paybill: '123456',
    });
  expect([p1.status, p1.body]).toEqual([
    200,
    expect.objectContaining({
      displayName: 'Mtaani',
      primaryColor: '#aa2200',
      hotspotDnsNames: ['hotspot.mtaani.co.ke'],
      supportPhone: '+254700000001',
    }),
  ]);
  const p2 = await request(api.app).patch('/api/v1/portal-settings').set(A.auth).send({ till: '654321' });
  expect(p2.body).toMatchObject({ displayName: 'Mtaani', paybill: '123456', till: '654321' });
  expect((await request(api.app).get('/api/v1/portal-settings').set(B.auth)).body.displayName).toBeNull();
});

it.each([
  [{ primaryColor: 'red' }],
  [{ logoDataUrl: 'data:image/svg+xml;base64,PHN2Zz4=' }],
  [{ logoDataUrl: `data:image/png;base64,${'A'.repeat(17000)}` }],
  [{ logoDataUrl: `data:image/png;base64,${Buffer.from('<svg onload="alert(1)"/>').toString('base64')}` }],
  [{ hotspotDnsNames: ['not a host'] }],
  [{ paybill: '12' }],
  [{ supportPhone: 'call me' }],
  [{ unknown: 1 }],
])('refuses %j with VALIDATION_FAILED and changes nothing', async (body) => {
  const before = (await request(api.app).get('/api/v1/portal-settings').set(A.auth)).body;
  const res = await request(api.app).patch('/api/v1/portal-settings').set(A.auth).send(body);
  expect([res.status, res.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
  expect((await request(api.app).get('/api/v1/portal-settings').set(A.auth)).body).toEqual(before);
});

it('a logo by REST: checked by its bytes, served by the portal, removed with null', async () => {
  const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(64, 1)]);
  const res = await request(api.app)
    .patch('/api/v1/portal-settings')
    .set(A.auth)
    .send({ logoDataUrl: `data:image/png;base64,${webp.toString('base64')}` });
  expect(res.status).toBe(200);
  // The bytes say WebP, whatever the data: URL said.
  expect(res.body.logo).toMatchObject({ contentType: 'image/webp', bytes: webp.length });
  const served = await request(api.app).get(`/portal/${A.slug}/logo`);
  expect([served.status, served.headers['content-type'], served.headers['cache-control']]).toEqual([
    200,
    'image/webp',
    'public, max-age=300',
  ]);
  expect(served.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
  const gone = await request(api.app).patch('/api/v1/portal-settings').set(A.auth).send({ logoDataUrl: null });
  expect(gone.body.logo).toBeNull();
  expect((await request(api.app).get(`/portal/${A.slug}/logo`)).status).toBe(404);
});

it('staff may read; only admins change', async () => {
  const res = await request(api.app).patch('/api/v1/portal-settings').send({ displayName: 'x' });
  expect(res.status).toBe(401);
});
