/**
 * The captive portal in headless Chromium (Debian's, through playwright-core), end to end: the
 * simulated MikroTik hotspot (src/simulate/hotspot.ts, the NAS simulator's login endpoint)
 * redirects the phone to the portal with its login.html; the buyer types a voucher; the page
 * computes the CHAP response and posts it to the router's link-login-only; the router sends a
 * real CHAP Access-Request to FreeRADIUS and, on Accept, an Accounting Start. Also: the page
 * without JavaScript, Swahili, each page's transferred size, tampered and foreign redirects.
 *
 * LANGO_SCREENSHOTS=1 saves the main pages to docs/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi, TestTenant } from '../helpers/api';
import { startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { FakeClock } from '../helpers/clock';
import { eventually } from '../helpers/wait';
import { launchBrowser, measureTransfer, phoneContext, screenshot } from '../helpers/browser';
import { startNasSimulator, type NasSimulator } from '../../src/simulate/nas-simulator';
import { startHotspot, type Hotspot } from '../../src/simulate/hotspot';
import { startDarajaSimulator, SIMULATOR_APP, type DarajaSimulator } from '../../src/simulate/daraja-simulator';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../src/mpesa/daraja-client';
import { freeTcpPort } from '../helpers/ports';
import { randomBytes } from 'node:crypto';
import { replaceLoginTokens } from '../../src/modules/vouchers/vouchers.repo';
import { tokenHash } from '../../src/modules/vouchers/vouchers.service';
import { c2bBody, receiptCode } from '../helpers/mpesa';
import { hashPhone } from '../../src/mpesa/phone';

jest.setTimeout(90000);

const PAGE_LIMIT = 50 * 1024;
const SECRET = 'portal-browser-secret';
const MAC = 'AA:BB:CC:00:00:01';
let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let sim: NasSimulator;
let hs: Hotspot;
let server: Server;
let portalBase: string;
let browser: Browser;
let A: TestTenant;
let B: TestTenant;
let hourPlan: any;
let daraja: DarajaSimulator;
let account: any;
const clock = new FakeClock(Date.now());

async function voucher(planId: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request(api.app)
    .post('/api/v1/voucher-batches')
    .set(A.auth)
    .send({ planId, quantity: 1, ...body });
  expect(res.status).toBe(201);
  return res.body.codes[0];
}

/**
 * The phone opens a page; the hotspot sends it to its login.html, which sends it to the portal.
 * The browser's own requests to the router (favicon) see the same CHAP challenge, as on RouterOS.
 */
async function arrive(page: Page): Promise<void> {
  await page.goto(`${hs.loginUrl}?dst=${encodeURIComponent(`${hs.url}/status`)}`);
  await page.waitForURL(`${portalBase}/portal/${A.slug}`);
}

