/**
 * Reports at scale (`npm run bench:reports`): a database filled by `lango seed-accounting`
 * (LANGO_BENCH_ROWS radacct rows, default the 10 000 000, over 3 tenants and 90 days,
 * plus LANGO_BENCH_PAYMENTS payments, default 300 000), then
 *  - p50/p95 of the usage, revenue, sessions (and top-users, payment funnel) reports through the
 *    API (HTTP on a real port, a tenant admin's JWT), with EXPLAIN (ANALYZE, BUFFERS) of each
 *    report's statement (tables read, whether raw radacct is scanned);
 *  - the rollup lag behind accounting under a steady interim load: Interim-Updates flow through
 *    lango_acct_do at LANGO_BENCH_LAG_RATE per second for LANGO_BENCH_LAG_SECONDS while a second
 *    connection polls usage_daily for a probe session, timing when each of its interims shows;
 *  - the rollup trigger's cost on lango_acct_do (Interim-Updates with the trigger on and off).
 * LANGO_BENCH_SEEDED_URL names a database seeded before (migrated to the latest, seeded with
 * payments if it has none, kept): seeding 10 M rows takes about an hour on a shared 2-core box.
 * Results: bench/results/reports-<date>.md and .json.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
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
import { writeResultFiles } from './results';

const ROWS = Number(process.env.LANGO_BENCH_ROWS ?? 10_000_000);
const PAYMENTS = Number(process.env.LANGO_BENCH_PAYMENTS ?? 300_000);
const REQUESTS = Number(process.env.LANGO_BENCH_REQUESTS ?? 200);
const LAG_RATE = Number(process.env.LANGO_BENCH_LAG_RATE ?? 500);
const LAG_SECONDS = Number(process.env.LANGO_BENCH_LAG_SECONDS ?? 30);
const SEEDED = process.env.LANGO_BENCH_SEEDED_URL;
const SECRET = 'bench-jwt-secret-that-is-long-enough-0123';

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const r1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const REPORTS: ReadonlyArray<readonly [string, string]> = [
  ['usage', 'groupBy=day'],
  ['usage', 'groupBy=month'],
  ['usage', 'groupBy=user&limit=100'],
  ['top-users', 'limit=10'],
  ['sessions', ''],
  ['revenue', 'groupBy=day'],
  ['revenue', 'groupBy=plan'],
  ['revenue', 'groupBy=channel'],
  ['payment-funnel', 'groupBy=day'],
];

interface ReportResult {
  p50: number;
  p95: number;
  rows: number;
  /** Server-side time of the statement (EXPLAIN ANALYZE), ms. */
  executionMs: number;
  /** Relations the plan reads. */
  reads: string[];
  scansRadacct: boolean;
  plan: string[];
}

/** EXPLAIN (ANALYZE, BUFFERS) of the last report statement the API ran (native SQL, $n bindings). */
async function explain(c: Client, q: { sql: string; bindings: readonly unknown[] }) {
  const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, [...q.bindings]);
  const plan = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']!);
  const reads = [
    ...new Set(plan.flatMap((l: string) => [...l.matchAll(/ on (\w+)(?: \w+)?(?: \(|$| )/g)].map((m) => m[1]!))),
  ] as string[];
  const exec = Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1] ?? NaN);
  return { plan, reads, executionMs: exec, scansRadacct: plan.some((l: string) => /Scan.* on radacct\b/.test(l)) };
}

