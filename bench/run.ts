/**
 * `npm run bench`: Lango's FreeRADIUS configuration against stock FreeRADIUS 3.2 (stock schema
 * and queries), side by side, one server at a time, interleaved: stock, lango, stock, lango.
 * Results go to bench/results/radius-<date>.md and .json. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir, startFreeRadius } from '../src/freeradius';
import { CpuMeter, type CpuDelta } from './cpu';
import {
  adminUrl,
  createDatabases,
  langoRadiusUrl,
  dropDatabases,
  NAS_SECRET,
  postgresInfo,
  rowCounts,
  seedLango,
  seedStock,
} from './db';
import {
  acctPhase,
  authPhase,
  udpFloor,
  waitUntilAnswering,
  type AcctKind,
  type PhaseResult,
  type Target,
} from './load';
import { runRadclient, writeAuthFile, type RadclientResult } from './radclient';
import { renderMarkdown, summarizeRuns, type BenchReport, type ServerName, type ServerRun } from './report';
import { sourceVersion } from './git';
import { startStockFreeRadius } from './stock-raddb';
import { positiveIntEnv } from './env';

export const CONFIG = {
  rounds: positiveIntEnv('BENCH_ROUNDS', 2),
  concurrency: positiveIntEnv('BENCH_CONCURRENCY', 200),
  authRequests: positiveIntEnv('BENCH_AUTH_REQUESTS', 10000),
  serialRequests: positiveIntEnv('BENCH_SERIAL_REQUESTS', 2000),
  acctRequests: positiveIntEnv('BENCH_ACCT_REQUESTS', 10000),
  warmupRequests: positiveIntEnv('BENCH_WARMUP_REQUESTS', 1000),
  floorRequests: positiveIntEnv('BENCH_FLOOR_REQUESTS', 10000),
  /** Lango's dynamic-client cache: longer than a run, so the client never expires mid-phase. */
  clientLifetime: 3600,
  recvBuff: 4194304,
};

/**
 * Experiments (to measure a proposed change without editing freeradius/ or db/):
 *   BENCH_LANGO_SOURCE_DIR     another overlay directory instead of the repository's freeradius/
 *   BENCH_LANGO_OVERLAY_PATCH  a diff (paths a/..., b/... relative to freeradius/) applied to a copy
 *   BENCH_LANGO_SQL            SQL file(s), comma-separated, run on Lango's database after seeding
 *   BENCH_STOCK_MAX_SERVERS    stock's thread pool max_servers (the lab's setup keeps Debian's 32)
 * The report says when any of them was used.
 */
export const EXPERIMENT = {
  sourceDir: process.env.BENCH_LANGO_SOURCE_DIR ? path.resolve(process.env.BENCH_LANGO_SOURCE_DIR) : undefined,
  overlayPatch: process.env.BENCH_LANGO_OVERLAY_PATCH ? path.resolve(process.env.BENCH_LANGO_OVERLAY_PATCH) : undefined,
  sql: process.env.BENCH_LANGO_SQL
    ? process.env.BENCH_LANGO_SQL.split(',')
        .map((f) => path.resolve(f))
        .join(',')
    : undefined,
  /** Stock's thread pool max_servers instead of the lab's (Debian's) 32. */
  stockMaxServers: process.env.BENCH_STOCK_MAX_SERVERS ? Number(process.env.BENCH_STOCK_MAX_SERVERS) : undefined,
};

