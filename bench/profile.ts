/**
 * Where the database time goes, per query, for stock and for Lango:
 *   npm run build && node dist/bench/profile.js
 *
 * 1. Seeds the same two databases as run.ts.
 * 2. Runs each FreeRADIUS once in -X (debug, single-threaded) for one login and one
 *    Start/Interim-Update/Stop, and takes the SQL it sent from its debug log.
 * 3. Replays every query on one connection, as rlm_sql sends it (simple protocol, autocommit),
 *    `BENCH_PROFILE_REPEAT` times (default 2000; accounting queries with a fresh
 *    Acct-Unique-Session-Id each time, so Start inserts and Interim/Stop update as in the load
 *    test), and reads that backend's CPU time from /proc: CPU µs per query. Also EXPLAIN ANALYZE
 *    once for the planning / execution split.
 *
 * Less sensitive to other load on the machine than req/s (a busy machine still inflates it a
 * little). Writes bench/results/radius-profile-<date>.md and .json. Understands the same
 * BENCH_LANGO_OVERLAY_PATCH / BENCH_LANGO_SOURCE_DIR / BENCH_LANGO_SQL experiments as run.ts.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir, startFreeRadius } from '../src/freeradius';
import { cpuMs } from './cpu';
import {
  adminUrl,
  createDatabases,
  langoRadiusUrl,
  dropDatabases,
  NAS_SECRET,
  postgresInfo,
  seedLango,
  seedStock,
} from './db';
import { acctPhase, authPhase, waitUntilAnswering, type AcctKind, type Target } from './load';
import { sourceVersion } from './git';
import { applyExperimentSql, patchedOverlay } from './overlay';
import { startStockFreeRadius } from './stock-raddb';

type ServerName = 'stock' | 'lango';
type Packet = 'auth' | AcctKind;

interface Captured {
  packet: Packet;
  /** FreeRADIUS section that ran it (authorize, session, post-auth, accounting). */
  section: string;
  sql: string;
}

interface Profiled extends Captured {
  cpuUs: number;
  wallUs: number;
  planningMs: number | undefined;
  executionMs: number | undefined;
}

const REPEAT = Number(process.env.BENCH_PROFILE_REPEAT ?? 2000);

const EXPERIMENT = {
  sourceDir: process.env.BENCH_LANGO_SOURCE_DIR ? path.resolve(process.env.BENCH_LANGO_SOURCE_DIR) : undefined,
  overlayPatch: process.env.BENCH_LANGO_OVERLAY_PATCH ? path.resolve(process.env.BENCH_LANGO_OVERLAY_PATCH) : undefined,
  sql: process.env.BENCH_LANGO_SQL ? process.env.BENCH_LANGO_SQL.split(',').map((f) => path.resolve(f)) : undefined,
};

const log = (msg: string): void => {
  process.stderr.write(`[profile] ${msg}\n`);
};

/** The queries in a chunk of -X output, with the section each ran in. */
function captureQueries(lines: readonly string[], packet: Packet): Captured[] {
  const out: Captured[] = [];
  let section = '?';
  for (const l of lines) {
    const s = /# Executing section (\S+)/.exec(l);
    if (s) section = s[1] as string;
    const q = /Executing (?:select )?query: (.*)$/.exec(l);
    if (q) out.push({ packet, section, sql: q[1] as string });
  }
  return out;
}

function overlay(stateDir: string): Promise<string | undefined> {
  return patchedOverlay(stateDir, EXPERIMENT.sourceDir, EXPERIMENT.overlayPatch);
}

