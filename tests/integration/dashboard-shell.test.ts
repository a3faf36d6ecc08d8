/**
 * The dashboard's own pages through supertest: the platform view and a platform admin's choice
 * of tenant, the guard, bad search input shown on the page (400), and the reports CSV.
 */
import request from 'supertest';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';

let api: TestApi;
let t: TestTenant;
beforeAll(async () => {
  api = await createTestApi();
  t = await api.newTenant();
});
afterAll(() => api.close());

const csrfOf = (page: string) => /name="_csrf" value="([^"]*)"/.exec(page)?.[1] ?? '';

/** A cookie jar over supertest, signed in with `token` as the session cookie. */
function staff(token: string) {
  const jar: Record<string, string> = { lango_session: token };
  const header = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('; ');
  const keep = (res: request.Response) => {
    for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (/expires=Thu, 01 Jan 1970/i.test(line)) delete jar[name!];
      else jar[name!] = decodeURIComponent(value ?? '');
    }
    return res;
  };
  return {
    get: async (path: string) => keep(await request(api.app).get(path).set('Cookie', header())),
    post: async (path: string, form: Record<string, string>) =>
      keep(await request(api.app).post(path).set('Cookie', header()).type('form').send(form)),
  };
}

describe('dashboard pages', () => {
  it('sends a request without a session to the login page', async () => {
    for (const path of ['/dashboard/sessions', '/dashboard/reports', '/dashboard/platform'])
      expect((await request(api.app).get(path)).headers.location).toBe('/dashboard/login');
  });

  it('lets a platform admin choose a tenant, and keeps tenant staff out of the platform view', async () => {
    const admin = staff(api.adminAuth.Authorization.replace('Bearer ', ''));
    const before = await admin.get('/dashboard/sessions');
    expect(before.status).toBe(400);
    expect(before.text).toContain('TENANT_REQUIRED');
    const platform = await admin.get('/dashboard/platform');
    expect(platform.status).toBe(200);
    expect(platform.text).toContain(`Tenant ${t.slug}`);
    expect(platform.text).toMatch(new RegExp(`data-tenant="${t.slug}">.*<td class="num">0</td><td class="num">0</td>`));
    expect((await admin.post('/dashboard/platform/tenant', { tenantId: t.id })).status).toBe(403); // no token
    const chose = await admin.post('/dashboard/platform/tenant', { tenantId: t.id, _csrf: csrfOf(platform.text) });
    expect([chose.status, chose.headers.location]).toEqual([303, '/dashboard/']);
    const home = await admin.get('/dashboard/');
    expect(home.text).toContain(`Acting on Tenant ${t.slug}.`);
    expect((await admin.get('/dashboard/sessions')).status).toBe(200);

    const tenantStaff = staff(t.token);
    expect((await tenantStaff.get('/dashboard/platform')).status).toBe(403);
    expect((await tenantStaff.get('/dashboard/')).text).not.toContain('/dashboard/platform');
  });

  it('shows bad search input and bad report ranges on the page, keeping what was typed', async () => {
    const s = staff(t.token);
    const bad = await s.get('/dashboard/sessions?ip=10.0.0.999&username=%3Cb%3E');
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('Check the search');
    expect(bad.text).toContain('value="&lt;b&gt;"');
    const reversed = await s.get('/dashboard/reports?name=usage&from=2026-11-10&to=2026-11-01');
    expect(reversed.text).toContain('is after to');
    const csv = await s.get('/dashboard/reports.csv?name=usage&from=2026-11-01&to=2026-11-10');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toBe(
      'day,users,input_octets,output_octets,total_octets,session_seconds,sessions',
    );
    expect((await s.get('/dashboard/reports.csv?name=usage&from=2026-01-01&to=2026-12-31&x=1')).status).toBe(400);
  });
});