/** The overlay to run as "lango" (undefined: the repository's, as the runner finds it). */
async function langoOverlay(stateDir: string): Promise<string | undefined> {
  if (!EXPERIMENT.overlayPatch) return EXPERIMENT.sourceDir;
  const dir = path.join(stateDir, 'lango-overlay');
  await cp(EXPERIMENT.sourceDir ?? resolveFreeRadiusSourceDir(__dirname), dir, {
    recursive: true,
    verbatimSymlinks: true,
  });
  execFileSync('patch', ['-p1', '--forward', '--batch', '-d', dir, '-i', EXPERIMENT.overlayPatch], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return dir;
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function version(cmd: string, args: string[]): string {
  try {
    return (
      execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
        .toString()
        .split('\n')[0]
        ?.trim() ?? ''
    );
  } catch (err) {
    throw new Error(`${cmd} is not installed (apt-get install -y freeradius freeradius-postgresql freeradius-utils)`, {
      cause: err,
    });
  }
}

interface Running {
  pid: number;
  authPort: number;
  acctPort: number;
  output(): string[];
  stop(): Promise<void>;
}

/** Distinct "Error:" lines of the server's log (timestamp removed), with counts. */
function logErrors(lines: readonly string[]): Array<{ line: string; count: number }> {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const m = /\b(Error|ERROR):\s*(.*)$/.exec(l);
    if (m) counts.set(m[2] as string, (counts.get(m[2] as string) ?? 0) + 1);
  }
  return [...counts]
    .map(([line, count]) => ({ line, count }))
    .sort((a, b) => b.count - a.count)
    .slice(0, 10);
}

async function start(
  server: ServerName,
  urls: { lango: string; stock: string },
  stateDir: string,
  overlay: string | undefined,
): Promise<Running> {
  if (server === 'stock') {
    return startStockFreeRadius({
      databaseUrl: urls.stock,
      secret: NAS_SECRET,
      stateDir,
      recvBuff: CONFIG.recvBuff,
      ...(EXPERIMENT.stockMaxServers ? { threadMaxServers: EXPERIMENT.stockMaxServers } : {}),
    });
  }
  return startFreeRadius({
    databaseUrl: langoRadiusUrl(urls.lango),
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: CONFIG.clientLifetime,
    stateDir,
    ...(overlay ? { sourceDir: overlay } : {}),
  });
}

async function measure(
  server: ServerName,
  round: number,
  urls: { lango: string; stock: string },
  dbNames: { lango: string; stock: string },
  admin: Client,
  stateDir: string,
  authFile: string,
  overlay: string | undefined,
): Promise<ServerRun> {
  const t0 = performance.now();
  const fr = await start(server, urls, stateDir, overlay);
  const startupMs = performance.now() - t0;
  const meter = new CpuMeter(admin, dbNames[server], urls[server]);
  const cpu: Record<string, CpuDelta> = {};
  const errors: Array<{ line: string; count: number }> = [];
  const phase = async <T extends { name?: string }>(key: string, fn: () => Promise<T>): Promise<T> => {
    const before = await meter.sample(fr.pid);
    const r = await fn();
    cpu[key] = await meter.delta(before, fr.pid);
    return r;
  };
  try {
    const t: Target = { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: NAS_SECRET };
    const replyAttributes = await waitUntilAnswering(t);
    log(
      `${server} round ${round}: pid ${fr.pid}, auth ${fr.authPort}, acct ${fr.acctPort}, ready in ${startupMs.toFixed(0)} ms; warming up`,
    );
    const warmup = await authPhase(t, 'warm-up', CONFIG.warmupRequests, CONFIG.concurrency, 500);

    const auth = await phase('auth', () => authPhase(t, 'auth PAP', CONFIG.authRequests, CONFIG.concurrency));
    log(
      `${server} round ${round}: auth ${auth.perSecond.toFixed(0)}/s (${auth.rejects} rejects, ${auth.timeouts} timeouts)`,
    );
    const serial = await phase('serial', () => authPhase(t, 'auth PAP serial', CONFIG.serialRequests, 1, 7));
    log(
      `${server} round ${round}: serial p50 ${serial.latencyMs.p50.toFixed(3)} ms, p99 ${serial.latencyMs.p99.toFixed(3)} ms`,
    );
    const radclient: RadclientResult = await runRadclient(
      authFile,
      CONFIG.authRequests,
      t.host,
      t.authPort,
      t.secret,
      CONFIG.concurrency,
    );
    log(
      `${server} round ${round}: radclient ${(radclient.wallMs / 1000).toFixed(2)} s (${radclient.accepted} accepted, ${radclient.rejected} rejected, ${radclient.lost} lost)`,
    );

    const acct: Partial<Record<AcctKind, PhaseResult>> = {};
    const tag = `${server === 'stock' ? 's' : 'l'}${round}-`;
    for (const kind of ['Start', 'Interim-Update', 'Stop'] as const) {
      acct[kind] = await phase(`acct ${kind}`, () => acctPhase(t, kind, tag, CONFIG.acctRequests, CONFIG.concurrency));
      log(
        `${server} round ${round}: acct ${kind} ${acct[kind]?.perSecond.toFixed(0)}/s (${acct[kind]?.timeouts} timeouts)`,
      );
    }
    return {
      server,
      round,
      startupMs,
      replyAttributes,
      warmup,
      auth,
      serial,
      radclient,
      acctStart: acct.Start as PhaseResult,
      acctInterim: acct['Interim-Update'] as PhaseResult,
      acctStop: acct.Stop as PhaseResult,
      cpu,
      logErrors: errors,
    };
  } finally {
    errors.push(...logErrors(fr.output()));
    const s0 = performance.now();
    await fr.stop();
    log(`${server} round ${round}: stopped in ${(performance.now() - s0).toFixed(0)} ms`);
  }
}

function repoRoot(): string {
  return path.dirname(resolveFreeRadiusSourceDir(__dirname));
}

/** radius-<date>.md, then radius-<date>-2.md... (experiments: radius-<date>-experiment...). */
async function resultPaths(dir: string, date: string, experiment: boolean): Promise<{ md: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const stem = `radius-${date}${experiment ? '-experiment' : ''}`;
  for (let n = 1; ; n++) {
    const base = path.join(dir, n === 1 ? stem : `${stem}-${n}`);
    if (!existsSync(`${base}.md`) && !existsSync(`${base}.json`)) return { md: `${base}.md`, json: `${base}.json` };
  }
}

async function main(): Promise<void> {
  const started = new Date();
  if (Object.values(EXPERIMENT).some(Boolean))
    log(`EXPERIMENT: "lango" is not the repository's configuration: ${JSON.stringify(EXPERIMENT)}`);
  const admin = adminUrl();
  const freeradiusVersion = version('freeradius', ['-v']).replace(/^radiusd: /, '');
  version('radclient', ['-v']);
  const pg = await postgresInfo(admin);
  log(`Postgres: ${pg.version}; ${pg.activeConnections}/${pg.maxConnections} connections in use`);
  if (pg.maxConnections - pg.activeConnections < 40) {
    log(
      `WARNING: only ${pg.maxConnections - pg.activeConnections} Postgres connections free; a FreeRADIUS pool may grow to 32`,
    );
  }

  const stateDir = path.join(os.tmpdir(), `lango-bench-${process.pid}`);
  const dbs = await createDatabases(admin);
  const [langoDb, stockDb] = dbs.names as [string, string];
  const adminClient = new Client({ connectionString: admin, application_name: 'lango-bench' });
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await adminClient.end().catch(() => undefined);
    if (process.env.BENCH_KEEP_DB === '1') log(`keeping databases ${dbs.names.join(', ')}`);
    else await dropDatabases(admin, dbs.names).catch((e: unknown) => log(`could not drop databases: ${String(e)}`));
    await rm(stateDir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: cleaning up`);
    // Servers started by runner/stock-raddb are SIGKILLed by their own exit hooks.
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    await adminClient.connect();
    log(`databases ${langoDb} (Lango migrations) and ${stockDb} (stock schema.sql)`);
    const t0 = performance.now();
    await Promise.all([seedLango(dbs.langoUrl), seedStock(dbs.stockUrl)]);
    log(`seeded in ${(performance.now() - t0).toFixed(0)} ms`);

    if (EXPERIMENT.sql) {
      const c = new Client({ connectionString: dbs.langoUrl });
      await c.connect();
      try {
        for (const f of EXPERIMENT.sql.split(',')) await c.query(await readFile(f, 'utf8'));
        await c.query('ANALYZE');
      } finally {
        await c.end();
      }
      log(`applied ${EXPERIMENT.sql} to ${langoDb}`);
    }
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const overlay = await langoOverlay(stateDir);
    const authFile = path.join(stateDir, 'auth-requests.txt');
    await writeAuthFile(authFile, CONFIG.authRequests);

    log('Node loopback UDP floor');
    const floor = await udpFloor(CONFIG.floorRequests);
    const loadBefore = os.loadavg();

    const urls = { lango: dbs.langoUrl, stock: dbs.stockUrl };
    const names = { lango: langoDb, stock: stockDb };
    // Same starting state for every round of a server: no dead tuples, hint bits and the
    // visibility map set, statistics taken, no dirty pages. Before round 1 too, so that round 1
    // is not the one that reads freshly seeded tables first and meets autovacuum mid-round
    // (the rest of Lango's cold round 1 was an empty radpostauth: seedBackgroundSessions).
    const settle = async (server: 'stock' | 'lango'): Promise<void> => {
      const c = new Client({ connectionString: urls[server] });
      await c.connect();
      try {
        await c.query('VACUUM ANALYZE');
      } finally {
        await c.end();
      }
      await adminClient.query('CHECKPOINT');
    };
    await settle('stock');
    await settle('lango');
    const runs: ServerRun[] = [];
    for (let round = 1; round <= CONFIG.rounds; round++) {
      for (const server of ['stock', 'lango'] as const) {
        runs.push(await measure(server, round, urls, names, adminClient, stateDir, authFile, overlay));
        await settle(server);
      }
    }
    const counts = { stock: await rowCounts(dbs.stockUrl), lango: await rowCounts(dbs.langoUrl) };

    const report: BenchReport = {
      date: started.toISOString(),
      config: CONFIG,
      machine: {
        nproc: os.availableParallelism(),
        cpu: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
        kernel: `${os.type()} ${os.release()}`,
        node: process.version,
        freeradius: freeradiusVersion,
        source: sourceVersion(repoRoot()),
        postgres: pg.version,
        loadAverageBefore: loadBefore,
        loadAverageAfter: os.loadavg(),
      },
      experiment: Object.values(EXPERIMENT).some(Boolean)
        ? {
            sourceDir: EXPERIMENT.sourceDir,
            overlayPatch: EXPERIMENT.overlayPatch,
            sql: EXPERIMENT.sql,
            stockMaxServers: EXPERIMENT.stockMaxServers,
          }
        : undefined,
      floor,
      runs,
      summary: summarizeRuns(runs),
      rowCounts: counts,
    };
    const md = renderMarkdown(report);
    const out = await resultPaths(
      path.join(repoRoot(), 'bench', 'results'),
      started.toISOString().slice(0, 10),
      report.experiment !== undefined,
    );
    await writeFile(out.json, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(out.md, md);
    process.stdout.write(`${md}\n`);
    log(`wrote ${path.relative(process.cwd(), out.md)} and ${path.relative(process.cwd(), out.json)}`);
  } finally {
    await cleanup();
  }
}

/** `npm run bench`: the RADIUS comparison, then the enforcement benchmark (BENCH_SKIP_ENFORCEMENT=1 skips it). */
async function all(): Promise<void> {
  await main();
  if (process.env.BENCH_SKIP_ENFORCEMENT === '1') return;
  const { runEnforcementBench, renderEnforcementMarkdown } = await import('./enforcement');
  const e = await runEnforcementBench();
  process.stdout.write(`${renderEnforcementMarkdown(e.report)}\n`);
  if (e.files)
    log(`wrote ${path.relative(process.cwd(), e.files.md)} and ${path.relative(process.cwd(), e.files.json)}`);
}

all().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
