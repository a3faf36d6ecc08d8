/**
 * The staff dashboard in headless Chromium (Debian's, through playwright-core): sign in, the
 * overview's charts drawn from seeded accounting and post-auth (canvas has pixels; the charted
 * totals are the seeded ones), search live sessions, disconnect one through the enforcement
 * outbox and a real worker to a scripted NAS (RFC 5176 peer) and see pending turn into ack,
 * the reports page and its CSV, a phone-sized viewport, and a POST without its CSRF token refused.
 *
 * LANGO_SCREENSHOTS=1 saves the pages to docs/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { launchBrowser, phoneContext, screenshot } from '../helpers/browser';
import { startWorker, type Worker } from '../../src/jobs/worker';
import {
  addNas,
  FAST,
  openSession,
  scriptedNas,
  silent,
  SECRET,
  type ScriptedNas,
} from '../integration/enforcement-fixtures';

jest.setTimeout(90000);

const MB = 1024 * 1024;
const MAC = '02:00:00:00:00:01';
let tdb: TestDatabase;
let api: TestApi;
let t: TestTenant;
let server: Server;
let base: string;
let browser: Browser;
let worker: Worker;
let nas: ScriptedNas;
let live: { id: number; acctSessionId: string };
let liveUser: string;

/**
 * A closed session of `mb` MB in and out, as accounting writes it (Start, then Stop). It ran
 * yesterday 10:00-10:30 in the tenant's zone (Africa/Nairobi, UTC+3): a session crossing the
 * tenant's midnight counts its user on both days, and "2 hours ago" did so late in the UTC evening.
 */
