/**
 * Reports at scale: a fresh database, `lango seed-accounting` (LANGO_BENCH_ROWS rows, default
 * 1 000 000, over 3 tenants and 90 days), then p95 of the usage, top-users and sessions reports
 * through the API (HTTP on a real port, a tenant admin's JWT), and the cost of the rollup trigger
 * on the accounting function (lango_acct_do Interim-Updates with the trigger on and off).
 *   npm run build && node dist/bench/reports.js
 */
import http from 'node:http';
import { Client } from 'pg';
import { createDb } from '../src/db/knex';
import { migrateDatabase } from '../src/db/migrate';
import { createServices } from '../src/modules/services';
import { createApp } from '../src/http/app';
import { appConfig } from '../src/main';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { signToken } from '../src/modules/tenancy/credentials';
import { seedAccounting } from '../src/cli/seed-accounting';
import { parseArgs } from '../src/cli/args';
import { adminUrl, createDatabases, dropDatabases } from './db';

const ROWS = Number(process.env.LANGO_BENCH_ROWS ?? 1_000_000);
const REQUESTS = Number(process.env.LANGO_BENCH_REQUESTS ?? 200);
const SECRET = 'bench-jwt-secret-that-is-long-enough-0123';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main(): Promise<void> {
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  const url = dbs.langoUrl;
  const db = createDb(url, { max: 4 });
  try {
    await migrateDatabase(db, {});
    const seeded = await seedAccounting(db, parseArgs(['--rows', String(ROWS), '--tenants', '3']));
    await db.raw('VACUUM ANALYZE');
    const t = (await db.raw(`SELECT id FROM tenants WHERE slug = 'seed-1'`)).rows[0].id as string;
    const user = (
      await db.raw(
        `INSERT INTO users (tenant_id, email, password_hash, role) VALUES (?, 'bench@seed.test', 'x', 'tenant_admin') RETURNING id`,
        [t],
      )
    ).rows[0].id;
    const config = { ...loadConfig({ LANGO_ENV: 'test', LANGO_JWT_SECRET: SECRET }) };
    const services = createServices(db, config);
    const { app } = createApp({ db, services, config: appConfig(config), logger: createLogger('silent') });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const token = signToken(SECRET, 3600, { sub: user, role: 'tenant_admin', tid: t, ver: 0 });
    const results: Record<string, { p50: number; p95: number; rows: number }> = {};
    for (const [name, q] of [
      ['usage', 'groupBy=day'],
      ['usage', 'groupBy=user&limit=100'],
      ['top-users', 'limit=10'],
      ['sessions', ''],
    ] as const) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const t0 = process.hrtime.bigint();
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/reports/${name}?${q}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { rows: unknown[] };
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        rows = body.rows.length;
      }
      results[`${name}?${q}`] = { p50: pct(times, 50), p95: pct(times, 95), rows };
    }
    server.close();

    // The trigger's cost on the accounting path: N Interim-Updates of open sessions, on and off.
    const c = new Client({ connectionString: url });
    await c.connect();
    const ident = (await c.query(`SELECT identifier, nasname FROM nas WHERE tenant_id = $1`, [t])).rows[0];
    const interims = async (label: string) => {
      const n = 20000;
      const t0 = Date.now();
      await c.query(
        `SELECT count(lango_acct_do('Interim-Update', $1, $2, 'user' || (g % 1000), 's' || g, 'bench-' || $3 || '-' || (g % 2000), '', '', '', '', 0, g, g * 1000, 0, g * 5000, 0,
                                   '', '', '', '', '', '', '', '', '', '', '', '', ''))
         FROM generate_series(1, $4) g`,
        [ident.nasname, ident.identifier, label, n],
      );
      return Math.round((n / (Date.now() - t0)) * 1000);
    };
    const withTrigger = await interims('on');
    await c.query('ALTER TABLE radacct DISABLE TRIGGER radacct_usage_rollup');
    const withoutTrigger = await interims('off');
    await c.query('ALTER TABLE radacct ENABLE TRIGGER radacct_usage_rollup');
    const counts = (
      await c.query(
        `SELECT (SELECT count(*) FROM radacct)::int AS radacct, (SELECT count(*) FROM usage_daily)::int AS usage_daily`,
      )
    ).rows[0];
    await c.end();
    process.stdout.write(
      JSON.stringify(
        {
          date: new Date().toISOString(),
          seeded,
          counts,
          reports: results,
          acctInterimsPerSecond: { withTrigger, withoutTrigger },
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await db.destroy();
    if (process.env.LANGO_BENCH_KEEP) process.stderr.write(`kept ${url}\n`);
    else await dropDatabases(admin, dbs.names);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
