/**
 * Headless Chromium for the HTML surfaces' tests: Debian's /usr/bin/chromium (the apt package
 * `chromium`, which .ci/run installs) driven by playwright-core. One browser per test file
 * (launchBrowser in beforeAll, close in afterAll), a fresh context per test (its own cookies).
 *
 * Screenshots go to docs/screenshots/ only when LANGO_SCREENSHOTS=1, so that a CI run leaves
 * the checkout as it found it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const fromEnv = process.env.LANGO_CHROMIUM;
  const found = [fromEnv, ...CANDIDATES].find((p): p is string => !!p && existsSync(p));
  if (!found)
    throw new Error(
      `no Chromium found (tried ${CANDIDATES.join(', ')}; set LANGO_CHROMIUM); .ci/run installs the apt package chromium`,
    );
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Containers often have a small /dev/shm; no sandbox when running as root (CI).
    args: ['--disable-dev-shm-usage', ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
  });
}

/** A phone-sized context (the portal is mobile-first) with the given language preference. */
export async function phoneContext(
  browser: Browser,
  o: { locale?: string; javaScriptEnabled?: boolean } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: 390, height: 780 },
    deviceScaleFactor: 1,
    locale: o.locale ?? 'en-US',
    javaScriptEnabled: o.javaScriptEnabled ?? true,
  });
}

export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'docs', 'screenshots');

/** Saves a full-page PNG as docs/screenshots/<name>.png when LANGO_SCREENSHOTS=1; else nothing. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.LANGO_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Bytes a page load moved over the wire: the document and every subresource, as Chromium's
 * network layer counted them (headers and body, after compression), from the DevTools protocol.
 */
export async function measureTransfer(
  page: Page,
  load: () => Promise<unknown>,
): Promise<{ bytes: number; requests: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map<string, number>();
  cdp.on('Network.loadingFinished', (e: { requestId: string; encodedDataLength: number }) =>
    sizes.set(e.requestId, e.encodedDataLength),
  );
  await load();
  await page.waitForLoadState('load');
  await cdp.detach();
  let bytes = 0;
  for (const n of sizes.values()) bytes += n;
  return { bytes, requests: sizes.size };
}
