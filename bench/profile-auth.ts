/**
 * Stable figures for authorize (issue 12 item 6), stock vs Lango on the benchmark's data:
 *   npm run bench:profile-auth        (= npm run build && node dist/bench/profile-auth.js)
 *
 * 1. PostgreSQL per login, from pg_stat_statements (track = all, so the statements inside the
 *    PL/pgSQL functions are shown too) of the server's own database (dbid), at 1 and at 16 logins
 *    in flight: statements, calls, execution time and shared buffers touched per login, plus the
 *    PostgreSQL backends' CPU per login from /proc and a sampling of pg_stat_activity's wait
 *    events (every 5 ms) while the logins run. Buffers and calls per login do not depend on the
 *    machine's load; times do.
 * 2. FreeRADIUS instructions per login: the server under `valgrind --tool=callgrind`, counters
 *    zeroed after a warm-up, then `BENCH_PROFILE_CALLGRIND_LOGINS` logins, then dumped: instructions
 *    (Ir) per Access-Request, all threads. Independent of the load on the machine.
 *
 * Needs the shared server to preload pg_stat_statements (CREATE EXTENSION is made in the
 * benchmark's databases only; nothing is reset outside them), unless BENCH_PROFILE_PG=0 (callgrind
 * only: no PostgreSQL figures). Writes
 * bench/results/radius-auth-profile-<date>.md and .json. BENCH_LANGO_OVERLAY_PATCH /
 * BENCH_LANGO_SOURCE_DIR / BENCH_LANGO_SQL / BENCH_STOCK_MAX_SERVERS as for run.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir, startFreeRadius } from '../src/freeradius';
import { CpuMeter } from './cpu';
import {
  adminUrl,
  createDatabases,
  dropDatabases,
  langoRadiusUrl,
  NAS_SECRET,
  postgresInfo,
  seedLango,
  seedStock,
  withDatabase,
} from './db';
import { sourceVersion } from './git';
import { applyExperimentSql, patchedOverlay } from './overlay';
import { authPhase, waitUntilAnswering, type Target } from './load';
import { startStockFreeRadius } from './stock-raddb';

type ServerName = 'stock' | 'lango';

const CONFIG = {
  /** Logins per measured phase. */
  logins: Number(process.env.BENCH_PROFILE_LOGINS ?? 2000),
  /** Logins under callgrind (about 50x slower). */
  callgrindLogins: Number(process.env.BENCH_PROFILE_CALLGRIND_LOGINS ?? 1000),
  warmup: Number(process.env.BENCH_WARMUP_REQUESTS ?? 1000),
  concurrencies: (process.env.BENCH_PROFILE_CONCURRENCY ?? '1,16').split(',').map(Number),
  callgrind: process.env.BENCH_PROFILE_CALLGRIND !== '0',
  /** 0: callgrind only, for a server that does not preload pg_stat_statements. */
  pg: process.env.BENCH_PROFILE_PG !== '0',
};

const EXPERIMENT = {
  sourceDir: process.env.BENCH_LANGO_SOURCE_DIR ? path.resolve(process.env.BENCH_LANGO_SOURCE_DIR) : undefined,
  overlayPatch: process.env.BENCH_LANGO_OVERLAY_PATCH ? path.resolve(process.env.BENCH_LANGO_OVERLAY_PATCH) : undefined,
  sql: process.env.BENCH_LANGO_SQL ? process.env.BENCH_LANGO_SQL.split(',').map((f) => path.resolve(f)) : undefined,
  stockMaxServers: process.env.BENCH_STOCK_MAX_SERVERS ? Number(process.env.BENCH_STOCK_MAX_SERVERS) : undefined,
};

const log = (msg: string): void => {
  process.stderr.write(`[profile-auth] ${msg}\n`);
};

interface Statement {
  toplevel: boolean;
  query: string;
  callsPerLogin: number;
  execMsPerLogin: number;
  sharedHitPerLogin: number;
  sharedReadPerLogin: number;
  sharedDirtiedPerLogin: number;
  walBytesPerLogin: number;
}

interface PgPhase {
  concurrency: number;
  logins: number;
  accepted: number;
  wallMs: number;
  /** Sum over top-level statements. */
  execMsPerLogin: number;
  sharedHitPerLogin: number;
  walBytesPerLogin: number;
  backendCpuMsPerLogin: number | undefined;
  /** wait_event_type:wait_event (or "CPU") of active backends, share of samples. */
  waits: Array<{ event: string; share: number }>;
  statements: Statement[];
}