async function closedSession(nasId: string, username: string, mbIn: number, mbOut: number): Promise<void> {
  const db = tdb.db;
  const nairobiToday = new Intl.DateTimeFormat('en-CA', { timeZone: 'Africa/Nairobi' }).format(new Date());
  const at = new Date(Date.parse(`${nairobiToday}T07:00:00Z`) - 86400 * 1000);
  const [row] = await db('radacct')
    .insert({
      tenant_id: t.id,
      nas_id: nasId,
      acctsessionid: randomBytes(4).toString('hex'),
      acctuniqueid: randomBytes(16).toString('hex'),
      username,
      nasipaddress: '127.0.0.1',
      acctstarttime: at,
      acctupdatetime: at,
      acctsessiontime: 0,
      acctinputoctets: 0,
      acctoutputoctets: 0,
    })
    .returning('radacctid');
  const end = new Date(at.getTime() + 1800 * 1000);
  await db('radacct')
    .where({ radacctid: row.radacctid })
    .update({
      acctupdatetime: end,
      acctstoptime: end,
      acctsessiontime: 1800,
      acctinputoctets: mbIn * MB,
      acctoutputoctets: mbOut * MB,
      acctterminatecause: 'User-Request',
    });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  t = await api.newTenant();
  const plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: `Daily ${suffix()}`, durationSeconds: 86400, rateLimit: '2M/5M' })
  ).body;
  liveUser = `live-${suffix()}`;
  expect(
    (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(t.auth)
        .send({ username: liveUser, password: 'pw', planId: plan.id })
    ).status,
  ).toBe(201);
  nas = await scriptedNas(SECRET);
  const identifier = `id-${suffix()}`;
  const nasId = await addNas(tdb.db, t.id, '127.0.0.1', SECRET, nas.port, { identifier });
  // Seeded: 2 closed sessions (3+1 MB and 5+3 MB), 1 live one, 2 failed logins.
  await closedSession(nasId, 'alice', 3, 1);
  await closedSession(nasId, 'bob', 5, 3);
  live = await openSession(tdb.db, { tenantId: t.id, nasId, username: liveUser });
  for (const u of ['mallory', 'mallory'])
    await tdb.db.raw(`SELECT lango_postauth_do('127.0.0.1', ?, ?, 'Access-Reject', 'wrong password', '', '', '')`, [
      identifier,
      u,
    ]);
  // Active sessions over the last day: hourly samples 0,1,..,4,0,1,.. (peak 4); the worker's own
  // sampling is off so the charted figures are exactly these.
  for (let h = 1; h <= 24; h++)
    await tdb.db('session_samples').insert({
      tenant_id: t.id,
      nas_id: nasId,
      sampled_at: new Date(Math.floor(Date.now() / 3600000 - h) * 3600000),
      active_sessions: h % 5,
      active_users: h % 5,
    });
  worker = startWorker({
    db: tdb.appDb,
    databaseUrl: tdb.appUrl,
    logger: silent,
    options: { ...FAST, sampleSeconds: 0 },
  });
  server = createServer(api.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await worker?.stop();
  await nas?.close();
  await api?.close();
  await tdb?.drop();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${base}/dashboard/`);
  expect(page.url()).toBe(`${base}/dashboard/login`);
  await page.fill('input[name=email]', t.adminEmail);
  await page.fill('input[name=password]', 'tenant-password-1');
  await Promise.all([page.waitForURL(`${base}/dashboard/`), page.click('button[type=submit]')]);
}

/** Pixels of a canvas that are not transparent. */
const paintedPixels = (page: Page, selector: string) =>
  page.$eval(selector, (c) => {
    const canvas = c as any;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
    return n;
  });

describe('the dashboard in Chromium', () => {
  it('signs in and draws the overview charts from the seeded reports', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Chromium's own favicon.ico request (the login page has no icon) is logged but is no page
    // resource; every resource the pages load is checked by its response instead.
    page.on(
      'console',
      (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()),
    );
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    await signIn(page);
    await expect(page.textContent('#online-now')).resolves.toBe('1');
    for (const id of ['active', 'sessions', 'usage', 'failures']) {
      await page.waitForSelector(`#chart-${id}[data-drawn]`);
      expect(await paintedPixels(page, `#chart-${id} canvas`)).toBeGreaterThan(500);
    }
    // The charted totals over the 30 days are the seeded ones.
    expect(await page.getAttribute('#chart-sessions', 'data-totals')).toBe('3,3');
    expect(await page.getAttribute('#chart-usage', 'data-totals')).toBe('12');
    expect(await page.getAttribute('#chart-failures', 'data-totals')).toBe('2');
    expect(await page.getAttribute('#chart-active', 'data-peak')).toBe('4');
    expect(await page.getAttribute('#chart-active', 'data-drawn')).toBe('24');
    expect(errors).toEqual([]);
    await screenshot(page, 'dashboard-overview');
    await context.close();
  });

  it('searches live sessions, disconnects one and shows pending, then the NAS answer (ack)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page);
    await page.click('nav >> text=Sessions');
    await page.fill('input[name=mac]', 'aa:bb:cc:dd:ee:ff');
    await page.click('form[role=search] button');
    await expect(page.textContent('#session-count')).resolves.toBe('0');
    await page.fill('input[name=mac]', MAC.toUpperCase().replace(/:/g, '-').slice(0, 11));
    await page.fill('input[name=ip]', '10.5.50.9');
    await page.click('form[role=search] button');
    await expect(page.textContent('#session-count')).resolves.toBe('1');
    expect(await page.textContent('tbody')).toContain(liveUser);
    await screenshot(page, 'dashboard-sessions');

    await Promise.all([
      page.waitForURL(/\/dashboard\/enforcement\/[0-9a-f-]{36}$/),
      page.click('button:has-text("Disconnect")'),
    ]);
    expect(await page.textContent('.flash.ok')).toContain(`Disconnect of ${liveUser} queued`);
    // The page reloads itself while the action is pending or being sent.
    await page.waitForSelector('#outcome [data-status="ack"]', { timeout: 30000 });
    expect(nas.received.map((p) => p.code)).toEqual([40]);
    await screenshot(page, 'dashboard-disconnect-outcome');
    await page.click('text=Enforcement log');
    expect(await page.textContent('tbody')).toContain('ack');
    await context.close();
  });

  it('shows a report and downloads it as CSV', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page);
    await page.click('nav >> text=Reports');
    await page.selectOption('select[name=name]', 'top-users');
    await page.click('form.filters button');
    expect(await page.textContent('tbody')).toContain('bob');
    await screenshot(page, 'dashboard-reports');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
    const csv = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      download
        .createReadStream()
        .then((s) => {
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        })
        .catch(reject);
    });
    expect(csv.split('\r\n')[0]).toBe(
      'username,subscriber_id,input_octets,output_octets,total_octets,session_seconds,sessions',
    );
    expect(csv).toContain(`bob,,${5 * MB},${3 * MB},${8 * MB},1800,1`);
    await context.close();
  });

  it('fits a phone, and refuses a change posted without its CSRF token', async () => {
    const context = await phoneContext(browser);
    const page = await context.newPage();
    await signIn(page);
    await page.waitForSelector('#chart-usage[data-drawn]');
    for (const path of ['/dashboard/', '/dashboard/sessions', '/dashboard/enforcement', '/dashboard/reports']) {
      await page.goto(`${base}${path}`);
      const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
      expect([path, width]).toEqual([path, 390]);
    }
    await page.goto(`${base}/dashboard/`);
    await screenshot(page, 'dashboard-phone');
    // The browser's own cookies (session and CSRF cookie), but no token: refused.
    const refused = await context.request.post(`${base}/dashboard/sessions/${live.id}/disconnect`, { form: {} });
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain('CSRF_FAILED');
    const logout = await context.request.post(`${base}/dashboard/logout`, { form: { _csrf: 'A'.repeat(43) } });
    expect(logout.status()).toBe(403);
    await context.close();
  });
});
