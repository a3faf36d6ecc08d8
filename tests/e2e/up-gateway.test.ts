/**
 * `lango up` with LANGO_UP_GATEWAY_PORT: a local gateway (memory driver) runs beside the demo
 * as the demo NAS, and the printed command logs a pretend client in through it: the gateway's
 * Access-Request reaches the stack's FreeRADIUS and the session shows at /status.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeStateDir, startLangoUp } from '../helpers/lango-up';
import { freeTcpPort, pickFreeUdpPorts } from '../helpers/ports';

jest.setTimeout(180000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'lango-up-gw-'));
});
afterAll(() => {
  removeStateDir(path.join(dir, 'state'));
  rmSync(dir, { recursive: true, force: true });
});

it('prints a login line for a pretend client, and the gateway logs it in through FreeRADIUS', async () => {
  const [auth, acct] = await pickFreeUdpPorts('127.0.0.1', 2);
  const gatewayPort = await freeTcpPort();
  const stack = await startLangoUp({
    env: {
      LANGO_ENV: 'development',
      LANGO_STATE_DIR: path.join(dir, 'state'),
      LANGO_API_PORT: '0',
      LANGO_RADIUS_AUTH_PORT: String(auth),
      LANGO_RADIUS_ACCT_PORT: String(acct),
      LANGO_EMBEDDED_PG_PORT: String(await freeTcpPort()),
      LANGO_UP_GATEWAY_PORT: String(gatewayPort),
      LANGO_LOG_LEVEL: 'warn',
    },
  });
  try {
    const line = stack.lines.find((l) => l.trim().startsWith('curl '))!;
    expect(line).toContain(`http://127.0.0.1:${gatewayPort}/login`);
    // The printed command's headers and form, sent as curl would send them.
    const headers = [...line.matchAll(/-H '([^']+)'/g)].map((m) => m[1]!.split(': ') as [string, string]);
    const form = [...line.matchAll(/-d (\S+)/g)].map((m) => m[1]!).join('&');
    const res = await fetch(`http://127.0.0.1:${gatewayPort}/login`, {
      method: 'POST',
      headers: { ...Object.fromEntries(headers), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    const body = (await res.json()) as { loggedIn: boolean; session: { username: string; downloadBps: number } };
    expect(res.status).toBe(200);
    expect(body.loggedIn).toBe(true);
    expect(body.session).toMatchObject({ username: 'demo', downloadBps: 5_000_000 });
    const status = await fetch(`http://127.0.0.1:${gatewayPort}/status`, {
      headers: { ...Object.fromEntries(headers) },
    });
    expect(status.status).toBe(200);
  } finally {
    expect(await stack.stop()).toBe(0);
  }
});
