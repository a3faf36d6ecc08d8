/**
 * The HTML surfaces (portal, dashboard: forms, cookies, CSRF) and the callbacks surface (raw
 * bodies with size and type limits), each through its own middleware.
 */
import request from 'supertest';
import { createTestApi, suffix, TestApi, TestTenant } from '../helpers/api';
import { readCookies } from '../../src/http/middleware/cookies';
import { cspViolations } from '../../src/http/callbacks';

let api: TestApi;
let t: TestTenant;
beforeAll(async () => {
  api = await createTestApi();
  t = await api.newTenant();
});
afterAll(() => api.close());

/** The cookies a response sets, by name: [value, attributes in lower case]. */
function setCookies(res: request.Response): Record<string, { value: string; attrs: string }> {
  const out: Record<string, { value: string; attrs: string }> = {};
  for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
    const [pair, ...attrs] = line.split(';');
    const [name, value] = pair!.split('=');
    out[name!.trim()] = { value: decodeURIComponent(value ?? ''), attrs: attrs.join(';').toLowerCase() };
  }
  return out;
}

const hidden = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];

/** A browser: keeps the cookies it is given and sends them back. */
function browser() {
  const jar: Record<string, string> = {};
  const keep = (res: request.Response) => {
    for (const [name, c] of Object.entries(setCookies(res))) {
      if (c.attrs.includes('expires=thu, 01 jan 1970')) delete jar[name];
      else jar[name] = c.value;
    }
    return res;
  };
  const cookieHeader = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('; ');
  return {
    jar,
    get: async (path: string) => keep(await request(api.app).get(path).set('Cookie', cookieHeader())),
    post: async (path: string, form: Record<string, string>) =>
      keep(await request(api.app).post(path).set('Cookie', cookieHeader()).type('form').send(form)),
  };
}

