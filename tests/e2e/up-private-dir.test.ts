/**
 * A newcomer's clone in a private directory: root's usual `git clone` into /root (mode 0700).
 * As root, the embedded PostgreSQL runs as the postgres OS user, which cannot enter that
 * directory; `lango up` must still come up from there (and as any other user, too).
 */
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { pickFreeUdpPorts } from '../../src/freeradius/ports';
import { freeTcpPort } from '../helpers/ports';
import { parseReply } from '../helpers/radclient';
import { copyCheckout, removeStateDir, runPrintedRadtest, startLangoUp } from '../helpers/lango-up';

jest.setTimeout(180000);

let parent: string;
let checkout: string;

beforeAll(async () => {
  parent = mkdtempSync(path.join(os.tmpdir(), 'lango-private-'));
  expect(statSync(parent).mode & 0o777).toBe(0o700);
  checkout = path.join(parent, 'lango');
  await copyCheckout(checkout);
});
afterAll(() => {
  removeStateDir(path.join(checkout, '.lango'));
  rmSync(parent, { recursive: true, force: true });
});

it('comes up from a clone inside a 0700 directory, and the printed radtest line gets Access-Accept', async () => {
  const [auth, acct] = await pickFreeUdpPorts('127.0.0.1', 2);
  const stack = await startLangoUp({
    checkout,
    env: {
      LANGO_ENV: 'development',
      // The default, spelled out so that the caller's environment cannot move it.
      LANGO_STATE_DIR: path.join(checkout, '.lango'),
      LANGO_API_PORT: '0',
      LANGO_RADIUS_AUTH_PORT: String(auth),
      LANGO_RADIUS_ACCT_PORT: String(acct),
      LANGO_EMBEDDED_PG_PORT: String(await freeTcpPort()),
      LANGO_LOG_LEVEL: 'warn',
    },
  });
  try {
    const text = stack.lines.join('\n');
    expect(text).toContain('Lango is up.');
    const reply = parseReply(await runPrintedRadtest(stack));
    expect(reply.code).toBe('Access-Accept');
    expect(reply.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);

    // The printed database URL is the one the API and worker use (the least-privilege
    // application role), with the password's place named.
    const printed = /Database\s+(postgres:\/\/.*?\/postgres)\b/.exec(text)![1]!;
    expect(printed).toMatch(
      /^postgres:\/\/lango_app:<password in \.lango\/database-roles\.json>@127\.0\.0\.1:\d+\/postgres$/,
    );
    const { app } = JSON.parse(readFileSync(path.join(checkout, '.lango', 'database-roles.json'), 'utf8'));
    const client = new Client({
      connectionString: printed.replace('<password in .lango/database-roles.json>', app.password),
    });
    await client.connect();
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM tenants')).rows[0].n).toBeGreaterThanOrEqual(1);
    } finally {
      await client.end();
    }

    // Nothing of the user's was opened up; as root the data lives where postgres can reach it.
    expect(statSync(parent).mode & 0o777).toBe(0o700);
    const isRoot = process.getuid?.() === 0;
    expect(lstatSync(path.join(checkout, '.lango', 'postgres')).isSymbolicLink()).toBe(isRoot);
  } finally {
    expect(await stack.stop()).toBe(0);
  }
});
