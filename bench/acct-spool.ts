/**
 * Decoupled accounting benchmark (`npm run bench:acct`, docs/accounting-spool.md): Lango's
 * FreeRADIUS with the accounting spool against the same overlay writing accounting straight to
 * SQL (the spool module replaced by `sql`, the reader site removed), one after the other, on the
 * same seeded database (bench/db.ts), FreeRADIUS reaching PostgreSQL through a TCP proxy.
 *
 * Per server:
 *  - lag: BENCH_ACCT_LAG_N sessions, one Interim-Update at a time; the time from its
 *    Accounting-Response until radacct shows its counters (what quota checks read);
 *  - throughput: BENCH_ACCT_REQUESTS Start, Interim-Update and Stop at 200 in flight
 *    (bench/load.ts acctPhase): Accounting-Responses per second, and the time until radacct
 *    holds every packet of the phase (the spool drained);
 *  - outage (spool only): the proxy is cut for BENCH_ACCT_OUTAGE_S seconds (default 300) while
 *    a NAS that tries 3 times in 10 s sends Start, Interim-Update, Stop for
 *    BENCH_ACCT_OUTAGE_SESSIONS sessions at BENCH_ACCT_OUTAGE_RATE packets/s; then: packets
 *    answered, the drain time after the database is back, the lag of an interim sent right
 *    after the outage, and whether every session has its Stop counters in radacct.
 * Results: bench/results/acct-spool-<date>.md and .json. Timings are never asserted anywhere.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir, startFreeRadius, type FreeRadiusHandle } from '../src/freeradius';
import { PacketCode, RadiusClient, type RadiusAttribute } from '../src/radius';
import { startTcpProxy, type TcpProxy } from '../tests/helpers/tcp-proxy';
import { adminUrl, createDatabases, dropDatabases, langoRadiusUrl, NAS_SECRET, seedLango } from './db';
import { sourceVersion } from './git';
import { acctPhase, summarize, type AcctKind, type Latency, type PhaseResult, type Target } from './load';
import { writeResultFiles } from './results';
import { positiveIntEnv } from './env';

const CONFIG = {
  lagN: positiveIntEnv('BENCH_ACCT_LAG_N', 200),
  requests: positiveIntEnv('BENCH_ACCT_REQUESTS', 10000),
  concurrency: 200,
  outageS: positiveIntEnv('BENCH_ACCT_OUTAGE_S', 300),
  outageSessions: positiveIntEnv('BENCH_ACCT_OUTAGE_SESSIONS', 2000),
  outageRate: positiveIntEnv('BENCH_ACCT_OUTAGE_RATE', 50),
};

type Mode = 'sql' | 'spool';
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Acct-Unique-Session-Id as policy lango_acct_unique computes it (no NAS-Identifier). */
const uniqueId = (user: string, sid: string): string =>
  createHash('md5').update(`127.0.0.1,,${user},${sid}`).digest('hex');

/** The same overlay, accounting written to SQL while the NAS waits (as before the spool). */
async function sqlOverlay(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lango-bench-acct-sql-'));
  await cp(resolveFreeRadiusSourceDir(), dir, { recursive: true, verbatimSymlinks: true });
  const site = path.join(dir, 'sites-available', 'lango');
  const text = await readFile(site, 'utf8');
  const patched = text.replace(/\n(\t+)lango_acct_spool\n/, '\n$1sql\n$1if (noop) {\n$1\tok\n$1}\n');
  if (patched === text) throw new Error('sites-available/lango has no lango_acct_spool line to replace');
  await writeFile(site, patched);
  await rm(path.join(dir, 'sites-enabled', 'lango-acct-replay'));
  return dir;
}

interface Ctx {
  fr: FreeRadiusHandle;
  db: Client;
  target: Target;
}

