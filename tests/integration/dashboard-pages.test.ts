/**
 * The dashboard's tenant pages (subscribers, plans, NAS, vouchers, payments, settings) through
 * the HTML surface with a staff session cookie: forms validated with the modules' schemas (a
 * clear error, what was typed kept), CSRF on every change, operators read but do not change,
 * tenants never see each other's rows, secrets never shown.
 */
import request from 'supertest';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { c2bBody, receiptCode } from '../helpers/mpesa';

let api: TestApi;
let A: TestTenant;
let B: TestTenant;

beforeAll(async () => {
  api = await createTestApi(undefined, undefined, { env: { LANGO_PUBLIC_URL: 'http://portal.test' } });
  A = await api.newTenant();
  B = await api.newTenant();
});
afterAll(() => api.close());

const hidden = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];

/** A browser signed in with `token` (the session cookie holds the staff token). */
function browser(token: string) {
  const jar: Record<string, string> = { lango_session: token };
  const keep = (res: request.Response) => {
    for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (/expires=thu, 01 jan 1970/i.test(line)) delete jar[name!.trim()];
      else jar[name!.trim()] = decodeURIComponent(value ?? '');
    }
    return res;
  };
  const cookieHeader = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('; ');
  let csrf = '';
  const b = {
    get: async (path: string) => {
      const res = keep(await request(api.app).get(path).set('Cookie', cookieHeader()));
      csrf = hidden(res.text, '_csrf') ?? csrf;
      return res;
    },
    /** Posts a form with this browser's CSRF token (after a GET), unless `_csrf` is given. */
    post: async (path: string, form: Record<string, string>) => {
      if (!csrf) await b.get('/dashboard/');
      return keep(
        await request(api.app)
          .post(path)
          .set('Cookie', cookieHeader())
          .type('form')
          .send({ _csrf: csrf, ...form }),
      );
    },
    /** Posts a multipart form with one file (and this browser's CSRF token unless `_csrf` is given). */
    upload: async (
      path: string,
      file: { name: string; data: Buffer; type: string },
      form: Record<string, string> = {},
    ) => {
      if (!csrf) await b.get('/dashboard/');
      let r = request(api.app).post(path).set('Cookie', cookieHeader());
      for (const [k, v] of Object.entries({ _csrf: csrf, ...form })) r = r.field(k, v);
      return keep(await r.attach(file.name, file.data, { filename: `${file.name}.bin`, contentType: file.type }));
    },
    /** Follows a 303 and returns the page (with its flash). */
    follow: async (res: request.Response) => {
      expect(res.status).toBe(303);
      return b.get(res.headers.location as string);
    },
  };
  return b;
}

async function operatorOf(t: TestTenant): Promise<string> {
  const email = `op-${suffix()}@lango.test`;
  const made = await request(api.app)
    .post('/api/v1/users')
    .set(t.auth)
    .send({ email, password: 'operator-password-1', role: 'tenant_operator' });
  expect(made.status).toBe(201);
  const login = await request(api.app).post('/api/v1/auth/login').send({ email, password: 'operator-password-1' });
  return login.body.token as string;
}

async function apiPlan(t: TestTenant, name = `Daily ${suffix()}`) {
  const res = await request(api.app)
    .post('/api/v1/plans')
    .set(t.auth)
    .send({ name, durationSeconds: 86400, price: 5000 });
  expect(res.status).toBe(201);
  return res.body;
}