async function main(): Promise<void> {
  const admin = adminUrl();
  const dbs = SEEDED ? undefined : await createDatabases(admin);
  const url = SEEDED ?? dbs!.langoUrl;
  const db = createDb(url, { max: 4 });
  let seeded: unknown = { reused: url.replace(/:[^:@/]*@/, ':***@') };
  try {
    await migrateDatabase(db, {});
    if (!SEEDED) {
      seeded = await seedAccounting(
        db,
        parseArgs(['--rows', String(ROWS), '--tenants', '3', '--payments', String(PAYMENTS)]),
      );
    } else if (Number((await db.raw('SELECT count(*) AS n FROM payments')).rows[0].n) === 0) {
      // Payments only (one more radacct row): the accounting was seeded before.
      await seedAccounting(db, parseArgs(['--rows', '1', '--tenants', '3', '--payments', String(PAYMENTS)]));
    }
    await db.raw('VACUUM ANALYZE');
    const t = (await db.raw(`SELECT id FROM tenants WHERE slug = 'seed-1'`)).rows[0].id as string;
    const email = `bench-${Date.now()}@seed.test`;
    const user = (
      await db.raw(
        `INSERT INTO users (tenant_id, email, password_hash, role) VALUES (?, ?, 'x', 'tenant_admin') RETURNING id`,
        [t, email],
      )
    ).rows[0].id;
    const config = { ...loadConfig({ LANGO_ENV: 'test', LANGO_JWT_SECRET: SECRET }) };
    const services = createServices(db, config);
    const { app } = createApp({ db, services, config: appConfig(config), logger: createLogger('silent') });
    let last: { sql: string; bindings: readonly unknown[] } | undefined;
    db.on('query', (q: { sql: string; bindings?: readonly unknown[] }) => {
      if (q.sql.includes('reports.')) last = { sql: q.sql, bindings: q.bindings ?? [] };
    });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const token = signToken(SECRET, 3600, { sub: user, role: 'tenant_admin', tid: t, ver: 0 });
    const c = new Client({ connectionString: url });
    await c.connect();
    const reports: Record<string, ReportResult> = {};
    for (const [name, q] of REPORTS) {
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
      const x = await explain(c, last!);
      reports[`${name}?${q}`] = { p50: r1(pct(times, 50)), p95: r1(pct(times, 95)), rows, ...x };
      process.stderr.write(`${name}?${q}: p50 ${r1(pct(times, 50))} ms, p95 ${r1(pct(times, 95))} ms\n`);
    }
    server.close();

    const ident = (await c.query(`SELECT identifier, nasname FROM nas WHERE tenant_id = $1`, [t])).rows[0];
    const lag = await rollupLag(url, c, t, ident);
    process.stderr.write(`rollup lag: ${JSON.stringify(lag)}\n`);

    // The trigger's cost on the accounting path: N Interim-Updates of open sessions, on and off.
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
        `SELECT (SELECT count(*) FROM radacct)::int AS radacct, (SELECT count(*) FROM radacct WHERE acctstoptime IS NULL)::int AS open,
                (SELECT count(*) FROM usage_daily)::int AS usage_daily, (SELECT count(*) FROM payments)::int AS payments,
                (SELECT count(*) FROM ledger_entries)::int AS ledger_entries`,
      )
    ).rows[0];
    await c.end();
    const date = new Date().toISOString();
    const host = { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) };
    const result = {
      date,
      seeded,
      counts,
      requestsPerReport: REQUESTS,
      reports,
      rollupLag: lag,
      acctInterimsPerSecond: { withTrigger, withoutTrigger },
      host,
    };
    const md = markdown(result);
    process.stdout.write(md);
    const files = await writeResultFiles(
      path.join(__dirname, '..', '..', 'bench', 'results'),
      'reports',
      date.slice(0, 10),
      result,
      md,
    );
    process.stderr.write(`written: ${files.md}, ${files.json}\n`);
  } finally {
    await db.destroy();
    if (SEEDED || process.env.LANGO_BENCH_KEEP) process.stderr.write(`kept the database\n`);
    else await dropDatabases(admin, dbs!.names);
  }
}

/**
 * Rollup lag under a steady interim load: every 100 ms one statement runs LAG_RATE / 10
 * Interim-Updates through lango_acct_do over 2 000 open sessions, among them a probe session
 * whose input counter grows by 1000 per tick. A second connection (as a reports reader would)
 * polls the probe's usage_daily rows; a tick's lag is the time from sending its statement (and
 * from its commit being acknowledged) to the watcher first seeing its counter.
 */
