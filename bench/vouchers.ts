/**
 * Voucher batches: how long `VouchersService.createBatch` takes for 10,000 codes, including
 * every FreeRADIUS row (subscriber, radcheck password, radusergroup plan group) in its one
 * transaction. Goal (issue 9): under 2 s. Each run adds a batch to the same tenant, so later
 * runs also show the cost of uniqueness against a growing set of codes.
 *
 *   npm run bench:vouchers [-- --runs 5 --size 10000]
 *
 * Needs a PostgreSQL server (LANGO_BENCH_DATABASE_URL, DATABASE_URL or postgres@127.0.0.1:5432).
 * Results: bench/results/vouchers-<date>.md and .json.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createDb } from '../src/db/knex';
import { migrateDatabase } from '../src/db/migrate';
import { createServices } from '../src/modules/services';
import { SYSTEM } from '../src/modules/audit/actor';
import { loadConfig } from '../src/config';
import { adminUrl, createDatabases, dropDatabases, postgresInfo } from './db';
import { sourceVersion } from './git';
import { writeResultFiles } from './results';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

function repoRoot(): string {
  return path.resolve(__dirname, '..', '..');
}

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const size = arg('size', 10000);
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  const db = createDb(dbs.langoUrl, { max: 4 });
  const ms: number[] = [];
  try {
    await migrateDatabase(db, {});
    const s = createServices(db, { ...loadConfig({}), publicUrl: 'http://127.0.0.1:3000' });
    const { tenant } = await s.tenants.create(SYSTEM, {
      name: 'Voucher bench',
      slug: 'voucher-bench',
      admin: { email: 'admin@voucher-bench.example', password: randomBytes(12).toString('hex') },
    });
    const plan = await s.plans.create(SYSTEM, tenant.id, {
      name: 'Day',
      durationSeconds: 86400,
      rateLimit: '2M/5M',
      price: 5000,
    });
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const out = await s.vouchers.createBatch(SYSTEM, tenant.id, {
        planId: plan.id,
        quantity: size,
        alphabet: 'alphanumeric',
        deviceLimit: 1,
      });
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      if (out.codes.length !== size) throw new Error(`expected ${size} codes, got ${out.codes.length}`);
      ms.push(t);
      console.log(`run ${i + 1}: ${size} codes in ${t.toFixed(0)} ms`);
    }
    const rows = await db.raw(
      `SELECT (SELECT count(*) FROM radcheck) AS c, (SELECT count(*) FROM radusergroup) AS g, (SELECT count(*) FROM vouchers) AS v`,
    );
    const sorted = [...ms].sort((a, b) => a - b);
    const report = {
      date: new Date().toISOString(),
      source: sourceVersion(repoRoot()),
      host: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', load: os.loadavg() },
      postgres: await postgresInfo(dbs.langoUrl),
      size,
      runs: ms.map((m) => Math.round(m)),
      bestMs: Math.round(sorted[0]!),
      medianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
      worstMs: Math.round(sorted[sorted.length - 1]!),
      rows: rows.rows[0],
      goalMs: 2000,
    };
    const md = [
      `# Voucher batch of ${size}, ${report.date.slice(0, 10)}`,
      '',
      `Source ${report.source}; ${report.host.cpus} CPUs (${report.host.model}), load ${report.host.load.map((l) => l.toFixed(2)).join(' ')}; ${report.postgres.version}.`,
      '',
      `createBatch with every FreeRADIUS row, one transaction, ${runs} runs into one tenant: best ${report.bestMs} ms, median ${report.medianMs} ms, worst ${report.worstMs} ms (goal < 2000 ms).`,
      '',
      `Runs (ms): ${report.runs.join(', ')}. Rows at the end: ${JSON.stringify(report.rows)}.`,
      '',
    ].join('\n');
    const files = await writeResultFiles(
      path.join(repoRoot(), 'bench', 'results'),
      'vouchers',
      report.date.slice(0, 10),
      report,
      md,
    );
    console.log(md);
    console.log(`wrote ${files.md} and ${files.json}`);
  } finally {
    await db.destroy();
    await dropDatabases(admin, dbs.names);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