async function capture(
  server: ServerName,
  url: string,
  stateDir: string,
  sourceDir: string | undefined,
): Promise<Captured[]> {
  const fr =
    server === 'stock'
      ? await startStockFreeRadius({ databaseUrl: url, secret: NAS_SECRET, stateDir, recvBuff: 4194304, debug: true })
      : await startFreeRadius({
          databaseUrl: langoRadiusUrl(url),
          listenAddress: '127.0.0.1',
          authPort: 0,
          acctPort: 0,
          clientNetworks: ['127.0.0.0/8'],
          clientLifetime: 3600,
          stateDir,
          debug: true,
          ...(sourceDir ? { sourceDir } : {}),
        });
  try {
    const t: Target = { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: NAS_SECRET };
    await waitUntilAnswering(t);
    const out: Captured[] = [];
    // -X prefixes every line of a request with "(N) "; the packet just sent is the highest N.
    const take = async (packet: Packet): Promise<void> => {
      await new Promise((r) => setTimeout(r, 200));
      const lines = fr.output();
      let last = -1;
      for (const l of lines) {
        const m = /^\((\d+)\) /.exec(l);
        if (m) last = Math.max(last, Number(m[1]));
      }
      out.push(
        ...captureQueries(
          lines.filter((l) => l.startsWith(`(${last}) `)),
          packet,
        ),
      );
    };
    const a = await authPhase(t, 'profile', 1, 1, 3);
    if (a.ok !== 1) throw new Error(`${server}: the profiling login was not accepted`);
    await take('auth');
    for (const kind of ['Start', 'Interim-Update', 'Stop'] as const) {
      const r = await acctPhase(t, kind, 'p-', 1, 1);
      if (r.ok !== 1) throw new Error(`${server}: the profiling ${kind} was not answered`);
      await take(kind);
    }
    return out;
  } finally {
    await fr.stop();
  }
}

const UNIQUE_ID = /'[0-9a-f]{32}'/g;

