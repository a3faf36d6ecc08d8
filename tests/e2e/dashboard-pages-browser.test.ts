/**
 * The dashboard's tenant pages in headless Chromium (Debian's, through playwright-core), on a
 * phone-sized screen, as an operator uses them: sign in, create a plan and a subscriber,
 * generate a voucher batch and open its print sheet, assign unallocated M-Pesa money to a
 * subscriber and see their period start, add a router and download its MikroTik script, change
 * the portal's branding and see it on the portal page.
 *
 * LANGO_SCREENSHOTS=1 saves the pages to docs/screenshots/dash-pages-*.png.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { launchBrowser, phoneContext, screenshot } from '../helpers/browser';
import { c2bBody, receiptCode } from '../helpers/mpesa';

jest.setTimeout(120000);

let api: TestApi;
let A: TestTenant;
let server: Server;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  api = await createTestApi(undefined, undefined, { env: { LANGO_PUBLIC_URL: 'http://portal.test' } });
  A = await api.newTenant();
  server = createServer(api.app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
  context = await phoneContext(browser);
  page = await context.newPage();
  await page.goto(`${base}/dashboard/login`);
  await page.fill('input[name=email]', A.adminEmail);
  await page.fill('input[name=password]', 'tenant-password-1');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/dashboard/`);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await api.close();
});

const planName = `Daily ${suffix()}`;
const username = `wanjiku-${suffix()}`;

/** The page's main content, as the operator reads it. */
const main = () => page.locator('main').innerText();

it('creates a plan and a subscriber on it', async () => {
  await page.goto(`${base}/dashboard/plans`);
  await page.fill('#f-name', planName);
  await page.fill('#f-price', '30');
  await page.fill('#f-duration', '1');
  await page.selectOption('#f-durationUnit', 'days');
  await page.fill('#f-quota', '2');
  await page.fill('#f-rateLimit', '2M/5M');
  await screenshot(page, 'dash-pages-plan-form');
  await page.click('button:has-text("Create plan")');
  await page.waitForURL(`${base}/dashboard/plans`);
  expect(await main()).toContain('Plan created.');
  expect(await page.locator('table').innerText()).toMatch(
    new RegExp(`${planName}\\s+KES 30\\s+1 day\\s+2 GB\\s+2M/5M`),
  );
  // The page fits a phone: nothing wider than the screen but the scrolling table.
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  await screenshot(page, 'dash-pages-plans');

  await page.goto(`${base}/dashboard/subscribers`);
  await page.fill('#f-username', username);
  await page.fill('#f-password', 'her-password');
  await page.selectOption('#f-planId', { label: planName });
  await page.uncheck('input[name=startSubscription]');
  await page.fill('#f-phone', '0712345678');
  await page.click('text=Create subscriber');
  await page.waitForURL(/\/dashboard\/subscribers\/[0-9a-f-]{36}$/);
  expect(await main()).toContain('Subscriber created.');
  expect(await main()).toContain('no period');
  await screenshot(page, 'dash-pages-subscriber');
});

it('shows a bad form again with the error and what was typed', async () => {
  await page.goto(`${base}/dashboard/plans`);
  await page.fill('#f-name', 'Typo plan');
  await page.fill('#f-price', 'thirty');
  await page.fill('#f-duration', '1');
  await page.click('button:has-text("Create plan")');
  expect(await page.locator('.error').allInnerTexts()).toContain('Price (KES): enter an amount, 0 or more');
  expect(await page.inputValue('#f-name')).toBe('Typo plan');
  expect(await page.inputValue('#f-price')).toBe('thirty');
  await screenshot(page, 'dash-pages-form-error');
});

it('generates a voucher batch and opens its print sheet', async () => {
  await page.goto(`${base}/dashboard/vouchers`);
  await page.selectOption('#f-planId', { label: `${planName} (KES 30)` });
  await page.fill('#f-quantity', '4');
  await page.fill('#f-note', 'Kiosk at the stage');
  await page.click('button:has-text("Generate")');
  await page.waitForURL(/\/dashboard\/vouchers\/batches\/[0-9a-f-]{36}$/);
  expect(await main()).toContain('Batch generated');
  expect(await page.locator('td code').count()).toBe(4);
  const codes = (await page.locator('td code').allInnerTexts()).map((c) => c.replace(/\s/g, ''));
  await screenshot(page, 'dash-pages-voucher-batch');
  await page.click('text=Open print sheet');
  await page.waitForURL(/\/print$/);
  const printed = (await page.locator('.code').allInnerTexts()).map((c) => c.replace(/\s/g, ''));
  expect(printed.sort()).toEqual(codes.sort());
  // Each card's QR code is drawn (the sheet's own style applied under its CSP).
  expect(await page.locator('.qr svg').count()).toBe(4);
  const qrBox = await page.locator('.qr').first().boundingBox();
  expect(qrBox!.width).toBeGreaterThan(50);
  await screenshot(page, 'dash-pages-voucher-sheet');
});