/** The redirect login.html would make, with `change` applied (tampering). */
function redirectUrl(slug: string, change: Record<string, string | null> = {}): string {
  const q: Record<string, string | null> = {
    'link-login-only': hs.loginUrl,
    mac: MAC,
    ip: '127.0.0.1',
    'chap-id': '\\371',
    'chap-challenge': '\\001'.repeat(16),
    'link-orig': `${hs.url}/status`,
    error: '',
    ...change,
  };
  const u = new URL(`${portalBase}/portal/${slug}`);
  for (const [k, v] of Object.entries(q)) if (v !== null) u.searchParams.set(k, v);
  return u.href;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  // Daraja (the simulator) calls back to the portal's app on its public URL.
  daraja = await startDarajaSimulator({ answerDelayMs: 1500 });
  const port = await freeTcpPort();
  api = await createTestApi(tdb, undefined, {
    env: { LANGO_PUBLIC_URL: `http://127.0.0.1:${port}`, LANGO_DARAJA_SANDBOX_URL: daraja.url },
  });
  fr = await startTestFreeRadius(tdb.radiusUrl);
  A = await api.newTenant();
  B = await api.newTenant();
  hourPlan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(A.auth)
      .send({ name: '1 hour', price: 2000, durationSeconds: 3600, rateLimit: '2M/4M' })
  ).body;
  await request(api.app)
    .post('/api/v1/plans')
    .set(A.auth)
    .send({ name: 'Day 2 GB', price: 5000, durationSeconds: 86400, dataQuotaBytes: 2 * 1024 ** 3 });
  await request(api.app)
    .post('/api/v1/plans')
    .set(A.auth)
    .send({ name: 'Staff PPPoE', price: 150000, durationSeconds: 30 * 86400, sellable: false });
  server = createServer(api.app);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  portalBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sim = await startNasSimulator({
    radius: { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: SECRET },
    bindAddress: '127.0.0.1',
  });
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(A.auth)
        .send({ name: 'hotspot-sim', address: '127.0.0.1', secret: SECRET, coaPort: sim.coaPort })
    ).status,
  ).toBe(201);
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(B.auth)
        .send({ name: 'b-router', address: '127.0.0.2', secret: 'secret-of-b' })
    ).status,
  ).toBe(201);
  const acct = await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
    name: 'Sandbox',
    kind: 'paybill',
    shortcode: SANDBOX_SHORTCODE,
    environment: 'sandbox',
    consumerKey: SIMULATOR_APP.consumerKey,
    consumerSecret: SIMULATOR_APP.consumerSecret,
    passkey: SANDBOX_PASSKEY,
  });
  expect(acct.status).toBe(201);
  account = acct.body;
  expect((await request(api.app).patch('/api/v1/portal-settings').set(A.auth).send({ paybill: '174379' })).status).toBe(
    200,
  );
  hs = await startHotspot({ nas: sim, clock, portalUrl: `${portalBase}/portal/${A.slug}` });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await hs?.close();
  await sim?.close();
  await daraja?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

beforeEach(() => {
  // A fresh device on the hotspot each test (the simulator keys devices by the client address).
  hs.setDevice('127.0.0.1', MAC);
});

afterEach(async () => {
  // Log the device out at the router, so the next test starts from the login page.
  await fetch(`${hs.url}/logout`, { method: 'POST', redirect: 'manual' }).catch(() => undefined);
});