async function rollupLag(url: string, c: Client, tenantId: string, ident: { identifier: string; nasname: string }) {
  const watcher = new Client({ connectionString: url });
  await watcher.connect();
  const perTick = Math.max(1, Math.round(LAG_RATE / 10));
  const sent = new Map<number, number>();
  const acked = new Map<number, number>();
  const seen = new Map<number, number>();
  let stop = false;
  let polls = 0;
  const watch = (async () => {
    let k = 0;
    while (!stop) {
      const r = await watcher.query(
        `SELECT coalesce(sum(input_octets), 0)::float8 AS i FROM usage_daily WHERE tenant_id = $1 AND username = 'lag-probe'`,
        [tenantId],
      );
      polls++;
      const now = performance.now();
      const upTo = Math.floor(r.rows[0].i / 1000);
      while (k < upTo) seen.set(++k, now);
    }
  })();
  const started = performance.now();
  let ticks = 0;
  let interims = 0;
  while (performance.now() - started < LAG_SECONDS * 1000) {
    const tick = ++ticks;
    const tickStart = performance.now();
    sent.set(tick, tickStart);
    await c.query(
      `SELECT count(lango_acct_do('Interim-Update', $1, $2, CASE WHEN g = 0 THEN 'lag-probe' ELSE 'user' || (g % 1000) END,
                                  's' || g, 'lag-' || g, '', '', '', '', 0, $3 * 10, CASE WHEN g = 0 THEN $3 * 1000 ELSE $3 * 100 + g END, 0, $3 * 5000, 0,
                                  '', '', '', '', '', '', '', '', '', '', '', '', ''))
       FROM (SELECT 0 AS g UNION ALL SELECT 1 + ($3 * $4 + h) % 1999 FROM generate_series(1, $4 - 1) h) x`,
      [ident.nasname, ident.identifier, tick, perTick],
    );
    acked.set(tick, performance.now());
    interims += perTick;
    const wait = tickStart + 100 - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const elapsed = (performance.now() - started) / 1000;
  await sleep(500);
  stop = true;
  await watch;
  await watcher.end();
  const fromSend: number[] = [];
  const fromCommit: number[] = [];
  for (const [k, s] of sent) {
    const v = seen.get(k);
    if (v === undefined) continue;
    fromSend.push(v - s);
    fromCommit.push(v - acked.get(k)!);
  }
  return {
    targetInterimsPerSecond: LAG_RATE,
    achievedInterimsPerSecond: Math.round(interims / elapsed),
    seconds: r1(elapsed),
    ticks,
    ticksSeen: fromSend.length,
    watcherPollsPerSecond: Math.round(polls / elapsed),
    lagFromSendMs: { p50: r1(pct(fromSend, 50)), p95: r1(pct(fromSend, 95)), max: r1(Math.max(...fromSend)) },
    lagAfterCommitMs: { p50: r1(pct(fromCommit, 50)), p95: r1(pct(fromCommit, 95)), max: r1(Math.max(...fromCommit)) },
  };
}

function markdown(r: {
  date: string;
  counts: Record<string, number>;
  requestsPerReport: number;
  reports: Record<string, ReportResult>;
  rollupLag: Awaited<ReturnType<typeof rollupLag>>;
  acctInterimsPerSecond: { withTrigger: number; withoutTrigger: number };
  host: { cpus: number; loadavg: number[] };
}): string {
  const rows = Object.entries(r.reports)
    .map(
      ([k, v]) =>
        `| ${k} | ${v.p50} | ${v.p95} | ${v.executionMs} | ${v.rows} | ${v.reads.join(', ')} | ${v.scansRadacct ? 'yes' : 'no'} |`,
    )
    .join('\n');
  const l = r.rollupLag;
  return `# Reports benchmark, ${r.date}

radacct ${r.counts.radacct} rows (${r.counts.open} open), usage_daily ${r.counts.usage_daily} rows, payments
${r.counts.payments}, ledger entries ${r.counts.ledger_entries}; 3 tenants, 90 days, 1000 users each.
${r.host.cpus} CPUs shared with other work: load average ${r.host.loadavg.join(' ')} at the end.

## Reports through the API (${r.requestsPerReport} sequential requests each, ms)

| report | p50 | p95 | statement (EXPLAIN ANALYZE) | rows | reads | scans radacct |
|---|---|---|---|---|---|---|
${rows}

## Rollup lag behind accounting

${l.achievedInterimsPerSecond} Interim-Updates/s through lango_acct_do (target ${l.targetInterimsPerSecond}) for ${l.seconds} s;
a second connection polled usage_daily ${l.watcherPollsPerSecond} times/s. ${l.ticksSeen} of ${l.ticks} probe interims seen.

| lag, ms | p50 | p95 | max |
|---|---|---|---|
| from sending the interim | ${l.lagFromSendMs.p50} | ${l.lagFromSendMs.p95} | ${l.lagFromSendMs.max} |
| after its commit was acknowledged | ${l.lagAfterCommitMs.p50} | ${l.lagAfterCommitMs.p95} | ${l.lagAfterCommitMs.max} |

## Rollup trigger cost

lango_acct_do Interim-Updates/s: ${r.acctInterimsPerSecond.withTrigger} with the trigger, ${r.acctInterimsPerSecond.withoutTrigger} without.
`;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
