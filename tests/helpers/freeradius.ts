/**
 * FreeRADIUS for tests: the project's overlay on free loopback ports, state under the OS temp
 * directory, and dynamic clients cached for 1 s so a test that changes a NAS secret need not
 * wait a minute. Always stop() the handle (afterAll/afterEach).
 */
import os from 'node:os';
import path from 'node:path';
import { startFreeRadius, type FreeRadiusHandle, type StartFreeRadiusOptions } from '../../src/freeradius';

export type { FreeRadiusHandle };

export const TEST_FREERADIUS_STATE_DIR = path.join(os.tmpdir(), 'lango-test-freeradius');

export function startTestFreeRadius(
  databaseUrl: string,
  overrides: Partial<Omit<StartFreeRadiusOptions, 'databaseUrl'>> = {},
): Promise<FreeRadiusHandle> {
  return startFreeRadius({
    databaseUrl,
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: 1,
    stateDir: TEST_FREERADIUS_STATE_DIR,
    binary: process.env.LANGO_FREERADIUS_BIN ?? 'freeradius',
    ...overrides,
  });
}