describe('voucher login through the router', () => {
  it('router redirect -> portal -> voucher -> CHAP posted by the page -> FreeRADIUS Accept -> Accounting Start -> link-orig', async () => {
    const code = await voucher(hourPlan.id);
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    // The router's parameters are gone from the address bar (kept in the signed cookie).
    expect(page.url()).toBe(`${portalBase}/portal/${A.slug}`);
    await expect(page.locator('h2').first().textContent()).resolves.toBe('Choose a package');
    const plans = await page.locator('.plan b').allTextContents();
    expect(plans).toEqual(['1 hour', 'Day 2 GB']); // the staff plan is not sellable
    await expect(page.locator('.plan').first().textContent()).resolves.toContain('KES 20');
    await screenshot(page, 'portal-home');

    // Typed as people type it: lower case, with a space.
    await page.fill('#code', `${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`);
    const posted = page.waitForRequest((r) => r.url() === hs.loginUrl && r.method() === 'POST');
    await page.click('form[action$="/voucher"] button');
    const login = await posted;
    const form = new URLSearchParams(login.postData() ?? '');
    expect(form.get('username')).toBe(code);
    // Only the CHAP hash crossed to the router, never the code as password.
    expect(form.get('password')).toMatch(/^[0-9a-f]{32}$/);
    expect(form.get('password')).not.toBe(code);
    expect(form.get('dst')).toBe(`${hs.url}/status`);

    await page.waitForURL(`${hs.url}/status`);
    await expect(page.locator('#username').textContent()).resolves.toBe(code);
    await screenshot(page, 'router-status-after-login');
    expect(hs.device('127.0.0.1')?.user).toBe(code);
    const row = await eventually(
      () => tdb.db('radacct').where({ tenant_id: A.id, username: code }).first(),
      'the Accounting Start',
    );
    expect(row.acctstoptime).toBeNull();
    expect(row.callingstationid).toBe(MAC);
    const auth = await tdb.db('radpostauth').where({ tenant_id: A.id, username: code }).orderBy('id', 'desc').first();
    if (auth) expect(auth.reply).toBe('Access-Accept');
    const v = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(A.auth)).body.data[0];
    expect(v).toMatchObject({ status: 'active', devicesBound: 1 });
    await ctx.close();
  });

  it('works without JavaScript: the login form carries the server-computed response and a button', async () => {
    const code = await voucher(hourPlan.id);
    const ctx = await phoneContext(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    await arrive(page);
    await page.fill('#code', code);
    await page.click('form[action$="/voucher"] button');
    await page.waitForSelector('#login');
    await screenshot(page, 'portal-connecting');
    const { bytes } = await measureTransfer(page, () => page.reload());
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(PAGE_LIMIT);
    // The reload re-posted nothing; log in with the button.
    await page.click('#login button');
    await page.waitForURL(`${hs.url}/status`);
    await expect(page.locator('#username').textContent()).resolves.toBe(code);
    await ctx.close();
  });

  it("a wrong code is a clear message and logs nothing in; the router's own refusal comes back to the portal", async () => {
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    await page.fill('#code', 'WRONGCODE99');
    await page.click('form[action$="/voucher"] button');
    await expect(page.locator('.msg').textContent()).resolves.toContain('this code is not valid');
    await screenshot(page, 'portal-wrong-code');
    expect(hs.device('127.0.0.1')?.user).toBeUndefined();

    // A revoked voucher: the portal says so before anything reaches the router.
    const code = await voucher(hourPlan.id);
    const id = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(A.auth)).body.data[0].id;
    expect((await request(api.app).post(`/api/v1/vouchers/${id}/revoke`).set(A.auth).send({})).status).toBe(200);
    await page.goto(`${portalBase}/portal/${A.slug}`);
    await page.fill('#code', code);
    await page.click('form[action$="/voucher"] button');
    await expect(page.locator('.msg').textContent()).resolves.toContain('revoked');
    await ctx.close();
  });
});

describe('a voucher QR code (one-time login token)', () => {
  it('logs the device in without typing; a replay is a clear page; without the hotspot the token is kept', async () => {
    const code = await voucher(hourPlan.id);
    const id = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(A.auth)).body.data[0].id;
    // The token as printing issues it (only its SHA-256 is stored).
    const token = randomBytes(32).toString('base64url');
    await replaceLoginTokens(tdb.db, A.id, [{ voucherId: id, hash: tokenHash(token) }]);
    const qrUrl = `${portalBase}/portal/${A.slug}/voucher?token=${token}`;

    // Scanned before joining the hotspot: nothing to log in, and the token is not used up.
    const away = await phoneContext(browser);
    const awayPage = await away.newPage();
    expect((await awayPage.goto(qrUrl))?.status()).toBe(400);
    await expect(awayPage.locator('.msg').textContent()).resolves.toContain('Connect to this WiFi network');
    await away.close();

    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    const posted = page.waitForRequest((r) => r.url() === hs.loginUrl && r.method() === 'POST');
    await page.goto(qrUrl, { waitUntil: 'commit' });
    expect(new URLSearchParams((await posted).postData() ?? '').get('username')).toBe(code);
    await page.waitForURL(`${hs.url}/status`);
    await expect(page.locator('#username').textContent()).resolves.toBe(code);
    // Replayed: used up.
    await page.goto(`${portalBase}/portal/${A.slug}`);
    expect((await page.goto(qrUrl))?.status()).toBe(404);
    await expect(page.locator('.msg').textContent()).resolves.toContain('not valid');
    await ctx.close();
  });
});