it('assigns unallocated money to the subscriber, and their period starts', async () => {
  const account = (
    await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
      name: 'Paybill',
      kind: 'paybill',
      shortcode: '600222',
      environment: 'sandbox',
      consumerKey: 'ck-value-1',
      consumerSecret: 'cs-value-2',
      passkey: 'pk-value-3',
    })
  ).body;
  const transId = receiptCode();
  await request(api.app)
    .post(account.callbackPaths.c2bConfirmation)
    .send(c2bBody({ transId, amountKes: 30, shortcode: '600222', billRef: 'WANJIKU?', msisdn: '2547****111' }))
    .expect(200);

  await page.goto(`${base}/dashboard/payments/unallocated`);
  const card = page.locator('section.item', { hasText: transId });
  expect(await card.innerText()).toContain('no subscriber');
  await screenshot(page, 'dash-pages-unallocated');
  await card.locator('input[name=username]').fill(username);
  await Promise.all([page.waitForNavigation(), card.locator('button:has-text("Assign")').click()]);
  // On a refusal the queue is shown again at the form's address, with the reason.
  expect([page.url(), await page.locator('p.error').allInnerTexts()]).toEqual([
    `${base}/dashboard/payments/unallocated`,
    [],
  ]);
  expect(await main()).toContain('Assigned: the subscriber has the plan.');
  expect(await main()).not.toContain(transId);

  await page.goto(`${base}/dashboard/subscribers?q=${username}`);
  await page.click(`text=${username}`);
  const periods = page.locator('table', { hasText: 'How' });
  expect(await periods.innerText()).toContain(planName);
  expect(await page.locator('table.facts').innerText()).not.toContain('no period');
  await screenshot(page, 'dash-pages-subscriber-paid');
});

it('adds a router and downloads its MikroTik script', async () => {
  await page.goto(`${base}/dashboard/nas`);
  await page.fill('#f-name', 'Stage router');
  await page.fill('#f-address', '10.99.0.7');
  await page.fill('#f-secret', 'stage-router-secret');
  await page.click('text=Add router');
  await page.waitForURL(/\/dashboard\/nas\/[0-9a-f-]{36}$/);
  expect(await main()).toContain('Router added');
  expect(await page.content()).not.toContain('stage-router-secret');
  await page.fill('#f-radiusServer', 'radius.example.net');
  await screenshot(page, 'dash-pages-nas');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download script')]);
  expect(download.suggestedFilename()).toBe('lango.rsc');
  const script = readFileSync((await download.path())!, 'utf8');
  expect(script).toContain('stage-router-secret');
  expect(script).toContain('radius.example.net');
  expect(script).toContain('/radius');
});

it('changes the portal branding and the portal shows it', async () => {
  // A real PNG, drawn by the browser itself, uploaded through the settings page's file input.
  await page.setContent('<div id="mark" style="width:96px;height:96px;background:#aa3300;border-radius:48px"></div>');
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 96, height: 96 } });
  await page.goto(`${base}/dashboard/settings`);
  await page.setInputFiles('#f-logo', { name: 'logo.png', mimeType: 'image/png', buffer: png });
  await page.click('text=Upload logo');
  await page.waitForURL(`${base}/dashboard/settings`);
  expect(await main()).toContain('Logo saved');
  expect(
    await page
      .locator('img[alt="The portal logo"]')
      .evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
  ).toBeGreaterThanOrEqual(96);
  await page.fill('#f-displayName', 'Stage WiFi');
  await page.fill('#f-primaryColor', '#aa3300');
  await page.fill('#f-supportPhone', '+254711000222');
  await page.click('text=Save portal settings');
  await page.waitForURL(`${base}/dashboard/settings`);
  expect(await main()).toContain('Portal settings saved');
  await screenshot(page, 'dash-pages-settings');
  await page.click('text=Open the portal');
  await page.waitForURL(`${base}/portal/${A.slug}`);
  expect(await page.locator('body').innerText()).toContain('Stage WiFi');
  expect(await page.content()).toContain('#aa3300');
  expect(await page.locator('body').innerText()).toContain(planName);
  // The portal serves the uploaded bytes and the page draws them.
  expect(
    await page
      .locator('header img')
      .evaluate((i) => (i as unknown as { complete: boolean; naturalWidth: number }).naturalWidth),
  ).toBeGreaterThanOrEqual(96);
  await screenshot(page, 'dash-pages-portal-branded');
});