async function replay(url: string, queries: Captured[]): Promise<Profiled[]> {
  const c = new Client({ connectionString: url, application_name: 'lango-bench-profile' });
  await c.connect();
  try {
    const pid = Number((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    const out: Profiled[] = [];
    // Accounting ids: the same N sessions go through Start, Interim-Update and Stop.
    const ids = (i: number, salt: string): string => `'${salt}${i.toString(16).padStart(32 - salt.length, '0')}'`;
    const salt = Math.random().toString(16).slice(2, 10);
    for (const q of queries) {
      const isAcct = q.packet !== 'auth' && UNIQUE_ID.test(q.sql);
      UNIQUE_ID.lastIndex = 0;
      const text = (i: number): string => (isAcct ? q.sql.replace(UNIQUE_ID, ids(i, salt)) : q.sql);
      // Warm the connection's caches (and PL/pgSQL plans) with ids outside the measured range.
      for (let i = 0; i < 20; i++) await c.query(text(REPEAT + 1000 + i));
      const c0 = cpuMs(pid);
      const t0 = performance.now();
      for (let i = 0; i < REPEAT; i++) await c.query(text(i));
      const wall = performance.now() - t0;
      const c1 = cpuMs(pid);
      let planningMs: number | undefined;
      let executionMs: number | undefined;
      try {
        const ex = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, FORMAT TEXT) ${text(REPEAT + 2000)}`);
        for (const r of ex.rows) {
          const line = r['QUERY PLAN'];
          const p = /Planning Time: ([\d.]+) ms/.exec(line);
          const e = /Execution Time: ([\d.]+) ms/.exec(line);
          if (p) planningMs = Number(p[1]);
          if (e) executionMs = Number(e[1]);
        }
      } catch {
        /* not explainable */
      }
      out.push({
        ...q,
        cpuUs: c0 !== undefined && c1 !== undefined ? ((c1 - c0) * 1000) / REPEAT : NaN,
        wallUs: (wall * 1000) / REPEAT,
        planningMs,
        executionMs,
      });
    }
    return out;
  } finally {
    await c.end();
  }
}

function render(date: string, pg: string, res: Record<ServerName, Profiled[]>, experiment: boolean): string {
  const L: string[] = [];
  L.push(`# Per-query database cost: stock vs Lango (${date.slice(0, 10)})`, '');
  if (experiment)
    L.push(`**EXPERIMENT: "lango" is not the repository's configuration: ${JSON.stringify(EXPERIMENT)}**`, '');
  L.push(
    `Each query FreeRADIUS sent for one login and one Start/Interim-Update/Stop, replayed ${REPEAT} times on one ` +
      `connection as rlm_sql sends it (simple protocol, autocommit). CPU = that backend's CPU time per query ` +
      `(parse, plan, execute, commit); wall = round trip from Node. Planning/execution: one EXPLAIN ANALYZE. ` +
      `Lango commit ${sourceVersion(path.dirname(resolveFreeRadiusSourceDir(__dirname)))}. ` +
      `${os.availableParallelism()} CPUs, ${pg}, load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}.`,
    '',
  );
  const totals: Record<string, Record<ServerName, { cpu: number; wall: number; n: number }>> = {};
  for (const server of ['stock', 'lango'] as const) {
    L.push(`## ${server}`, '');
    L.push('| packet | section | query | CPU µs | wall µs | planning ms | execution ms |');
    L.push('|---|---|---|---:|---:|---:|---:|');
    for (const q of res[server]) {
      const short = q.sql.replace(/\s+/g, ' ').slice(0, 90).replace(/\|/g, '\\|');
      L.push(
        `| ${q.packet} | ${q.section} | \`${short}${q.sql.length > 90 ? '…' : ''}\` | ${q.cpuUs.toFixed(0)} | ${q.wallUs.toFixed(0)} | ` +
          `${q.planningMs?.toFixed(3) ?? '–'} | ${q.executionMs?.toFixed(3) ?? '–'} |`,
      );
      const t = (totals[q.packet] ??= { stock: { cpu: 0, wall: 0, n: 0 }, lango: { cpu: 0, wall: 0, n: 0 } })[server];
      t.cpu += q.cpuUs;
      t.wall += q.wallUs;
      t.n++;
    }
    L.push('');
  }
  L.push('## Per packet', '');
  L.push(
    '| packet | stock queries | stock CPU µs | lango queries | lango CPU µs | lango/stock CPU | stock wall µs | lango wall µs |',
  );
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [packet, t] of Object.entries(totals)) {
    L.push(
      `| ${packet} | ${t.stock.n} | ${t.stock.cpu.toFixed(0)} | ${t.lango.n} | ${t.lango.cpu.toFixed(0)} | ${(t.lango.cpu / t.stock.cpu).toFixed(2)}x | ` +
        `${t.stock.wall.toFixed(0)} | ${t.lango.wall.toFixed(0)} |`,
    );
  }
  L.push('');
  return L.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const admin = adminUrl();
  const pg = await postgresInfo(admin);
  const stateDir = path.join(os.tmpdir(), `lango-bench-profile-${process.pid}`);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const dbs = await createDatabases(admin);
  try {
    await Promise.all([seedLango(dbs.langoUrl), seedStock(dbs.stockUrl)]);
    await applyExperimentSql(dbs.langoUrl, EXPERIMENT.sql);
    const sourceDir = await overlay(stateDir);
    const res = {} as Record<ServerName, Profiled[]>;
    for (const server of ['stock', 'lango'] as const) {
      const url = server === 'stock' ? dbs.stockUrl : dbs.langoUrl;
      const queries = await capture(server, url, stateDir, sourceDir);
      log(`${server}: ${queries.length} queries captured; replaying each ${REPEAT} times`);
      res[server] = await replay(url, queries);
    }
    const experiment = Object.values(EXPERIMENT).some(Boolean);
    const md = render(started.toISOString(), pg.version, res, experiment);
    const dir = path.join(path.dirname(resolveFreeRadiusSourceDir(__dirname)), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const stem = `radius-profile-${started.toISOString().slice(0, 10)}${experiment ? '-experiment' : ''}`;
    let base = path.join(dir, stem);
    for (let n = 2; existsSync(`${base}.md`); n++) base = path.join(dir, `${stem}-${n}`);
    await writeFile(`${base}.md`, md);
    await writeFile(
      `${base}.json`,
      `${JSON.stringify({ date: started.toISOString(), repeat: REPEAT, experiment: experiment ? EXPERIMENT : undefined, results: res }, null, 2)}\n`,
    );
    process.stdout.write(`${md}\n`);
    log(`wrote ${path.relative(process.cwd(), base)}.md`);
  } finally {
    await dropDatabases(admin, dbs.names).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