interface CallgrindResult {
  logins: number;
  accepted: number;
  instructions: number;
  instructionsPerLogin: number;
  /** The functions that cost most, self instructions per login (callgrind_annotate), best first. */
  top: Array<{ fn: string; perLogin: number }>;
}

interface ServerProfile {
  server: ServerName;
  pg: PgPhase[];
  callgrind?: CallgrindResult;
}

function overlay(stateDir: string): Promise<string | undefined> {
  return patchedOverlay(stateDir, EXPERIMENT.sourceDir, EXPERIMENT.overlayPatch);
}

interface Running {
  pid: number;
  authPort: number;
  acctPort: number;
  stop(): Promise<void>;
}

function start(
  server: ServerName,
  url: string,
  stateDir: string,
  sourceDir: string | undefined,
  binary?: string,
): Promise<Running> {
  if (server === 'stock') {
    return startStockFreeRadius({
      databaseUrl: url,
      secret: NAS_SECRET,
      stateDir,
      recvBuff: 4194304,
      ...(binary ? { binary, readyTimeoutMs: 120_000 } : {}),
      ...(EXPERIMENT.stockMaxServers ? { threadMaxServers: EXPERIMENT.stockMaxServers } : {}),
    });
  }
  return startFreeRadius({
    databaseUrl: langoRadiusUrl(url),
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: 3600,
    stateDir,
    ...(binary ? { binary, readyTimeoutMs: 120_000 } : {}),
    ...(sourceDir ? { sourceDir } : {}),
  });
}