describe('paying with M-Pesa', () => {
  it('package -> phone -> STK push (Daraja simulator) -> status page updates by itself -> CHAP login -> Accounting Start', async () => {
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    const card = page.locator('.plan', { hasText: '1 hour' });
    await card.locator('input[name=phone]').fill('0708 374 149');
    await card.locator('button').click();
    await page.waitForSelector('#status');
    await expect(page.locator('#status').textContent()).resolves.toContain('Check your phone');
    await screenshot(page, 'portal-waiting-for-payment');
    // The phone answers after 1.5 s; the callback credits the payment; the page follows by itself.
    const posted = page.waitForRequest((r) => r.url() === hs.loginUrl && r.method() === 'POST', { timeout: 30000 });
    const login = new URLSearchParams((await posted).postData() ?? '');
    expect(login.get('username')).toMatch(/^hs-[0-9a-f]{12}$/);
    expect(login.get('password')).toMatch(/^[0-9a-f]{32}$/);
    await page.waitForURL(`${hs.url}/status`);
    const username = login.get('username')!;
    await expect(page.locator('#username').textContent()).resolves.toBe(username);
    const row = await eventually(
      () => tdb.db('radacct').where({ tenant_id: A.id, username }).first(),
      'the Accounting Start',
    );
    expect(row.callingstationid).toBe(MAC);
    const payment = await tdb.db('payments').where({ tenant_id: A.id, phone: '254708374149' }).first();
    expect(payment).toMatchObject({ state: 'completed', allocation: 'allocated', amount: '2000' });
    await ctx.close();
  });

  it.each([
    ['cancelled', 'You cancelled the payment'],
    ['wrong-pin', 'The M-Pesa PIN was wrong'],
    ['unreachable', 'did not answer in time'],
    ['insufficient-funds', 'Not enough money'],
  ] as const)('%s: a clear message and the paybill fallback, nothing logged in', async (result, text) => {
    const phone = `07083742${String(10 + ['cancelled', 'wrong-pin', 'unreachable', 'insufficient-funds'].indexOf(result))}`;
    daraja.addScenario({ phone, result, times: 1 });
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    const card = page.locator('.plan', { hasText: '1 hour' });
    await card.locator('input[name=phone]').fill(phone);
    await card.locator('button').click();
    await page.waitForSelector('#status');
    await page.waitForSelector('.msg[role=alert]', { timeout: 30000 });
    await expect(page.locator('.msg').textContent()).resolves.toContain(text);
    await expect(page.locator('main').textContent()).resolves.toContain('Paybill 174379');
    if (result === 'cancelled') await screenshot(page, 'portal-payment-cancelled');
    expect(hs.device('127.0.0.1')?.user).toBeUndefined();
    await ctx.close();
  });
});

describe('language, size and look', () => {
  it('Swahili from the browser, switchable to English and back; every page under 50 KB with its assets', async () => {
    const patched = await request(api.app)
      .patch('/api/v1/portal-settings')
      .set(A.auth)
      .send({ displayName: 'Mtaani WiFi', primaryColor: '#AA2200', supportPhone: '+254700000001' });
    expect([patched.status, patched.body]).toEqual([
      200,
      expect.objectContaining({ displayName: 'Mtaani WiFi', primaryColor: '#aa2200' }),
    ]);
    const ctx = await phoneContext(browser, { locale: 'sw-KE' });
    const page = await ctx.newPage();
    const entry = await measureTransfer(page, () => arrive(page));
    expect(entry.bytes).toBeLessThan(PAGE_LIMIT);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('sw');
    await expect(page.locator('h2').first().textContent()).resolves.toBe('Chagua kifurushi');
    await expect(page.locator('h1').textContent()).resolves.toBe('Mtaani WiFi');
    await expect(page.locator('.plan .meta').first().textContent()).resolves.toContain('saa');
    await screenshot(page, 'portal-home-sw');
    const home = await measureTransfer(page, () => page.reload());
    expect(home.bytes).toBeLessThan(PAGE_LIMIT);
    await page.click('a[hreflang="en"]');
    await expect(page.locator('h2').first().textContent()).resolves.toBe('Choose a package');
    // The choice sticks (cookie) over the browser's preference.
    await page.goto(`${portalBase}/portal/${A.slug}`);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('en');
    const bad = await measureTransfer(page, () => page.goto(redirectUrl(A.slug, { mac: 'nope' })));
    expect(bad.bytes).toBeLessThan(PAGE_LIMIT);
    await ctx.close();
    // eslint-disable-next-line no-console
    console.log(
      `portal page sizes (bytes on the wire): entry+redirects ${entry.bytes}, home ${home.bytes}, error ${bad.bytes}`,
    );
  });
});

