/**
 * `npm run bench:acct-sql`: PostgreSQL's own cost of one accounting packet, without FreeRADIUS
 * or UDP in the way. A database migrated and seeded as for `npm run bench`; C connections call
 * lango_acct() exactly as FreeRADIUS's sql_acct module does (hex-encoded strings), N sessions
 * through Start, then Interim-Update, then Stop, for R rounds. Reported per packet: the CPU time
 * of the backends that ran the calls (/proc, utime + stime) and the wall time of the phase.
 *
 * Backend CPU per packet hardly depends on what else the machine does, unlike throughput, so
 * this is the figure to judge a change to lango_acct_do, its triggers or radacct's indexes by
 * (bench/README.md "Accounting in PostgreSQL alone"). To compare two commits, run it in each
 * checkout one after the other; the report names the commit.
 *
 *   BENCH_ACCT_SQL_SESSIONS  sessions per round (default 5000)
 *   BENCH_ACCT_SQL_ROUNDS    rounds (default 3; the first is reported apart as a warm-up)
 *   BENCH_ACCT_SQL_CLIENTS   connections calling in parallel (default 8, sql_acct's pool)
 *   BENCH_ACCT_SQL_URL       a database seeded by an earlier run (BENCH_KEEP_DB=1) to use as it
 *                            is, for trying a change to a function in place; kept afterwards
 *   BENCH_ACCT_SQL_OUT       also write the report to this file
 *   BENCH_LANGO_SQL          SQL file(s), comma-separated, run after seeding (as for npm run bench):
 *                            a changed function measured on the same fresh database as the original
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { cpuMs } from './cpu';
import { adminUrl, createDatabases, dropDatabases, seedLango } from './db';
import { applyExperimentSql } from './overlay';
import { sourceVersion } from './git';
import { positiveIntEnv } from './env';

const SESSIONS = positiveIntEnv('BENCH_ACCT_SQL_SESSIONS', 5000);
const ROUNDS = positiveIntEnv('BENCH_ACCT_SQL_ROUNDS', 3);
const CLIENTS = positiveIntEnv('BENCH_ACCT_SQL_CLIENTS', 8);
const PHASES = ['Start', 'Interim-Update', 'Stop'] as const;
type Phase = (typeof PHASES)[number];

/** Session ids unique to this run, so a kept database can be measured again. */
const RUN = Date.now().toString(36);

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

const CALL = `SELECT lango_acct($1, $2, $3, $4, $5, $6, '', $2, $7, 'Wireless-802.11', 0, $8, $9, 0, $10, 0,
  'RADIUS', '', '', $11, $12, 'Framed-User', 'PPP', $13, '', '', '', '', '')`;

function params(phase: Phase, round: number, i: number): unknown[] {
  const user = `perf${String(i % 1000).padStart(4, '0')}`;
  const seconds = phase === 'Start' ? 0 : phase === 'Interim-Update' ? 300 : 600;
  const bytes = phase === 'Start' ? 0 : seconds * 1000;
  return [
    phase,
    '127.0.0.1',
    '',
    hex(user),
    hex(`s-${RUN}-${round}-${i}`),
    `acctsql-${RUN}-${round}-${i}`,
    hex(`bridge-${i % 50}`),
    seconds,
    bytes,
    bytes * 4,
    hex(`AA-BB-CC-${String(i % 100).padStart(2, '0')}-00-01`),
    phase === 'Stop' ? 'User-Request' : '',
    `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  ];
}

interface PhaseResult {
  round: number;
  phase: Phase;
  packets: number;
  wallMs: number;
  backendCpuMs: number;
}

async function runPhase(clients: Client[], pids: number[], phase: Phase, round: number): Promise<PhaseResult> {
  const cpu0 = pids.map((p) => cpuMs(p) ?? NaN);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      for (let i = next++; i < SESSIONS; i = next++) {
        const r = await c.query<{ lango_acct: number }>(CALL, params(phase, round, i));
        if (r.rows[0]?.lango_acct !== 1) throw new Error(`${phase} ${i}: lango_acct returned ${r.rows[0]?.lango_acct}`);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const backendCpuMs = pids.reduce((sum, p, k) => sum + ((cpuMs(p) ?? NaN) - (cpu0[k] ?? NaN)), 0);
  return { round, phase, packets: SESSIONS, wallMs, backendCpuMs };
}

async function main(): Promise<void> {
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  // dist/bench/acct-sql.js -> the checkout it was built from.
  const commit = sourceVersion(path.resolve(__dirname, '..', '..'));
  try {
    await seedLango(dbs.langoUrl);
    const clients = Array.from({ length: CLIENTS }, () => new Client({ connectionString: dbs.langoUrl }));
    await Promise.all(clients.map((c) => c.connect()));
    const pids = await Promise.all(
      clients.map(async (c) => Number((await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]?.p)),
    );
    const results: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const phase of PHASES) {
        const r = await runPhase(clients, pids, phase, round);
        results.push(r);
        console.log(
          `round ${round} ${phase}: ${((r.backendCpuMs * 1000) / r.packets).toFixed(0)} µs backend CPU per packet, ` +
            `${((r.packets * 1000) / r.wallMs).toFixed(0)} packets/s`,
        );
      }
    }
    await Promise.all(clients.map((c) => c.end()));
    const timed = results.filter((r) => r.round > 1 || ROUNDS === 1);
    const lines = [
      `# Accounting in PostgreSQL alone (${new Date().toISOString().slice(0, 10)})`,
      '',
      `Lango: commit ${commit}${process.env.BENCH_LANGO_SQL ? ` with ${process.env.BENCH_LANGO_SQL} applied` : ''}. ${CLIENTS} connections, ${SESSIONS} sessions per round, ${ROUNDS} rounds ` +
        `(round 1 is a warm-up, not in the means). Backend CPU = utime + stime of the backends that ran ` +
        `the calls, per packet.`,
      '',
      '| phase | backend CPU µs per packet | packets/s |',
      '|---|---:|---:|',
    ];
    for (const phase of [...PHASES, 'all' as const]) {
      const rs = timed.filter((r) => phase === 'all' || r.phase === phase);
      const packets = rs.reduce((s, r) => s + r.packets, 0);
      const cpu = rs.reduce((s, r) => s + r.backendCpuMs, 0);
      const wall = rs.reduce((s, r) => s + r.wallMs, 0);
      lines.push(`| ${phase} | ${((cpu * 1000) / packets).toFixed(0)} | ${((packets * 1000) / wall).toFixed(0)} |`);
    }
    const md = `${lines.join('\n')}\n`;
    console.log(md);
    const out = process.env.BENCH_ACCT_SQL_OUT;
    if (out) {
      await writeFile(path.resolve(out), md);
      console.log(`wrote ${out}`);
    }
  } finally {
    if (process.env.BENCH_KEEP_DB === '1') console.log(`keeping ${dbs.langoUrl}`);
    else await dropDatabases(admin, dbs.names);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
