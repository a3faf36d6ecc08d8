/**
 * FreeRADIUS for tests: the project's overlay on free loopback ports, state under the OS temp
 * directory, and dynamic clients cached for 1 s so a test that changes a NAS secret need not
 * wait a minute. Each instance gets an accounting spool of its own (removed by stop() unless
 * the test passed one). Always stop() the handle (afterAll/afterEach).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFreeRadius, type FreeRadiusHandle, type StartFreeRadiusOptions } from '../../src/freeradius';

export type { FreeRadiusHandle };

export const TEST_FREERADIUS_STATE_DIR = path.join(os.tmpdir(), 'lango-test-freeradius');

export async function startTestFreeRadius(
  databaseUrl: string,
  overrides: Partial<Omit<StartFreeRadiusOptions, 'databaseUrl'>> = {},
): Promise<FreeRadiusHandle> {
  await mkdir(TEST_FREERADIUS_STATE_DIR, { recursive: true, mode: 0o700 });
  const ownSpool = overrides.accountingSpoolDir
    ? undefined
    : await mkdtemp(path.join(TEST_FREERADIUS_STATE_DIR, 'spool-'));
  const handle = await startFreeRadius({
    databaseUrl,
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: 1,
    stateDir: TEST_FREERADIUS_STATE_DIR,
    binary: process.env.LANGO_FREERADIUS_BIN ?? 'freeradius',
    ...(ownSpool ? { accountingSpoolDir: ownSpool } : {}),
    ...overrides,
  }).catch(async (err: unknown) => {
    if (ownSpool) await rm(ownSpool, { recursive: true, force: true });
    throw err;
  });
  if (!ownSpool) return handle;
  return {
    ...handle,
    stop: async () => {
      await handle.stop();
      await rm(ownSpool, { recursive: true, force: true });
    },
  };
}

/**
 * Resolves once every Accounting-Request this instance acknowledged is in radacct (its spool is
 * empty): what a test awaits before it reads radacct. Rejects after `timeoutMs`.
 */
export async function accountingWritten(fr: FreeRadiusHandle, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await fr.accountingBacklog();
    if (b.files === 0) return;
    if (Date.now() > deadline)
      throw new Error(`accounting spool not replayed within ${timeoutMs} ms: ${b.files} files, ${b.bytes} bytes`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