describe('tampered and foreign redirects', () => {
  const cases: Array<[string, Record<string, string | null>, string]> = [
    [
      'a foreign link-login-only host',
      { 'link-login-only': 'http://10.66.6.6/login' },
      "not one of this network's routers",
    ],
    [
      'a look-alike host name',
      { 'link-login-only': 'http://127.0.0.1.evil.example/login' },
      "not one of this network's routers",
    ],
    [
      'a login address with credentials',
      { 'link-login-only': 'http://user:pw@127.0.0.1/login' },
      'must not carry a user name',
    ],
    ['a javascript: login address', { 'link-login-only': 'javascript:alert(1)' }, 'must be an http or https address'],
    ['a malformed MAC', { mac: 'AA:BB:CC:DD:EE' }, 'device address (mac)'],
    ['a malformed IP', { ip: '999.1.1.1' }, 'device IP address'],
    ['a CHAP id that is not octal bytes', { 'chap-id': '%F9' }, 'CHAP id'],
    ['no CHAP (a PAP hotspot)', { 'chap-id': null, 'chap-challenge': null }, 'CHAP id'],
    ['a short CHAP challenge', { 'chap-challenge': '\\001\\002' }, 'CHAP challenge'],
    [
      'a link-orig that is not an address',
      { 'link-orig': 'data:text/html,hi' },
      'link-orig must be an http or https address',
    ],
  ];

  it.each(cases)('%s: a clear page, no device remembered', async (_name, change, message) => {
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    const res = await page.goto(redirectUrl(A.slug, change));
    expect(res?.status()).toBe(400);
    await expect(page.locator('.msg').textContent()).resolves.toContain(message);
    if (_name === 'a foreign link-login-only host') await screenshot(page, 'portal-foreign-router');
    // Nothing was kept: the landing page asks to join the WiFi and offers no voucher form.
    await page.goto(`${portalBase}/portal/${A.slug}`);
    await expect(page.locator('#code').count()).resolves.toBe(0);
    await ctx.close();
  });

  it("another tenant's router is foreign too; a context cookie does not carry to another tenant's portal", async () => {
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    // B's NAS address, on A's portal.
    const res = await page.goto(redirectUrl(A.slug, { 'link-login-only': 'http://127.0.0.2/login' }));
    expect(res?.status()).toBe(400);
    // A's router on B's portal.
    expect((await page.goto(redirectUrl(B.slug)))?.status()).toBe(400);
    // A valid context on A's portal gives nothing on B's.
    await page.goto(redirectUrl(A.slug));
    await expect(page.locator('#code').count()).resolves.toBe(1);
    await page.goto(`${portalBase}/portal/${B.slug}`);
    await expect(page.locator('#code').count()).resolves.toBe(0);
    await ctx.close();
  });

  it('a form without its CSRF token is refused and binds nothing', async () => {
    const code = await voucher(hourPlan.id);
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    const r = await page.request.post(`${portalBase}/portal/${A.slug}/voucher`, { form: { code } });
    expect(r.status()).toBe(403);
    const v = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(A.auth)).body.data[0];
    expect(v).toMatchObject({ status: 'unused', devicesBound: 0 });
    await ctx.close();
  });
});

