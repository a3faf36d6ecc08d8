/** Results: per-round raw numbers, means, lango/stock ratios, and the Markdown table. */
import type { CpuDelta } from './cpu';
import { BACKGROUND_CLOSED, BACKGROUND_OPEN, BACKGROUND_POSTAUTH } from './db';
import type { FloorResult, PhaseResult } from './load';
import type { RadclientResult } from './radclient';

export type ServerName = 'stock' | 'lango';

export interface ServerRun {
  server: ServerName;
  round: number;
  startupMs: number;
  /** Attribute names of the warm-up Access-Accept (what a NAS gets back). */
  replyAttributes: string[];
  warmup: PhaseResult;
  auth: PhaseResult;
  serial: PhaseResult;
  radclient: RadclientResult;
  acctStart: PhaseResult;
  acctInterim: PhaseResult;
  acctStop: PhaseResult;
  cpu: Record<string, CpuDelta>;
  /** Distinct error lines of the server's log (the last 1,000 lines), filled in when it stops. */
  logErrors: Array<{ line: string; count: number }>;
}

export interface Metric {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  goal?: { ratio: number; text: string };
  values: Record<ServerName, number[]>;
  mean: Record<ServerName, number>;
  /** lango / stock of the means. */
  ratio: number;
  /** lango / stock per round (each pair ran back to back). */
  roundRatios: number[];
  met?: boolean;
}

export interface BenchReport {
  date: string;
  config: Record<string, number>;
  machine: {
    nproc: number;
    cpu: string;
    memoryGiB: number;
    kernel: string;
    node: string;
    freeradius: string;
    /** Git commit of Lango measured (freeradius/ overlay and db/ migrations). */
    source: string;
    postgres: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  /** Set when "lango" was not the repository's configuration (see run.ts EXPERIMENT). */
  experiment?: { sourceDir?: string; overlayPatch?: string; sql?: string; stockMaxServers?: number };
  floor: FloorResult;
  runs: ServerRun[];
  summary: Metric[];
  rowCounts: Record<ServerName, { radacct: number; openSessions: number; radpostauth: number }>;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

const acctPhases = (r: ServerRun): PhaseResult[] => [r.acctStart, r.acctInterim, r.acctStop];
const phases = (r: ServerRun): PhaseResult[] => [r.warmup, r.auth, r.serial, ...acctPhases(r)];

export function summarizeRuns(runs: readonly ServerRun[]): Metric[] {
  const defs: Array<[string, string, 'higher' | 'lower', (r: ServerRun) => number | undefined, Metric['goal']?]> = [
    ['auth PAP, 200 in flight', 'req/s', 'higher', (r) => r.auth.perSecond, { ratio: 1.2, text: '>= 1.2x' }],
    ['auth PAP, 200 in flight: p50', 'ms', 'lower', (r) => r.auth.latencyMs.p50],
    ['auth PAP, 200 in flight: p99', 'ms', 'lower', (r) => r.auth.latencyMs.p99],
    ['auth PAP, one at a time', 'req/s', 'higher', (r) => r.serial.perSecond],
    ['auth one at a time: p50', 'ms', 'lower', (r) => r.serial.latencyMs.p50],
    ['auth one at a time: p90', 'ms', 'lower', (r) => r.serial.latencyMs.p90],
    ['auth one at a time: p99', 'ms', 'lower', (r) => r.serial.latencyMs.p99, { ratio: 1.0, text: '<= 1.0x' }],
    ['auth one at a time: max', 'ms', 'lower', (r) => r.serial.latencyMs.max],
    ['acct Start, 200 in flight', 'req/s', 'higher', (r) => r.acctStart.perSecond, { ratio: 1.0, text: '>= 1.0x' }],
    [
      'acct Interim-Update, 200 in flight',
      'req/s',
      'higher',
      (r) => r.acctInterim.perSecond,
      { ratio: 1.0, text: '>= 1.0x' },
    ],
    ['acct Stop, 200 in flight', 'req/s', 'higher', (r) => r.acctStop.perSecond, { ratio: 1.0, text: '>= 1.0x' }],
    [
      'acct all three (30k / total time)',
      'req/s',
      'higher',
      (r) => {
        const ps = acctPhases(r);
        return ps.reduce((a, p) => a + p.ok, 0) / (ps.reduce((a, p) => a + p.wallMs, 0) / 1000);
      },
      { ratio: 1.0, text: '>= 1.0x' },
    ],
    ['radclient auth -p 200: wall time', 's', 'lower', (r) => r.radclient.wallMs / 1000],
    ['radclient auth -p 200', 'req/s', 'higher', (r) => r.radclient.perSecond],
    ['CPU per auth: load generator (Node)', 'ms', 'lower', (r) => cpuPer(r.cpu.auth?.clientMs, r.auth.requests)],
    ['CPU per auth: FreeRADIUS', 'ms', 'lower', (r) => cpuPer(r.cpu.auth?.freeradiusMs, r.auth.requests)],
    ['CPU per auth: Postgres', 'ms', 'lower', (r) => cpuPer(r.cpu.auth?.postgresMs, r.auth.requests)],
    ['CPU per acct: FreeRADIUS', 'ms', 'lower', (r) => cpuAcct(r, 'freeradiusMs')],
    ['CPU per acct: Postgres', 'ms', 'lower', (r) => cpuAcct(r, 'postgresMs')],
  ];
  const out: Metric[] = [];
  for (const [label, unit, better, get, goal] of defs) {
    const values: Record<ServerName, number[]> = { stock: [], lango: [] };
    for (const r of runs) {
      const v = get(r);
      if (v !== undefined && Number.isFinite(v)) values[r.server].push(v);
    }
    if (values.stock.length === 0 && values.lango.length === 0) continue;
    const m = { stock: mean(values.stock), lango: mean(values.lango) };
    const ratio = m.lango / m.stock;
    const roundRatios = values.lango.map((v, i) => v / (values.stock[i] ?? NaN)).filter(Number.isFinite);
    const metric: Metric = { label, unit, better, values, mean: m, ratio, roundRatios };
    if (goal) {
      metric.goal = goal;
      metric.met = better === 'higher' ? ratio >= goal.ratio : ratio <= goal.ratio;
    }
    out.push(metric);
  }
  return out;
}

function cpuPer(ms: number | undefined, n: number): number | undefined {
  return ms === undefined ? undefined : ms / n;
}

function cpuAcct(r: ServerRun, key: Exclude<keyof CpuDelta, 'postgresByClient'>): number | undefined {
  let total = 0;
  let n = 0;
  for (const [k, p] of [
    ['acct Start', r.acctStart],
    ['acct Interim-Update', r.acctInterim],
    ['acct Stop', r.acctStop],
  ] as const) {
    const v = r.cpu[k]?.[key];
    if (v === undefined) return undefined;
    total += v;
    n += p.requests;
  }
  return total / n;
}

function maxOther(r: ServerRun, keys: string[]): number | undefined {
  const vs = keys.map((k) => r.cpu[k]?.otherPct).filter((v): v is number => v !== undefined);
  return vs.length ? Math.max(...vs) : undefined;
}

function pct(v: number | undefined): string {
  return v === undefined ? '–' : `${v.toFixed(0)}%`;
}

function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'req/s') return Math.round(v).toLocaleString('en-US');
  if (unit === 's') return v.toFixed(2);
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(v < 1 ? 3 : 2);
}