/** Samples the wait events of the database's active backends until stopped. */
function sampleWaits(admin: Client, db: string): { stop(): Promise<Array<{ event: string; share: number }>> } {
  const counts = new Map<string, number>();
  let total = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await admin.query<{ e: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS e FROM pg_stat_activity
         WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`,
        [db],
      );
      for (const row of r.rows) {
        counts.set(row.e, (counts.get(row.e) ?? 0) + 1);
        total++;
      }
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...counts]
        .map(([event, n]) => ({ event, share: total ? n / total : 0 }))
        .sort((a, b) => b.share - a.share);
    },
  };
}

async function statements(c: Client, dbid: number, logins: number): Promise<Statement[]> {
  const r = await c.query<{
    toplevel: boolean;
    query: string;
    calls: string;
    total_exec_time: number;
    shared_blks_hit: string;
    shared_blks_read: string;
    shared_blks_dirtied: string;
    wal_bytes: string;
  }>(
    `SELECT toplevel, query, calls, total_exec_time, shared_blks_hit, shared_blks_read, shared_blks_dirtied, wal_bytes
     FROM pg_stat_statements WHERE dbid = $1 AND query !~* 'pg_stat_statements' ORDER BY toplevel DESC, total_exec_time DESC`,
    [dbid],
  );
  return r.rows.map((s) => ({
    toplevel: s.toplevel,
    query: s.query.replace(/\s+/g, ' ').trim(),
    callsPerLogin: Number(s.calls) / logins,
    execMsPerLogin: s.total_exec_time / logins,
    sharedHitPerLogin: Number(s.shared_blks_hit) / logins,
    sharedReadPerLogin: Number(s.shared_blks_read) / logins,
    sharedDirtiedPerLogin: Number(s.shared_blks_dirtied) / logins,
    walBytesPerLogin: Number(s.wal_bytes) / logins,
  }));
}

async function pgPhases(
  server: ServerName,
  url: string,
  db: string,
  admin: Client,
  stateDir: string,
  sourceDir: string | undefined,
): Promise<PgPhase[]> {
  const dbc = new Client({ connectionString: url, application_name: 'lango-bench-profile' });
  await dbc.connect();
  const fr = await start(server, url, stateDir, sourceDir);
  try {
    const dbid = Number(
      (await dbc.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = current_database()')).rows[0]?.oid,
    );
    const t: Target = { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: NAS_SECRET };
    await waitUntilAnswering(t);
    await authPhase(t, 'warm-up', CONFIG.warmup, 200, 500);
    const out: PgPhase[] = [];
    const meter = new CpuMeter(admin, db, url);
    for (const concurrency of CONFIG.concurrencies) {
      await dbc.query('SELECT pg_stat_statements_reset(0, $1::oid, 0)', [dbid]);
      const before = await meter.sample(fr.pid);
      const waits = sampleWaits(admin, db);
      const t0 = performance.now();
      const r = await authPhase(t, `auth ${concurrency} in flight`, CONFIG.logins, concurrency, 3000 + concurrency);
      const wallMs = performance.now() - t0;
      const w = await waits.stop();
      const cpu = await meter.delta(before, fr.pid);
      const st = await statements(dbc, dbid, CONFIG.logins);
      const top = st.filter((s) => s.toplevel);
      out.push({
        concurrency,
        logins: CONFIG.logins,
        accepted: r.ok,
        wallMs,
        execMsPerLogin: top.reduce((a, s) => a + s.execMsPerLogin, 0),
        sharedHitPerLogin: top.reduce((a, s) => a + s.sharedHitPerLogin, 0),
        walBytesPerLogin: top.reduce((a, s) => a + s.walBytesPerLogin, 0),
        backendCpuMsPerLogin: cpu.postgresMs !== undefined ? cpu.postgresMs / CONFIG.logins : undefined,
        waits: w,
        statements: st.slice(0, 40),
      });
      log(
        `${server}: ${concurrency} in flight: ${r.ok}/${CONFIG.logins} accepted, PG exec ${out.at(-1)?.execMsPerLogin.toFixed(3)} ms/login, ` +
          `backend CPU ${out.at(-1)?.backendCpuMsPerLogin?.toFixed(3)} ms/login`,
      );
    }
    return out;
  } finally {
    await fr.stop();
    await dbc.end();
  }
}

/**
 * Self instructions per function summed over the dumps (callgrind_annotate), the `top` largest:
 * where a login's instructions go (regex, xlat, talloc, the SQL driver...).
 */
function callgrindTop(files: string[], top: number): Array<{ fn: string; ir: number }> {
  const sum = new Map<string, number>();
  for (const f of files) {
    const text = execFileSync('callgrind_annotate', ['--threshold=99', '--auto=no', f], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    for (const line of text.split('\n')) {
      // "  1,234,567 (12.34%)  file.c:function [/path/lib.so]"
      const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*)$/.exec(line);
      if (!m || /PROGRAM TOTALS/.test(line)) continue;
      const fn = m[2]!
        .replace(/^\?\?\?:/, '')
        .replace(/^[^:\s]*:/, '')
        .replace(/ \[(?:.*\/)?([^/\]]+)\]$/, ' [$1]');
      sum.set(fn, (sum.get(fn) ?? 0) + Number(m[1]!.replace(/,/g, '')));
    }
  }
  return [...sum.entries()]
    .map(([fn, ir]) => ({ fn, ir }))
    .sort((a, b) => b.ir - a.ir)
    .slice(0, top);
}

/** The "summary:" or "totals:" line of a callgrind dump: Ir. */
function callgrindTotal(file: string): number {
  const m = /^totals: (\d+)/m.exec(readFileSync(file, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function callgrindPhase(
  server: ServerName,
  url: string,
  stateDir: string,
  sourceDir: string | undefined,
): Promise<CallgrindResult> {
  const dir = path.join(stateDir, `callgrind-${server}`);
  await mkdir(dir, { recursive: true });
  const out = path.join(dir, 'callgrind.out');
  const wrapper = path.join(dir, 'freeradius-callgrind');
  // Instrumentation starts switched off (start-up and warm-up run uncounted, and faster):
  // `callgrind_control -i on` after the warm-up, `-d` dumps what the measured logins cost.
  await writeFile(
    wrapper,
    `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${out} freeradius "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  const fr = await start(server, url, stateDir, sourceDir, wrapper);
  let result: CallgrindResult;
  try {
    const t: Target = { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: NAS_SECRET };
    await waitUntilAnswering(t);
    await authPhase(t, 'warm-up', 200, 16, 500);
    execFileSync('callgrind_control', ['-z', String(fr.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-i', 'on', String(fr.pid)], { stdio: 'ignore' });
    const r = await authPhase(t, 'callgrind', CONFIG.callgrindLogins, 16, 6000);
    execFileSync('callgrind_control', ['-i', 'off', String(fr.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['-d', String(fr.pid)], { stdio: 'ignore' });
    // The dumps written now, callgrind.out.<n> (callgrind.out itself is the final one, at exit,
    // and holds nothing: instrumentation is off again).
    const dumps = (): string[] =>
      readdirSync(dir)
        .filter((f) => /^callgrind\.out\.\d+$/.test(f))
        .map((f) => path.join(dir, f));
    const total = (): number => dumps().reduce((a, f) => a + callgrindTotal(f), 0);
    let instructions = 0;
    for (let i = 0; i < 300 && (instructions = total()) === 0; i++) await new Promise((res) => setTimeout(res, 100));
    result = {
      logins: CONFIG.callgrindLogins,
      accepted: r.ok,
      instructions,
      instructionsPerLogin: instructions / CONFIG.callgrindLogins,
      top: callgrindTop(dumps(), 15).map((x) => ({ fn: x.fn, perLogin: x.ir / CONFIG.callgrindLogins })),
    };
  } finally {
    await fr.stop();
  }
  log(`${server}: callgrind ${(result.instructionsPerLogin / 1000).toFixed(0)} k instructions per login`);
  return result;
}

function render(date: string, pg: string, res: ServerProfile[], experiment: boolean): string {
  const L: string[] = [];
  L.push(`# Authorize: stable figures, stock vs Lango (${date.slice(0, 10)})`, '');
  if (experiment)
    L.push(`**EXPERIMENT: "lango" is not the repository's configuration: ${JSON.stringify(EXPERIMENT)}**`, '');
  L.push(
    `Lango commit ${sourceVersion(path.dirname(resolveFreeRadiusSourceDir(__dirname)))}, ${pg}, ` +
      `${os.availableParallelism()} CPUs, load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end. ${CONFIG.logins} PAP logins per phase (1,000 users, warm-up ${CONFIG.warmup}); ` +
      `callgrind: ${CONFIG.callgrindLogins} logins, 16 in flight, after 200 uncounted. Buffers, calls and ` +
      `instructions do not depend on the load on the machine; times and CPU do (2 CPUs shared).`,
    '',
  );
  const get = (s: ServerName) => res.find((r) => r.server === s);
  L.push('## Per login', '');
  L.push('| figure | in flight | stock | lango | lango/stock |');
  L.push('|---|---:|---:|---:|---:|');
  const row = (name: string, inFlight: string, a: number | undefined, b: number | undefined, digits: number): void => {
    const ratio = a && b !== undefined ? `${(b / a).toFixed(2)}x` : '–';
    L.push(`| ${name} | ${inFlight} | ${a?.toFixed(digits) ?? '–'} | ${b?.toFixed(digits) ?? '–'} | ${ratio} |`);
  };
  const cg = (s: ServerName) => get(s)?.callgrind?.instructionsPerLogin;
  if (cg('stock') !== undefined || cg('lango') !== undefined)
    row(
      'FreeRADIUS instructions (k)',
      '16',
      (cg('stock') ?? 0) / 1000 || undefined,
      (cg('lango') ?? 0) / 1000 || undefined,
      0,
    );
  for (const c of CONFIG.pg ? CONFIG.concurrencies : []) {
    const p = (s: ServerName) => get(s)?.pg.find((x) => x.concurrency === c);
    row('PG shared buffers hit', String(c), p('stock')?.sharedHitPerLogin, p('lango')?.sharedHitPerLogin, 1);
    row(
      'PG top-level statements',
      String(c),
      p('stock')
        ?.statements.filter((s) => s.toplevel)
        .reduce((a, s) => a + s.callsPerLogin, 0),
      p('lango')
        ?.statements.filter((s) => s.toplevel)
        .reduce((a, s) => a + s.callsPerLogin, 0),
      2,
    );
    row('PG WAL bytes', String(c), p('stock')?.walBytesPerLogin, p('lango')?.walBytesPerLogin, 0);
    row('PG execution ms (pg_stat_statements)', String(c), p('stock')?.execMsPerLogin, p('lango')?.execMsPerLogin, 3);
    row('PG backend CPU ms (/proc)', String(c), p('stock')?.backendCpuMsPerLogin, p('lango')?.backendCpuMsPerLogin, 3);
  }
  L.push('');
  for (const r of res) {
    for (const p of r.pg) {
      L.push(
        `## ${r.server}, ${p.concurrency} in flight (${p.accepted}/${p.logins} accepted, ${(p.wallMs / 1000).toFixed(1)} s)`,
        '',
      );
      L.push(
        `Wait events of its active backends: ${p.waits
          .slice(0, 6)
          .map((w) => `${w.event} ${(w.share * 100).toFixed(0)}%`)
          .join(', ')}.`,
        '',
      );
      L.push('| level | statement | calls | exec ms | buffers hit | dirtied | WAL bytes |');
      L.push('|---|---|---:|---:|---:|---:|---:|');
      for (const s of p.statements.filter((x) => x.toplevel || x.execMsPerLogin >= 0.005).slice(0, 16)) {
        const q = s.query.slice(0, 100).replace(/\|/g, '\\|');
        L.push(
          `| ${s.toplevel ? 'top' : 'nested'} | \`${q}${s.query.length > 100 ? '…' : ''}\` | ${s.callsPerLogin.toFixed(2)} | ` +
            `${s.execMsPerLogin.toFixed(3)} | ${s.sharedHitPerLogin.toFixed(1)} | ${s.sharedDirtiedPerLogin.toFixed(2)} | ${s.walBytesPerLogin.toFixed(0)} |`,
        );
      }
      L.push('');
    }
  }
  for (const r of res) {
    if (!r.callgrind?.top.length) continue;
    L.push(`## ${r.server}: FreeRADIUS functions, self instructions per login (callgrind)`, '');
    L.push('| function | instructions | share |', '|---|---:|---:|');
    for (const f of r.callgrind.top)
      L.push(
        `| \`${f.fn.replace(/\|/g, '\\|')}\` | ${f.perLogin.toFixed(0)} | ` +
          `${((f.perLogin / r.callgrind.instructionsPerLogin) * 100).toFixed(1)}% |`,
      );
    L.push('');
  }
  L.push(
    'Per login: totals of the phase divided by its logins. Nested statements run inside the top-level ' +
      'ones (PL/pgSQL), so their times are part of the top-level times; shown when ≥ 5 µs per login.',
    '',
  );
  return L.join('\n');
}

async function enableStatements(admin: string, db: string): Promise<void> {
  const c = new Client({ connectionString: withDatabase(admin, db), application_name: 'lango-bench-profile' });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    // New connections (FreeRADIUS's pool starts after this) also count the statements inside functions.
    await c.query(`ALTER DATABASE ${db} SET pg_stat_statements.track = 'all'`);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const admin = adminUrl();
  const pg = await postgresInfo(admin);
  const stateDir = path.join(os.tmpdir(), `lango-bench-profile-auth-${process.pid}`);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const dbs = await createDatabases(admin);
  const [langoDb, stockDb] = dbs.names as [string, string];
  const adminClient = new Client({ connectionString: admin, application_name: 'lango-bench-profile' });
  await adminClient.connect();
  try {
    await Promise.all([seedLango(dbs.langoUrl), seedStock(dbs.stockUrl)]);
    await applyExperimentSql(dbs.langoUrl, EXPERIMENT.sql);
    if (CONFIG.pg) for (const db of dbs.names) await enableStatements(admin, db);
    const sourceDir = await overlay(stateDir);
    const res: ServerProfile[] = [];
    for (const server of ['stock', 'lango'] as const) {
      const url = server === 'stock' ? dbs.stockUrl : dbs.langoUrl;
      const db = server === 'stock' ? stockDb : langoDb;
      const p: ServerProfile = {
        server,
        pg: CONFIG.pg ? await pgPhases(server, url, db, adminClient, stateDir, sourceDir) : [],
      };
      if (CONFIG.callgrind) p.callgrind = await callgrindPhase(server, url, stateDir, sourceDir);
      res.push(p);
    }
    const experiment = Object.values(EXPERIMENT).some((v) => v !== undefined);
    const md = render(started.toISOString(), pg.version, res, experiment);
    const dir = path.join(path.dirname(resolveFreeRadiusSourceDir(__dirname)), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const stem = `radius-auth-profile-${started.toISOString().slice(0, 10)}${experiment ? '-experiment' : ''}`;
    let base = path.join(dir, stem);
    for (let n = 2; existsSync(`${base}.md`); n++) base = path.join(dir, `${stem}-${n}`);
    await writeFile(`${base}.md`, md);
    await writeFile(
      `${base}.json`,
      `${JSON.stringify({ date: started.toISOString(), config: CONFIG, loadAverage: os.loadavg(), experiment: experiment ? EXPERIMENT : undefined, results: res }, null, 2)}\n`,
    );
    process.stdout.write(`${md}\n`);
    log(`wrote ${path.relative(process.cwd(), base)}.md`);
  } finally {
    await adminClient.end().catch(() => undefined);
    if (process.env.BENCH_KEEP_DB === '1') log(`keeping databases ${dbs.names.join(', ')}`);
    else await dropDatabases(admin, dbs.names).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`profile-auth failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