/** The router's session of `username` from `mac`, once its Accounting Start is in. */
async function started(username: string, mac: string): Promise<any> {
  return eventually(
    () => tdb.db('radacct').where({ tenant_id: A.id, username, callingstationid: mac, acctstoptime: null }).first(),
    `the Accounting Start of ${username} from ${mac}`,
  );
}

/** Logs the device out at the router and waits for the Stop. */
async function logout(username: string): Promise<void> {
  await fetch(`${hs.url}/logout`, { method: 'POST', redirect: 'manual' });
  await eventually(
    async () =>
      (await tdb.db('radacct').where({ tenant_id: A.id, username, acctstoptime: null }).count({ n: '*' }))[0]!.n ===
        '0' || undefined,
    'the Stop',
  );
}

describe('a one-device voucher on a second device', () => {
  it("is refused by FreeRADIUS; the router's error (Reply-Message) comes back to the portal page", async () => {
    const code = await voucher(hourPlan.id);
    hs.setDevice('127.0.0.1', 'AA:BB:CC:00:02:01');
    const first = await phoneContext(browser);
    const p1 = await first.newPage();
    await arrive(p1);
    await p1.fill('#code', code);
    await p1.click('form[action$="/voucher"] button');
    await p1.waitForURL(`${hs.url}/status`);
    await first.close();
    await logout(code);

    // Another phone (another MAC) with the same code.
    hs.setDevice('127.0.0.1', 'AA:BB:CC:00:02:02');
    const second = await phoneContext(browser);
    const page = await second.newPage();
    await arrive(page);
    await page.fill('#code', code);
    const refused = await measureTransfer(page, async () => {
      await page.click('form[action$="/voucher"] button');
      // The router refuses the login and sends the phone back to the portal with its error.
      await page.waitForURL(`${portalBase}/portal/${A.slug}?error=*`);
    });
    await expect(page.locator('.msg[role=alert]').textContent()).resolves.toBe(
      'Voucher already in use on another device',
    );
    expect(refused.bytes).toBeLessThan(PAGE_LIMIT);
    await screenshot(page, 'portal-second-device-refused');
    expect(hs.device('127.0.0.1')?.user).toBeUndefined();
    const v = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(A.auth)).body.data[0];
    expect(v).toMatchObject({ devicesBound: 1 });
    await second.close();
  });
});