export function renderMarkdown(rep: BenchReport): string {
  const rounds = Math.max(...rep.runs.map((r) => r.round));
  const m = rep.machine;
  const L: string[] = [];
  L.push(`# RADIUS benchmark: Lango vs stock FreeRADIUS 3.2 (${rep.date.slice(0, 10)})`, '');
  L.push(
    `Same machine, one server at a time, interleaved (stock, lango) x ${rounds}; the same load generator ` +
      `(the project's RadiusClient) for both. Ratio = lango / stock of the means; for req/s higher is better, ` +
      `for ms lower is better. See bench/README.md for what each number means.`,
    '',
  );
  L.push(
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB, ${m.kernel}; Node ${m.node}; ${m.freeradius}; ${m.postgres}. ` +
      `Load average at the start: ${m.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')} (at the end it counts the benchmark's own threads). ` +
      `Started ${rep.date}. Lango: commit ${m.source}.`,
    '',
  );
  const others = rep.runs
    .flatMap((r) => Object.values(r.cpu).map((c) => c.otherPct))
    .filter((v): v is number => v !== undefined);
  const busiest = Math.max(0, ...others);
  if (busiest > 15 || m.loadAverageBefore[0]! > 1.5 * m.nproc) {
    L.push(
      `**The machine was busy: other processes used up to ${busiest.toFixed(0)}% of the CPU time during a phase ` +
        `(load average ${m.loadAverageBefore[0]?.toFixed(1)} when the run started, on ${m.nproc} CPUs). ` +
        `Both servers lose throughput to them, unevenly: treat the ratios as rough.**`,
      '',
    );
  }
  if (rep.experiment) {
    const e = rep.experiment;
    const parts = [
      e.sourceDir ? `overlay ${e.sourceDir}` : '',
      e.overlayPatch ? `overlay patch ${e.overlayPatch}` : '',
      e.sql ? `SQL ${e.sql} applied after the migrations` : '',
      e.stockMaxServers ? `stock with thread pool max_servers = ${e.stockMaxServers}` : '',
    ].filter(Boolean);
    L.push(`**EXPERIMENT: not the repository's configuration or not the lab's stock setup: ${parts.join('; ')}.**`, '');
  }
  const rcols: string[] = [];
  for (const s of ['stock', 'lango'] as const) for (let i = 1; i <= rounds; i++) rcols.push(`${s} r${i}`);
  L.push(`| metric | unit | ${rcols.join(' | ')} | stock | lango | lango/stock | goal |`);
  L.push(`|---|---|${rcols.map(() => '---:').join('|')}|---:|---:|---:|---|`);
  for (const x of rep.summary) {
    const cells = [...x.values.stock, ...x.values.lango].map((v) => fmt(v, x.unit));
    while (cells.length < rcols.length) cells.push('–');
    const goal = x.goal ? `${x.goal.text} ${x.met ? 'met' : '**not met**'}` : '';
    const perRound = x.roundRatios.length > 1 ? ` (${x.roundRatios.map((v) => v.toFixed(2)).join(', ')})` : '';
    const ratio = Number.isFinite(x.ratio) ? `${x.ratio.toFixed(2)}x${perRound}` : '–';
    L.push(
      `| ${x.label} | ${x.unit} | ${cells.join(' | ')} | ${fmt(x.mean.stock, x.unit)} | ${fmt(x.mean.lango, x.unit)} | ${ratio} | ${goal} |`,
    );
  }
  L.push('');

  L.push('## Errors', '');
  L.push('Every Access-Request must get an Access-Accept and every Accounting-Request an Accounting-Response.', '');
  L.push(
    '| server | round | requests | rejects | timeouts | other errors | retransmitted | radclient accepted / rejected / lost | other CPU load: auth / acct (max) |',
  );
  L.push('|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (const r of rep.runs) {
    const ps = phases(r);
    const sum = (k: 'requests' | 'rejects' | 'timeouts' | 'errors' | 'retransmitted'): number =>
      ps.reduce((a, p) => a + p[k], 0);
    L.push(
      `| ${r.server} | ${r.round} | ${sum('requests').toLocaleString('en-US')} | ${sum('rejects')} | ${sum('timeouts')} | ${sum('errors')} | ${sum('retransmitted')} | ` +
        `${r.radclient.accepted} / ${r.radclient.rejected} / ${r.radclient.lost} | ${pct(r.cpu.auth?.otherPct)} / ${pct(maxOther(r, ['acct Start', 'acct Interim-Update', 'acct Stop']))} |`,
    );
  }
  for (const r of rep.runs) {
    for (const p of phases(r)) {
      if (p.rejects + p.timeouts + p.errors === 0) continue;
      const first = p.samples.length
        ? `; first: ${p.samples.map((x) => x.replace(/: $/, ' (no Reply-Message)')).join('; ')}`
        : '';
      L.push(
        `- ${r.server} r${r.round} ${p.name}: ${p.rejects} rejects, ${p.timeouts} timeouts, ${p.errors} other errors of ${p.requests}${first}`,
      );
    }
    for (const n of r.radclient.notes.slice(0, 2)) L.push(`- ${r.server} r${r.round} radclient: ${n}`);
  }
  for (const r of rep.runs) {
    for (const e of r.logErrors.slice(0, 3))
      L.push(`- ${r.server} r${r.round} log (last 1,000 lines): ${e.count} x \`${e.line}\``);
  }
  L.push('');

  L.push('## Context', '');
  const f = rep.floor;
  L.push(
    `- Node loopback UDP floor (echo server in a child process, one datagram at a time, ${f.requests.toLocaleString('en-US')} RTTs): ` +
      `p50 ${f.latencyUs.p50.toFixed(1)} µs, p99 ${f.latencyUs.p99.toFixed(1)} µs, ${Math.round(f.perSecond).toLocaleString('en-US')} RTT/s.`,
  );
  const startup = (s: ServerName): string =>
    rep.runs
      .filter((r) => r.server === s)
      .map((r) => r.startupMs.toFixed(0))
      .join(', ');
  L.push(`- Start-up until "Ready to process requests" (ms): stock ${startup('stock')}; lango ${startup('lango')}.`);
  for (const s of ['stock', 'lango'] as const) {
    const r = rep.runs.find((x) => x.server === s);
    if (r) L.push(`- ${s} Access-Accept carries: ${r.replyAttributes.join(', ')}.`);
  }
  for (const s of ['stock', 'lango'] as const) {
    const c = rep.rowCounts[s];
    L.push(
      `- ${s} database after the run: ${c.radacct.toLocaleString('en-US')} radacct rows (${c.openSessions} open; seeded with ` +
        `${BACKGROUND_OPEN.toLocaleString('en-US')} open and ${BACKGROUND_CLOSED.toLocaleString('en-US')} closed sessions of other users), ` +
        `${c.radpostauth.toLocaleString('en-US')} radpostauth rows (seeded with ${BACKGROUND_POSTAUTH.toLocaleString('en-US')} logins of other users).`,
    );
  }
  const cfg = rep.config;
  L.push(
    `- Per server and round: ${cfg.warmupRequests} untimed warm-up logins, then ${cfg.authRequests} logins at ${cfg.concurrency} in flight, ` +
      `${cfg.serialRequests} one at a time, radclient with the same ${cfg.authRequests} logins, ` +
      `then ${cfg.acctRequests} each of acct Start, Interim-Update and Stop at ${cfg.concurrency} in flight. ` +
      `Before the first round and after each server: VACUUM ANALYZE of its database and CHECKPOINT.`,
  );
  L.push('');
  return L.join('\n');
}