async function counters(db: Client, id: string): Promise<{ input: number; stopped: boolean } | undefined> {
  const r = await db.query<{ i: string; s: Date | null }>(
    'SELECT acctinputoctets AS i, acctstoptime AS s FROM radacct WHERE acctuniqueid = $1',
    [id],
  );
  const row = r.rows[0];
  return row ? { input: Number(row.i), stopped: row.s !== null } : undefined;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms`);
    await sleep(2);
  }
  return performance.now() - t0;
}

function attrs(user: string, sid: string, status: string, input = 0): RadiusAttribute[] {
  return [
    { name: 'User-Name', value: user },
    { name: 'Acct-Session-Id', value: sid },
    { name: 'Acct-Status-Type', value: status },
    { name: 'NAS-IP-Address', value: '127.0.0.1' },
    { name: 'Acct-Session-Time', value: input ? 60 : 0 },
    { name: 'Acct-Input-Octets', value: input },
    { name: 'Acct-Output-Octets', value: input * 4 },
  ];
}

/** Interim-Update answered -> its counters visible in radacct, one session at a time. */
async function lagPhase(c: Ctx, a: RadiusClient, tag: string, n: number): Promise<Latency> {
  const lags: number[] = [];
  for (let i = 0; i < n; i++) {
    const user = `lag${i % 1000}`;
    const sid = `${tag}-${i}`;
    await a.accounting(attrs(user, sid, 'Start'));
    const input = 1000 + i;
    await a.accounting(attrs(user, sid, 'Interim-Update', input));
    const id = uniqueId(user, sid);
    lags.push(await waitUntil(async () => (await counters(c.db, id))?.input === input, 60000));
  }
  return summarize(lags);
}

/** acctPhase, then the time until radacct holds all of it (the spool is empty). */
async function throughputPhase(c: Ctx, kind: AcctKind, tag: string) {
  const t0 = performance.now();
  const phase: PhaseResult = await acctPhase(c.target, kind, tag, CONFIG.requests, CONFIG.concurrency);
  await waitUntil(async () => (await c.fr.accountingBacklog()).files === 0, 600000);
  const inRadacctMs = performance.now() - t0;
  return {
    kind,
    acked: phase.ok,
    timeouts: phase.timeouts,
    errors: phase.errors,
    ackPerSecond: round(phase.perSecond, 0),
    ackP99Ms: round(phase.latencyMs.p99, 2),
    inRadacctMs: round(inRadacctMs, 0),
    inRadacctPerSecond: round(CONFIG.requests / (inRadacctMs / 1000), 0),
  };
}

async function outagePhase(c: Ctx, proxy: TcpProxy) {
  const nas = new RadiusClient({
    host: '127.0.0.1',
    port: c.target.acctPort,
    secret: NAS_SECRET,
    retransmit: [3000, 3000, 4000],
  });
  const sessions = CONFIG.outageSessions;
  // Start, Interim, Stop for every session, spread evenly over the outage.
  const packets: Array<{ user: string; sid: string; status: string; input: number }> = [];
  for (const status of ['Start', 'Interim-Update', 'Stop']) {
    for (let i = 0; i < sessions; i++) {
      packets.push({
        user: `out${i % 1000}`,
        sid: `outage-${i}`,
        status,
        input: status === 'Start' ? 0 : status === 'Stop' ? 9000 + i : 5000 + i,
      });
    }
  }
  const gapMs = 1000 / CONFIG.outageRate;
  const result = { answered: 0, timeouts: 0, retransmitted: 0 };
  proxy.cut();
  const cutAt = performance.now();
  const inflight: Promise<void>[] = [];
  for (let k = 0; k < packets.length; k++) {
    const p = packets[k]!;
    const due = cutAt + Math.min(k * gapMs, CONFIG.outageS * 1000 - 11000);
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(
      nas.accounting(attrs(p.user, p.sid, p.status, p.input)).then(
        (r) => {
          if (r.packet.code === PacketCode.AccountingResponse) result.answered++;
          if (r.attempts > 1) result.retransmitted++;
        },
        () => {
          result.timeouts++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const backlogAtEnd = await c.fr.accountingBacklog();
  await sleep(Math.max(0, cutAt + CONFIG.outageS * 1000 - performance.now()));
  const outageMs = performance.now() - cutAt;
  proxy.restore();
  const back = performance.now();
  // An interim sent right after the database came back waits behind the backlog.
  const a = new RadiusClient({
    host: '127.0.0.1',
    port: c.target.acctPort,
    secret: NAS_SECRET,
    retransmit: [3000, 3000, 4000],
  });
  await a.accounting(attrs('after', 'after-outage', 'Interim-Update', 4242));
  const lagAfterMs = await waitUntil(
    async () => (await counters(c.db, uniqueId('after', 'after-outage')))?.input === 4242,
    900000,
  );
  await waitUntil(async () => (await c.fr.accountingBacklog()).files === 0, 900000);
  const drainMs = performance.now() - back;
  let complete = 0;
  for (let i = 0; i < sessions; i++) {
    const row = await counters(c.db, uniqueId(`out${i % 1000}`, `outage-${i}`));
    if (row?.stopped && row.input === 9000 + i) complete++;
  }
  await a.close();
  await nas.close();
  return {
    outageS: round(outageMs / 1000, 1),
    packets: packets.length,
    ...result,
    backlogBytesAtEnd: backlogAtEnd.bytes,
    drainAfterOutageMs: round(drainMs, 0),
    lagOfInterimAfterOutageMs: round(lagAfterMs, 0),
    sessions,
    sessionsCompleteInRadacct: complete,
  };
}

async function runServer(mode: Mode, radiusUrl: string, proxy: TcpProxy, db: Client) {
  const sourceDir = mode === 'sql' ? await sqlOverlay() : undefined;
  const spool = await mkdtemp(path.join(os.tmpdir(), 'lango-bench-acct-spool-'));
  const fr = await startFreeRadius({
    databaseUrl: radiusUrl,
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: 3600,
    stateDir: path.join(os.tmpdir(), 'lango-bench-acct'),
    accountingSpoolDir: spool,
    ...(sourceDir ? { sourceDir } : {}),
  });
  const target: Target = { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: NAS_SECRET };
  const c: Ctx = { fr, db, target };
  const a = new RadiusClient({
    host: '127.0.0.1',
    port: fr.acctPort,
    secret: NAS_SECRET,
    timeoutMs: 1000,
    retries: 10,
  });
  try {
    await a.accounting(attrs('warm', `warm-${mode}`, 'Start'));
    const lag = await lagPhase(c, a, `lag-${mode}`, CONFIG.lagN);
    const throughput = [];
    for (const kind of ['Start', 'Interim-Update', 'Stop'] as const)
      throughput.push(await throughputPhase(c, kind, `tp${mode}`));
    const outage = mode === 'spool' ? await outagePhase(c, proxy) : undefined;
    return { mode, lagMs: lag, throughput, outage };
  } finally {
    await a.close();
    await fr.stop();
    await rm(spool, { recursive: true, force: true });
    if (sourceDir) await rm(sourceDir, { recursive: true, force: true });
  }
}

function markdown(r: {
  date: string;
  source: string;
  load: number[];
  config: typeof CONFIG;
  runs: Awaited<ReturnType<typeof runServer>>[];
}): string {
  const lines = [
    `# Decoupled accounting: spool vs straight to SQL (${r.date})`,
    '',
    `Source ${r.source}; ${os.cpus().length} CPUs shared with other work, load average ${r.load.join(' ')} at the start. `,
    `\`npm run bench:acct\`, one run per server. See docs/accounting-spool.md and bench/README.md.`,
    '',
    '## Lag before radacct shows an interim (one at a time, ms)',
    '',
    '| server | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    ...r.runs.map(
      (x) =>
        `| ${x.mode} | ${round(x.lagMs.p50)} | ${round(x.lagMs.p90)} | ${round(x.lagMs.p99)} | ${round(x.lagMs.max)} |`,
    ),
    '',
    `## Throughput, ${r.config.requests} of each at ${r.config.concurrency} in flight`,
    '',
    '| server | packet | answered/s | answer p99 ms | all in radacct after ms | into radacct/s | timeouts |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...r.runs.flatMap((x) =>
      x.throughput.map(
        (t) =>
          `| ${x.mode} | ${t.kind} | ${t.ackPerSecond} | ${t.ackP99Ms} | ${t.inRadacctMs} | ${t.inRadacctPerSecond} | ${t.timeouts} |`,
      ),
    ),
    '',
  ];
  const o = r.runs.find((x) => x.outage)?.outage;
  if (o) {
    lines.push(
      `## Outage: database unreachable for ${o.outageS} s, NAS tries 3 times in 10 s`,
      '',
      `- ${o.packets} packets (Start, Interim-Update, Stop of ${o.sessions} sessions) sent during the outage: ${o.answered} answered, ${o.timeouts} timed out, ${o.retransmitted} needed a retransmission.`,
      `- Spool at the end of the outage: ${o.backlogBytesAtEnd} bytes.`,
      `- After the database came back: every spooled packet in radacct after ${o.drainAfterOutageMs} ms; an interim sent right then was visible after ${o.lagOfInterimAfterOutageMs} ms.`,
      `- Sessions closed in radacct with their Stop counters: ${o.sessionsCompleteInRadacct} of ${o.sessions}.`,
      '',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  const load = os.loadavg().map((l) => round(l, 2));
  const db = new Client({ connectionString: dbs.langoUrl });
  let proxy: TcpProxy | undefined;
  try {
    await seedLango(dbs.langoUrl);
    await db.connect();
    const u = new URL(langoRadiusUrl(dbs.langoUrl));
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const runs = [];
    for (const mode of ['sql', 'spool'] as const) runs.push(await runServer(mode, u.toString(), proxy, db));
    const date = new Date().toISOString().slice(0, 10);
    const report = {
      date,
      source: sourceVersion(path.join(resolveFreeRadiusSourceDir(), '..')),
      load,
      loadAtEnd: os.loadavg().map((l) => round(l, 2)),
      config: CONFIG,
      runs,
    };
    const md = markdown(report);
    const files = await writeResultFiles(
      path.join(resolveFreeRadiusSourceDir(), '..', 'bench', 'results'),
      'acct-spool',
      date,
      report,
      md,
    );
    process.stdout.write(`${md}\n${files.md}\n`);
  } finally {
    await db.end().catch(() => undefined);
    await proxy?.close();
    if (!process.env.BENCH_KEEP_DB) await dropDatabases(admin, dbs.names);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