describe('already paid', () => {
  it('an STK payment, then a new (randomised) MAC: phone + M-Pesa code -> CHAP login -> Accounting Start from the new MAC', async () => {
    const [mac1, mac2] = ['AA:BB:CC:00:03:01', 'AA:BB:CC:00:03:02'];
    hs.setDevice('127.0.0.1', mac1);
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    const card = page.locator('.plan', { hasText: '1 hour' });
    await card.locator('input[name=phone]').fill('0708 374 160');
    await card.locator('button').click();
    await page.waitForURL(`${hs.url}/status`, { timeout: 30000 });
    const username = (await page.locator('#username').textContent())!;
    await started(username, mac1);
    await ctx.close();
    await logout(username);
    const payment = await tdb.db('payments').where({ tenant_id: A.id, phone: '254708374160' }).first();
    expect(payment).toMatchObject({ state: 'completed', allocation: 'allocated' });

    // The phone comes back with another MAC: the router does not know it.
    hs.setDevice('127.0.0.1', mac2);
    const ctx2 = await phoneContext(browser);
    const p2 = await ctx2.newPage();
    await arrive(p2);
    await p2.click('details summary');
    await p2.fill('#pp', '0708374160');
    await p2.fill('#rc', payment.mpesa_receipt.toLowerCase());
    await screenshot(p2, 'portal-already-paid');
    const posted = p2.waitForRequest((r) => r.url() === hs.loginUrl && r.method() === 'POST');
    await p2.click('form[action$="/paid"] button');
    const login = new URLSearchParams((await posted).postData() ?? '');
    expect(login.get('username')).toBe(username);
    expect(login.get('password')).toMatch(/^[0-9a-f]{32}$/);
    await p2.waitForURL(`${hs.url}/status`);
    await expect(p2.locator('#username').textContent()).resolves.toBe(username);
    await expect(p2.locator('#mac').textContent()).resolves.toBe(mac2);
    const row = await started(username, mac2);
    expect(row.acctstoptime).toBeNull();
    const auth = await tdb.db('radpostauth').where({ tenant_id: A.id, username }).orderBy('id', 'desc').first();
    if (auth) expect(auth.reply).toBe('Access-Accept');
    // Nothing was bought twice.
    expect(await tdb.db('ledger_entries').where({ payment_id: payment.id, kind: 'credit' })).toHaveLength(1);
    expect(await tdb.db('subscriptions').where({ subscriber_id: payment.subscriber_id })).toHaveLength(1);
    await ctx2.close();
  });

  it('paybill money with a mistyped account is claimed (no JavaScript); a wrong code is a clear page; pages under 50 KB', async () => {
    const mac = 'AA:BB:CC:00:04:01';
    hs.setDevice('127.0.0.1', mac);
    const receipt = receiptCode();
    const paid = await request(api.app)
      .post(account.callbackPaths.c2bConfirmation)
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify(
          c2bBody({
            transId: receipt,
            amountKes: 20,
            shortcode: SANDBOX_SHORTCODE,
            billRef: 'A99999X',
            msisdn: hashPhone('0708374170'),
          }),
        ),
      );
    expect(paid.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    expect((await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).allocation).toBe('unallocated');

    const ctx = await phoneContext(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    await arrive(page);
    const home = await measureTransfer(page, () => page.reload());
    expect(home.bytes).toBeLessThan(PAGE_LIMIT);
    await page.click('details summary');
    await page.fill('#pp', '0708374170');
    await page.fill('#rc', 'QJK3ABC12D');
    const wrong = await measureTransfer(page, () => page.click('form[action$="/paid"] button'));
    expect(wrong.bytes).toBeLessThan(PAGE_LIMIT);
    await expect(page.locator('.msg').textContent()).resolves.toContain('no M-Pesa payment with this code');
    await screenshot(page, 'portal-already-paid-wrong-code');
    expect((await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).allocation).toBe('unallocated');

    await page.goto(`${portalBase}/portal/${A.slug}`);
    await page.click('details summary');
    await page.fill('#pp', '+254 708 374 170');
    await page.fill('#rc', receipt);
    const claimed = await measureTransfer(page, () => page.click('form[action$="/paid"] button'));
    expect(claimed.bytes).toBeLessThan(PAGE_LIMIT);
    await expect(page.locator('.msg.ok').textContent()).resolves.toContain('Payment found');
    await page.click('#login button');
    await page.waitForURL(`${hs.url}/status`);
    const username = (await page.locator('#username').textContent())!;
    expect(username).toMatch(/^hs-[0-9a-f]{12}$/);
    await started(username, mac);
    expect(await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).toMatchObject({
      allocation: 'allocated',
      plan_id: hourPlan.id,
    });
    await ctx.close();
  });

  it('a replayed claim form (the same receipt posted again) credits nothing twice', async () => {
    const receipt = receiptCode();
    await request(api.app)
      .post(account.callbackPaths.c2bConfirmation)
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify(
          c2bBody({ transId: receipt, amountKes: 20, shortcode: SANDBOX_SHORTCODE, msisdn: hashPhone('0708374171') }),
        ),
      )
      .expect(200);
    hs.setDevice('127.0.0.1', 'AA:BB:CC:00:04:02');
    const ctx = await phoneContext(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    await arrive(page);
    await page.click('details summary');
    await page.fill('#pp', '0708374171');
    await page.fill('#rc', receipt);
    const csrf = await page.locator('form[action$="/paid"] input[name=_csrf]').inputValue();
    const form = { phone: '0708374171', receipt, _csrf: csrf };
    const [a, b] = await Promise.all([
      page.request.post(`${portalBase}/portal/${A.slug}/paid`, { form }),
      page.request.post(`${portalBase}/portal/${A.slug}/paid`, { form }),
    ]);
    expect([a.status(), b.status()]).toEqual([200, 200]);
    const p = await tdb.db('payments').where({ mpesa_receipt: receipt }).first();
    expect(p.allocation).toBe('allocated');
    expect(await tdb.db('ledger_entries').where({ payment_id: p.id, kind: 'credit' })).toHaveLength(1);
    expect(await tdb.db('subscriptions').where({ subscriber_id: p.subscriber_id })).toHaveLength(1);
    // Tampered and huge fields: a clear page, nothing allocated or bound.
    const token = encodeURIComponent(csrf);
    for (const body of [
      `phone=0708374171&receipt=${'x'.repeat(5000)}&_csrf=${token}`,
      `phone=${'0'.repeat(100)}&receipt=${receipt}&_csrf=${token}`,
      `phone=0708374171&phone=0708374172&receipt=${receipt}&_csrf=${token}`,
      `phone=0708374171&receipt=%00${receipt}&_csrf=${token}`,
    ]) {
      const r = await page.request.post(`${portalBase}/portal/${A.slug}/paid`, {
        data: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect([r.status(), await r.text()]).toEqual([400, expect.stringContaining('class="msg"')]);
    }
    expect(await tdb.db('audit_log').where({ tenant_id: A.id, action: 'payment.claim', entity_id: p.id })).toHaveLength(
      1,
    );
    await ctx.close();
  });
});

describe('free trial', () => {
  afterAll(async () => {
    await request(api.app).patch('/api/v1/portal-settings').set(A.auth).send({ trialPlanId: null }).expect(200);
  });

  it('once per device: the trial logs in through the router; the same device is refused the next time', async () => {
    const trialPlan = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(A.auth)
        .send({ name: 'Trial 15 min', price: 0, durationSeconds: 900, rateLimit: '512k/1M', sellable: false })
    ).body;
    await request(api.app)
      .patch('/api/v1/portal-settings')
      .set(A.auth)
      .send({ trialPlanId: trialPlan.id, trialPeriodHours: 24 })
      .expect(200);
    const mac = 'AA:BB:CC:00:05:01';
    hs.setDevice('127.0.0.1', mac);
    const ctx = await phoneContext(browser);
    const page = await ctx.newPage();
    await arrive(page);
    await expect(page.locator('#trial').textContent()).resolves.toContain('Trial 15 min');
    const home = await measureTransfer(page, () => page.reload());
    expect(home.bytes).toBeLessThan(PAGE_LIMIT);
    await page.fill('#tp', '0708374180');
    await screenshot(page, 'portal-free-trial');
    await page.click('form[action$="/trial"] button');
    await page.waitForURL(`${hs.url}/status`);
    const username = (await page.locator('#username').textContent())!;
    expect(username).toMatch(/^hs-/);
    await started(username, mac);
    await ctx.close();
    await logout(username);

    // The same device, another phone number: refused, nothing logged in.
    const again = await phoneContext(browser);
    const p2 = await again.newPage();
    await arrive(p2);
    await p2.fill('#tp', '0708374181');
    const refused = await measureTransfer(p2, () => p2.click('form[action$="/trial"] button'));
    expect(refused.bytes).toBeLessThan(PAGE_LIMIT);
    await expect(p2.locator('.msg').textContent()).resolves.toContain('this device has had its free trial');
    await screenshot(p2, 'portal-free-trial-used');
    expect(hs.device('127.0.0.1')?.user).toBeUndefined();
    expect(await tdb.db('portal_trials').where({ tenant_id: A.id, mac_address: mac })).toHaveLength(1);
    await again.close();
  });
});