describe('the captive portal', () => {
  it("lists a tenant's active plans by its slug, escaped, with the HTML surface's headers", async () => {
    const create = (body: Record<string, unknown>) =>
      request(api.app)
        .post('/api/v1/plans')
        .set(t.auth)
        .send({ durationSeconds: 86400, ...body });
    expect(
      (
        await create({
          name: `Daily <b>1 GB</b> ${suffix()}`,
          price: 5000,
          dataQuotaBytes: 1024 ** 3,
          rateLimit: '2M/5M',
        })
      ).status,
    ).toBe(201);
    expect((await create({ name: `Retired ${suffix()}`, active: false })).status).toBe(201);
    const res = await request(api.app).get(`/portal/${t.slug}`);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/html');
    expect(res.text).toContain('Daily &lt;b&gt;1 GB&lt;/b&gt;');
    expect(res.text).toContain('KES 50');
    expect(res.text).toContain('1 GB');
    expect(res.text).not.toContain('Retired');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain('report-uri /callbacks/csp-report');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('is a 404 page for an unknown tenant, a 403 page for a suspended one', async () => {
    const unknown = await request(api.app).get('/portal/no-such-tenant');
    expect([unknown.status, unknown.type]).toEqual([404, 'text/html']);
    expect(unknown.text).toContain('TENANT_NOT_FOUND');
    const s = await api.newTenant();
    expect(
      (await request(api.app).patch(`/api/v1/tenants/${s.id}`).set(api.adminAuth).send({ status: 'suspended' })).status,
    ).toBe(200);
    const suspended = await request(api.app).get(`/portal/${s.slug}`);
    expect([suspended.status, suspended.type]).toEqual([403, 'text/html']);
    expect(suspended.text).toContain('TENANT_SUSPENDED');
  });
});

describe('the dashboard', () => {
  it('signs in through a form with a CSRF token, keeps the token in an HttpOnly cookie, shows the tenant, signs out', async () => {
    const b = browser();
    expect((await b.get('/dashboard/')).headers.location).toBe('/dashboard/login');
    const form = await b.get('/dashboard/login');
    expect(form.status).toBe(200);
    const csrf = setCookies(form).lango_csrf!;
    expect(csrf.attrs).toContain('httponly');
    expect(csrf.attrs).toContain('samesite=strict');
    const token = hidden(form.text, '_csrf')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toBe(csrf.value);

    const wrong = await b.post('/dashboard/login', { _csrf: token, email: t.adminEmail, password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('wrong email or password');

    const signedIn = await b.post('/dashboard/login', {
      _csrf: token,
      email: t.adminEmail,
      password: 'tenant-password-1',
      tenant: '',
    });
    expect([signedIn.status, signedIn.headers.location]).toEqual([303, '/dashboard/']);
    const session = setCookies(signedIn).lango_session!;
    expect(session.attrs).toContain('httponly');
    expect(session.attrs).toContain('path=/dashboard');
    expect(session.attrs).toContain('samesite=strict');
    expect(session.attrs).toContain('max-age=3600');

    const home = await b.get('/dashboard/');
    expect(home.status).toBe(200);
    expect(home.text).toContain(t.adminEmail);
    expect(home.text).toContain(`Tenant ${t.slug}`);
    expect(home.text).toMatch(/Subscribers<b>\d+/);

    const out = await b.post('/dashboard/logout', { _csrf: hidden(home.text, '_csrf')! });
    expect([out.status, out.headers.location]).toEqual([303, '/dashboard/login']);
    expect(b.jar.lango_session).toBeUndefined();
    // Logging out ended the token itself, not only the cookie.
    const replay = await request(api.app).get('/api/v1/me').set('Authorization', `Bearer ${session.value}`);
    expect(replay.status).toBe(401);
  });

  it('refuses a form without its token, with a token of another browser, or a forged one (CSRF_FAILED)', async () => {
    const a = browser();
    const other = browser();
    const tokenA = hidden((await a.get('/dashboard/login')).text, '_csrf')!;
    await other.get('/dashboard/login');
    const creds = { email: t.adminEmail, password: 'tenant-password-1' };
    for (const [what, res] of [
      ['no token', await a.post('/dashboard/login', creds)],
      ["another browser's token", await other.post('/dashboard/login', { ...creds, _csrf: tokenA })],
      ['a forged token', await a.post('/dashboard/login', { ...creds, _csrf: 'A'.repeat(43) })],
    ] as const) {
      expect([what, res.status]).toEqual([what, 403]);
      expect(res.text).toContain('CSRF_FAILED');
      expect(setCookies(res).lango_session).toBeUndefined();
    }
    // No cookie at all (a cross-site form post from a browser that never saw the page).
    const bare = await request(api.app)
      .post('/dashboard/login')
      .type('form')
      .send({ ...creds, _csrf: tokenA });
    expect(bare.status).toBe(403);
  });

  it('shows a platform admin the platform, and drops a cookie that is no longer valid', async () => {
    const b = browser();
    b.jar.lango_session = 'not-a-token';
    expect((await b.get('/dashboard/')).headers.location).toBe('/dashboard/login');
    expect(b.jar.lango_session).toBeUndefined();
    b.jar.lango_session = api.adminAuth.Authorization.replace('Bearer ', '');
    const home = await b.get('/dashboard/');
    expect(home.status).toBe(200);
    expect(home.text).toMatch(/Tenants<\/th><td>\d+/);
  });

  it('parses cookies leniently: quoted, encoded, malformed and repeated values', () => {
    expect(readCookies('a=1; b="two"; c=%E2%9C%93; d=%zz; a=again; =x; e')).toEqual({ a: '1', b: 'two', c: '✓' });
    expect(readCookies(undefined)).toEqual({});
  });
});

describe('callbacks', () => {
  const report = {
    'csp-report': {
      'document-uri': 'http://h/portal/x',
      'blocked-uri': 'https://evil.example/x.js',
      'violated-directive': 'script-src',
    },
  };

  it('takes CSP reports in the browsers’ content types and answers 204', async () => {
    for (const type of ['application/csp-report', 'application/reports+json', 'application/json']) {
      const res = await request(api.app)
        .post('/callbacks/csp-report')
        .set('Content-Type', type)
        .send(JSON.stringify(report));
      expect([type, res.status]).toEqual([type, 204]);
    }
  });

  it('refuses another content type (415), a body over the limit (413) and bytes that are not JSON (400), in the JSON error shape', async () => {
    const form = await request(api.app).post('/callbacks/csp-report').type('form').send({ a: 'b' });
    expect([form.status, form.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const big = await request(api.app)
      .post('/callbacks/csp-report')
      .set('Content-Type', 'application/csp-report')
      .send(JSON.stringify({ pad: 'x'.repeat(17 * 1024) }));
    expect([big.status, big.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const garbage = await request(api.app)
      .post('/callbacks/csp-report')
      .set('Content-Type', 'application/csp-report')
      .send('{"csp-report": ');
    expect([garbage.status, garbage.body.error.code]).toEqual([400, 'BAD_JSON']);
    const missing = await request(api.app)
      .post('/callbacks/nothing-here')
      .set('Content-Type', 'application/json')
      .send('{}');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
  });

  it('reads both report formats and skips what is not a report', () => {
    expect(cspViolations(report)).toEqual([
      { document: 'http://h/portal/x', blocked: 'https://evil.example/x.js', directive: 'script-src' },
    ]);
    expect(
      cspViolations([
        { type: 'csp-violation', body: { documentURL: 'd', blockedURL: 'b', effectiveDirective: 'img-src' } },
        { type: 'other' },
        7,
        null,
      ]),
    ).toEqual([{ document: 'd', blocked: 'b', directive: 'img-src' }]);
    expect(cspViolations([{ 'csp-report': { 'blocked-uri': 'x'.repeat(1000) } }])[0]!.blocked).toHaveLength(300);
  });
});