describe('plans', () => {
  it('creates a plan from the form, in the tenant currency and units, and lists it escaped', async () => {
    const b = browser(A.token);
    const name = `Week <b>${suffix()}</b>`;
    const created = await b.post('/dashboard/plans', {
      name,
      price: '250.50',
      duration: '7',
      durationUnit: 'days',
      quota: '1.5',
      quotaUnit: 'GB',
      rateLimit: '2M/5M',
      simultaneousUse: '2',
      active: 'on',
      sellable: 'on',
    });
    const page = await b.follow(created);
    expect(page.text).toContain('Plan created.');
    expect(page.text).toContain(name.replace('<b>', '&lt;b&gt;').replace('</b>', '&lt;/b&gt;'));
    expect(page.text).not.toContain('<b>');
    const plan = (await request(api.app).get('/api/v1/plans').set(A.auth)).body.data.find((p: any) => p.name === name);
    expect(plan).toMatchObject({
      price: 25050,
      durationSeconds: 7 * 86400,
      dataQuotaBytes: Math.round(1.5 * 1024 ** 3),
      rateLimit: '2M/5M',
      simultaneousUse: 2,
      active: true,
      sellable: true,
    });
  });

  it('refuses bad input with the field named, keeping what was typed', async () => {
    const b = browser(A.token);
    const res = await b.post('/dashboard/plans', {
      name: 'Kept name',
      price: 'fifty',
      duration: '0',
      durationUnit: 'hours',
      quota: '',
      quotaUnit: 'GB',
      rateLimit: '',
      simultaneousUse: '1',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('Price (KES): enter an amount, 0 or more');
    expect(res.text).toContain('Duration: enter a whole number of at least 1 minute');
    expect(res.text).toContain('value="Kept name"');
    expect(res.text).toContain('value="fifty"');
    expect(res.text).toMatch(/<option value="hours" selected>/);
    expect((await request(api.app).get('/api/v1/plans').set(A.auth)).body.data.map((p: any) => p.name)).not.toContain(
      'Kept name',
    );
  });

  it('refuses a change without the CSRF token, and an operator may look but not change', async () => {
    const b = browser(A.token);
    const noToken = await b.post('/dashboard/plans', { _csrf: '', name: 'No token', duration: '1' });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain('security token');

    const op = browser(await operatorOf(A));
    const list = await op.get('/dashboard/plans');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain('Create plan');
    const plan = await apiPlan(A);
    const refused = await op.post(`/dashboard/plans/${plan.id}`, {
      name: 'Renamed',
      duration: '1',
      durationUnit: 'days',
    });
    expect(refused.status).toBe(403);
    expect((await request(api.app).get(`/api/v1/plans/${plan.id}`).set(A.auth)).body.name).toBe(plan.name);
  });

  it("never shows another tenant's plan", async () => {
    const plan = await apiPlan(A, `A only ${suffix()}`);
    const b = browser(B.token);
    expect((await b.get('/dashboard/plans')).text).not.toContain(plan.name);
    expect((await b.get(`/dashboard/plans/${plan.id}`)).status).toBe(404);
    expect((await b.post(`/dashboard/plans/${plan.id}/delete`, {})).status).toBe(404);
    expect((await request(api.app).get(`/api/v1/plans/${plan.id}`).set(A.auth)).status).toBe(200);
  });
});

describe('subscribers', () => {
  it('creates one with a running plan, finds them by search, suspends and activates', async () => {
    const plan = await apiPlan(A);
    const b = browser(A.token);
    const username = `sub-${suffix()}`;
    const created = await b.post('/dashboard/subscribers', {
      username,
      password: 'their-password',
      planId: plan.id,
      startSubscription: 'on',
      phone: '0712345678',
    });
    const page = await b.follow(created);
    expect(page.text).toContain('Subscriber created.');
    expect(page.text).not.toContain('their-password');
    expect(page.text).toContain(plan.name);
    const found = await b.get(`/dashboard/subscribers?q=${username}`);
    expect(found.text).toContain(username);
    expect((await b.get(`/dashboard/subscribers?q=nobody-${suffix()}`)).text).toContain('No subscribers match.');

    const id = /\/dashboard\/subscribers\/([0-9a-f-]{36})/.exec(created.headers.location as string)![1]!;
    const sub = (await request(api.app).get(`/api/v1/subscribers/${id}`).set(A.auth)).body;
    expect(sub).toMatchObject({ username, planId: plan.id, phone: '0712345678' });
    expect(sub.expiresAt).not.toBeNull();
    const suspended = await b.follow(await b.post(`/dashboard/subscribers/${id}/suspend`, { reason: 'unpaid' }));
    expect(suspended.text).toContain('Suspended');
    expect((await request(api.app).get(`/api/v1/subscribers/${id}`).set(A.auth)).body.status).toBe('suspended');
    await b.follow(await b.post(`/dashboard/subscribers/${id}/activate`, {}));
    expect((await request(api.app).get(`/api/v1/subscribers/${id}`).set(A.auth)).body.status).toBe('active');
    expect((await browser(B.token).get(`/dashboard/subscribers/${id}`)).status).toBe(404);
  });

  it('a duplicate username is refused with the reason, the form kept (the password not)', async () => {
    const b = browser(A.token);
    const username = `dup-${suffix()}`;
    await b.follow(await b.post('/dashboard/subscribers', { username, password: 'pw-1' }));
    const again = await b.post('/dashboard/subscribers', { username, password: 'pw-secret-2', fullName: 'Kept Name' });
    expect(again.status).toBe(409);
    expect(again.text).toContain('value="Kept Name"');
    expect(again.text).not.toContain('pw-secret-2');
    const bad = await b.post('/dashboard/subscribers', { username: `x-${suffix()}`, password: 'pw', phone: 'call me' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Phone (M-Pesa): digits, like 0712345678');
  });
});

describe('payments', () => {
  it('assigns unallocated money to a subscriber by username, and the plan starts', async () => {
    const plan = await apiPlan(A);
    const account = (
      await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
        name: 'Paybill',
        kind: 'paybill',
        shortcode: '600111',
        environment: 'sandbox',
        consumerKey: 'ck-value-1',
        consumerSecret: 'cs-value-2',
        passkey: 'pk-value-3',
      })
    ).body;
    const username = `pay-${suffix()}`;
    const sub = (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(A.auth)
        .send({ username, password: 'pw-123456', planId: plan.id, startSubscription: false })
    ).body;
    const transId = receiptCode();
    await request(api.app)
      .post(account.callbackPaths.c2bConfirmation)
      .send(c2bBody({ transId, amountKes: 50, shortcode: '600111', billRef: 'TYPO', msisdn: '2547****999' }))
      .expect(200);

    const b = browser(A.token);
    const queue = await b.get('/dashboard/payments/unallocated');
    expect(queue.text).toContain(transId);
    expect(queue.text).toContain('no subscriber');
    const payment = (await request(api.app).get('/api/v1/payments?allocation=unallocated').set(A.auth)).body.data.find(
      (p: any) => p.mpesaReceipt === transId,
    );
    expect((await browser(B.token).post(`/dashboard/payments/${payment.id}/assign`, { username })).status).toBe(404);
    const unknown = await b.post(`/dashboard/payments/${payment.id}/assign`, { username: 'nobody-here' });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('no subscriber is called');
    expect(unknown.text).toContain('value="nobody-here"');

    const done = await b.follow(await b.post(`/dashboard/payments/${payment.id}/assign`, { username }));
    expect(done.text).toContain('Assigned');
    expect(done.text).not.toContain(transId);
    const after = (await request(api.app).get(`/api/v1/subscribers/${sub.id}/subscriptions`).set(A.auth)).body;
    expect(after.data).toHaveLength(1);
    expect((await request(api.app).get(`/api/v1/payments/${payment.id}`).set(A.auth)).body.allocation).toBe(
      'allocated',
    );

    const listed = await b.get('/dashboard/payments?allocation=allocated&channel=c2b');
    expect(listed.text).toContain(transId);
    const bad = await b.get('/dashboard/payments?from=2026-13-45&phone=hello');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('a day, YYYY-MM-DD');
    expect((await browser(B.token).get('/dashboard/payments')).text).not.toContain(transId);
  });
});

describe('settings', () => {
  it('M-Pesa credentials are write-only ("set"), replaced when typed; operators do not see accounts', async () => {
    const b = browser(A.token);
    const made = await b.post('/dashboard/settings/mpesa', {
      name: 'Main till',
      kind: 'till',
      shortcode: '123456',
      storeNumber: '654321',
      environment: 'sandbox',
      consumerKey: 'CK-secret-value',
      consumerSecret: 'CS-secret-value',
      passkey: 'PK-secret-value',
    });
    const page = await b.follow(made);
    expect(page.text).toContain('M-Pesa account added.');
    const account = (await request(api.app).get('/api/v1/mpesa-accounts').set(A.auth)).body.find(
      (a: any) => a.name === 'Main till',
    );
    const detail = await b.get(`/dashboard/settings/mpesa/${account.id}`);
    for (const text of [page.text, detail.text])
      for (const v of ['CK-secret', 'CS-secret', 'PK-secret']) expect(text).not.toContain(v);
    expect(detail.text).toContain('set; type a new one to replace it');
    const saved = await b.post(`/dashboard/settings/mpesa/${account.id}`, {
      name: 'Main till 2',
      storeNumber: '654321',
      environment: 'sandbox',
      passkey: 'bad passkey with spaces',
      active: 'on',
    });
    expect(saved.status).toBe(400);
    expect(saved.text).toContain('Passkey');
    expect(saved.text).not.toContain('bad passkey with spaces');
    await b.follow(
      await b.post(`/dashboard/settings/mpesa/${account.id}`, {
        name: 'Main till 2',
        storeNumber: '654321',
        environment: 'sandbox',
        active: 'on',
      }),
    );
    expect((await request(api.app).get(`/api/v1/mpesa-accounts/${account.id}`).set(A.auth)).body.name).toBe(
      'Main till 2',
    );

    const op = browser(await operatorOf(A));
    const opPage = await op.get('/dashboard/settings');
    expect(opPage.status).toBe(200);
    expect(opPage.text).not.toContain('Main till');
    expect((await op.get(`/dashboard/settings/mpesa/${account.id}`)).status).toBe(403);
    expect((await browser(B.token).get(`/dashboard/settings/mpesa/${account.id}`)).status).toBe(404);
  });

  it('SMS settings: the API key is write-only, a bad sender ID is refused and kept; operators do not see them', async () => {
    const b = browser(A.token);
    const page = await b.get('/dashboard/settings');
    expect(page.text).toContain('Sent with the install’s Africa’s Talking account');
    const bad = await b.post('/dashboard/settings/sms', {
      enabled: 'on',
      senderId: 'Far too long <id>',
      username: 'mamanet',
      apiKey: 'AT-secret-key-value',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Sender ID (empty: the install’s): letters, digits and spaces, at most 11');
    expect(bad.text).toContain('value="Far too long &lt;id&gt;"');
    expect(bad.text).not.toContain('AT-secret-key-value');
    const lonely = await b.post('/dashboard/settings/sms', { enabled: 'on', username: 'mamanet' });
    expect(lonely.status).toBe(400);
    expect(lonely.text).toContain('username and API key together');
    const saved = await b.follow(
      await b.post('/dashboard/settings/sms', {
        enabled: 'on',
        senderId: 'MamaNet',
        username: 'mamanet',
        apiKey: 'AT-secret-key-value',
      }),
    );
    expect(saved.text).toContain('SMS settings saved');
    expect(saved.text).toContain('API key (set; type a new one to replace it)');
    expect(saved.text).not.toContain('AT-secret-key-value');
    expect((await request(api.app).get('/api/v1/sms-settings').set(A.auth)).body).toMatchObject({
      enabled: true,
      senderId: 'MamaNet',
      username: 'mamanet',
      apiKeySet: true,
    });
    // Off, and back to the install's account.
    await b.follow(await b.post('/dashboard/settings/sms', { senderId: 'MamaNet', useInstall: 'on' }));
    expect((await request(api.app).get('/api/v1/sms-settings').set(A.auth)).body).toMatchObject({
      enabled: false,
      username: null,
      apiKeySet: false,
    });
    // Without the CSRF token nothing changes.
    expect((await b.post('/dashboard/settings/sms', { _csrf: 'forged', enabled: 'on' })).status).toBe(403);
    expect((await request(api.app).get('/api/v1/sms-settings').set(A.auth)).body.enabled).toBe(false);
    expect((await request(api.app).get('/api/v1/sms-settings').set(B.auth)).body.enabled).toBe(true);

    const op = browser(await operatorOf(A));
    const opPage = await op.get('/dashboard/settings');
    expect(opPage.text).toContain('Only tenant admins see the SMS settings.');
    expect(opPage.text).not.toContain('MamaNet');
    expect((await op.post('/dashboard/settings/sms', { enabled: 'on' })).status).toBe(403);
  });

  it('portal logo: an upload checked by its bytes (no SVG, at most 200 KB), shown and cached by the portal', async () => {
    const b = browser(A.token);
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(150 * 1024, 7)]);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');
    const refusedSvg = await b.upload('/dashboard/settings/logo', { name: 'logo', data: svg, type: 'image/png' });
    expect(refusedSvg.status).toBe(400);
    expect(refusedSvg.text).toContain('a PNG, JPEG or WebP image (SVG is not accepted)');
    const big = Buffer.concat([png, Buffer.alloc(51 * 1024)]);
    const refusedBig = await b.upload('/dashboard/settings/logo', { name: 'logo', data: big, type: 'image/png' });
    expect(refusedBig.status).toBe(400);
    expect(refusedBig.text).toContain('at most 200 KB');
    // Without the CSRF token: refused, nothing stored.
    const forged = await b.upload(
      '/dashboard/settings/logo',
      { name: 'logo', data: png, type: 'image/png' },
      { _csrf: 'x' },
    );
    expect(forged.status).toBe(403);
    expect((await request(api.app).get('/api/v1/portal-settings').set(A.auth)).body.logo).toBeNull();
    // An operator may not upload.
    const op = browser(await operatorOf(A));
    await op.get('/dashboard/settings');
    expect((await op.upload('/dashboard/settings/logo', { name: 'logo', data: png, type: 'image/png' })).status).toBe(
      403,
    );

    const saved = await b.follow(
      await b.upload('/dashboard/settings/logo', { name: 'logo', data: png, type: 'application/octet-stream' }),
    );
    expect(saved.text).toContain('Logo saved');
    const logo = (await request(api.app).get('/api/v1/portal-settings').set(A.auth)).body.logo;
    expect(logo).toMatchObject({ contentType: 'image/png', bytes: png.length });
    const portal = await request(api.app).get(`/portal/${A.slug}`);
    expect(portal.text).toContain(`<img src="/portal/${A.slug}/logo?v=${logo.version}"`);
    const served = await request(api.app).get(`/portal/${A.slug}/logo?v=${logo.version}`);
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe('image/png');
    expect(served.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(served.headers['x-content-type-options']).toBe('nosniff');
    expect(Buffer.compare(served.body as Buffer, png)).toBe(0);
    const again = await request(api.app)
      .get(`/portal/${A.slug}/logo`)
      .set('If-None-Match', served.headers.etag as string);
    expect([again.status, again.headers['cache-control']]).toEqual([304, 'public, max-age=300']);
    expect((await request(api.app).get(`/portal/${B.slug}/logo`)).status).toBe(404);

    // Removed with the portal form's checkbox.
    await b.follow(
      await b.post('/dashboard/settings/portal', {
        primaryColor: '#aa3300',
        backgroundColor: '#fffaf0',
        hotspotDnsNames: '',
        removeLogo: 'on',
      }),
    );
    expect((await request(api.app).get(`/portal/${A.slug}/logo`)).status).toBe(404);
    expect((await request(api.app).get(`/portal/${A.slug}`)).text).not.toContain('/logo?v=');
  });

  it('portal branding: bad colour refused and kept; a good one shows on the portal', async () => {
    const b = browser(A.token);
    const bad = await b.post('/dashboard/settings/portal', {
      displayName: 'Kept <Net>',
      primaryColor: 'green',
      backgroundColor: '#ffffff',
      hotspotDnsNames: '',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Main colour: a colour like #0a7d32');
    expect(bad.text).toContain('value="Kept &lt;Net&gt;"');
    await b.follow(
      await b.post('/dashboard/settings/portal', {
        displayName: 'Mama Mboga WiFi',
        primaryColor: '#aa3300',
        backgroundColor: '#fffaf0',
        supportPhone: '+254711000111',
        hotspotDnsNames: 'hotspot.example.net\nlogin.example.net',
      }),
    );
    const portal = await request(api.app).get(`/portal/${A.slug}`);
    expect(portal.text).toContain('Mama Mboga WiFi');
    expect(portal.text).toContain('#aa3300');
    expect((await request(api.app).get('/api/v1/portal-settings').set(A.auth)).body.hotspotDnsNames).toEqual([
      'hotspot.example.net',
      'login.example.net',
    ]);
  });
});

describe('NAS and vouchers', () => {
  it('adds a router; its secret is never on a page, only in the downloaded script', async () => {
    const b = browser(A.token);
    const address = `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
    const made = await b.post('/dashboard/nas', {
      name: 'Shop router',
      address,
      secret: 'router-secret-xyz',
      kind: 'mikrotik',
      coaPort: '3799',
      requireMessageAuthenticator: 'on',
    });
    const page = await b.follow(made);
    expect(page.text).toContain('Router added');
    expect(page.text).not.toContain('router-secret-xyz');
    const id = /\/dashboard\/nas\/([0-9a-f-]{36})/.exec(made.headers.location as string)![1]!;
    const noServer = await b.post(`/dashboard/nas/${id}/mikrotik.rsc`, { radiusServer: '', hotspot: 'on' });
    expect(noServer.status).toBe(400);
    expect(noServer.text).toContain('the address or name routers reach FreeRADIUS at');
    const script = await b.post(`/dashboard/nas/${id}/mikrotik.rsc`, {
      radiusServer: 'radius.example.net',
      authPort: '1812',
      acctPort: '1813',
      hotspot: 'on',
      ppp: 'on',
      hotspotProfile: 'hsprof1',
    });
    expect(script.status).toBe(200);
    expect(script.headers['content-disposition']).toContain('lango.rsc');
    expect(script.text).toContain('router-secret-xyz');
    expect(script.text).toContain('radius.example.net');
    const op = browser(await operatorOf(A));
    expect((await op.get(`/dashboard/nas/${id}`)).text).not.toContain('Download script');
    expect(
      (await op.post(`/dashboard/nas/${id}/mikrotik.rsc`, { radiusServer: 'radius.example.net', hotspot: 'on' }))
        .status,
    ).toBe(403);
    expect(
      (
        await browser(B.token).post(`/dashboard/nas/${id}/mikrotik.rsc`, {
          radiusServer: 'r.example.net',
          hotspot: 'on',
        })
      ).status,
    ).toBe(404);
  });

  it('generates a batch and opens its print sheet under its own CSP', async () => {
    const plan = await apiPlan(A);
    const b = browser(A.token);
    const tooMany = await b.post('/dashboard/vouchers/batches', { planId: plan.id, quantity: '20000' });
    expect(tooMany.status).toBe(400);
    expect(tooMany.text).toContain('How many: a whole number from 1 to 10000');
    expect(tooMany.text).toContain('value="20000"');
    const made = await b.post('/dashboard/vouchers/batches', { planId: plan.id, quantity: '3', note: 'Shop <1>' });
    const page = await b.follow(made);
    expect(page.text).toContain('Batch generated');
    expect(page.text).toContain('Shop &lt;1&gt;');
    const id = /batches\/([0-9a-f-]{36})/.exec(made.headers.location as string)![1]!;
    const sheet = await b.post(`/dashboard/vouchers/batches/${id}/print`, {
      layout: 'a4',
      which: 'unused',
      format: 'html',
    });
    expect(sheet.status).toBe(200);
    expect(sheet.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(sheet.text.match(/class="code"/g)).toHaveLength(3);
    expect(sheet.text.match(/<svg /g)).toHaveLength(3);
    expect((await browser(B.token).post(`/dashboard/vouchers/batches/${id}/print`, {})).status).toBe(404);
    expect((await browser(B.token).get('/dashboard/vouchers')).text).not.toContain('Shop &lt;1&gt;');
  });

  it('revokes one voucher from its batch page: admins only, not across tenants', async () => {
    const plan = await apiPlan(A);
    const b = browser(A.token);
    const made = await b.post('/dashboard/vouchers/batches', { planId: plan.id, quantity: '2' });
    const batch = /batches\/([0-9a-f-]{36})/.exec(made.headers.location as string)![1]!;
    const page = await b.follow(made);
    const ids = [...page.text.matchAll(/action="\/dashboard\/vouchers\/([0-9a-f-]{36})\/revoke"/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    // Another tenant's admin and an operator of this one cannot revoke it.
    expect((await browser(B.token).post(`/dashboard/vouchers/${ids[0]}/revoke`, {})).status).toBe(404);
    expect((await browser(await operatorOf(A)).post(`/dashboard/vouchers/${ids[0]}/revoke`, {})).status).toBe(403);
    expect((await b.post(`/dashboard/vouchers/${ids[0]}/revoke`, { _csrf: 'wrong' })).status).toBe(403);
    const revoked = await b.post(`/dashboard/vouchers/${ids[0]}/revoke`, {});
    expect(revoked.headers.location).toBe(`/dashboard/vouchers/batches/${batch}`);
    const after = await b.follow(revoked);
    expect(after.text).toContain('Voucher revoked');
    expect(after.text.match(/<td>revoked<\/td>/g)).toHaveLength(1);
    expect(after.text).not.toContain(`/dashboard/vouchers/${ids[0]}/revoke`);
    const rows = await request(api.app).get(`/api/v1/vouchers/${ids[0]}`).set(A.auth);
    expect(rows.body.status).toBe('revoked');
  });
});
