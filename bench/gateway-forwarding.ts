/**
 * `npm run bench:gateway`: forwarding throughput through the gateway namespace with the nftables
 * driver and 200 clients logged in, against the same path with no gateway rules, in one run
 * (tests/helpers/netns.ts: client namespaces -> gateway -> upstream, veth). Also: how long 200
 * logins and one counter read of all 200 take, and how close HTB shaping is to the limit.
 * Needs root. Results: bench/results/gateway-forwarding-<date>.md and .json. See bench/README.md.
 *
 * Order: no gateway at all; then rounds in which every transfer is made under each mode in turn
 * (the driver's table dormant, the gateway without and with an HTB class on the measured clients),
 * so the load of a shared machine falls on all modes alike; no gateway again at the end.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { defaultBurst, NFT_TABLE, NftablesFirewallDriver } from '../src/gateway/firewall/nftables';
import { createCommandRunner } from '../src/gateway/firewall/runner';
import { resolveFreeRadiusSourceDir } from '../src/freeradius';
import { createLab, PROGRAMS, requireNetns, type NetnsLab } from '../tests/helpers/netns';
import { sourceVersion } from './git';
import { writeResultFiles } from './results';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  const n = v ? Number(v) : dflt;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};

const CONFIG = {
  clients: Math.round(num('BENCH_GW_CLIENTS', 200)),
  seconds: num('BENCH_GW_SECONDS', 1),
  rounds: Math.round(num('BENCH_GW_ROUNDS', 3)),
  /** The HTB class of the measured clients: far above what a veth path carries, so it classifies but does not limit. */
  classRateBps: 40_000_000_000,
  shapingRatesBps: [2_000_000, 20_000_000, 200_000_000],
  /** Transfer sizes for the rate-limit rows, in seconds at the limit: a short one (a web page) and a steady one. */
  shapingSeconds: [1, 3],
};
const PORT = 9000;
const PORTAL_PORT = 8081;

type Mode = 'no gateway (clean)' | 'gateway table dormant' | 'gateway, no class' | 'gateway, HTB class';
type Kind = 'upload' | 'download' | 'upload2';
const KINDS: Kind[] = ['upload', 'download', 'upload2'];

interface Transfer {
  mode: Mode;
  kind: Kind;
  round: number;
  bps: number;
}

interface Report {
  date: string;
  source: string;
  host: { kernel: string; cpus: number; loadavg: number[]; nft: string };
  config: typeof CONFIG;
  transfers: Transfer[];
  allow200Ms: number;
  listAllowedMs: { p50: number; max: number; clients: number };
  limiting: Array<{ mechanism: 'htb' | 'nft limit'; limitBps: number; seconds: number; measuredBps: number }>;
}

async function nftIn(lab: NetnsLab, script: string): Promise<void> {
  const r = await lab.exec(lab.gateway.ns, ['nft', '-f', '-'], { input: script });
  if (r.code !== 0) throw new Error(`nft failed in the gateway namespace: ${r.stderr}`);
}

const log = (msg: string): void => {
  process.stderr.write(`[bench:gateway ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

interface TransferAnswer {
  server?: { bytes: number; ms: number };
  bytes?: number;
  ms?: number;
  error?: string;
}

const bps = (bytes: number, ms: number): number => (bytes * 8) / (ms / 1000);

/** One transfer of a kind from the lab's clients; bits per second at the receiver (summed for two clients). */
async function transfer(lab: NetnsLab, kind: Kind): Promise<number> {
  const [a, b] = lab.clients as [NetnsLab['clients'][0], NetnsLab['clients'][0]];
  const one = async (ns: string, action: 'put-for' | 'get-for'): Promise<number> => {
    const r = await lab.client<TransferAnswer>(
      ns,
      [action, lab.upstream.ip, PORT, String(CONFIG.seconds)],
      (CONFIG.seconds + 30) * 1000,
    );
    if (r.error) throw new Error(`${action} from ${ns} failed: ${r.error}`);
    return action === 'put-for' ? bps(r.server!.bytes, r.server!.ms) : bps(r.bytes!, r.ms!);
  };
  if (kind === 'upload') return one(a.ns, 'put-for');
  if (kind === 'download') return one(a.ns, 'get-for');
  return (await Promise.all([one(a.ns, 'put-for'), one(b.ns, 'put-for')])).reduce((x, y) => x + y, 0);
}

const gbit = (v: number): string => (v / 1e9).toFixed(2);
const mbit = (v: number): string => (v / 1e6).toFixed(2);

function fakeClient(i: number): { ip: string; mac: string } {
  // 10.88.1.0 - 10.88.1.255 and on: inside the lab's /16, never used by a namespace.
  const n = 256 + i;
  return {
    ip: `10.88.${Math.floor(n / 256)}.${n % 256}`,
    mac: `02:00:00:00:${Math.floor(n / 256)
      .toString(16)
      .padStart(2, '0')}:${(n % 256).toString(16).padStart(2, '0')}`,
  };
}

export async function runGatewayBench(): Promise<Report> {
  await requireNetns();
  const started = new Date();
  const lab = await createLab({ clients: 2 });
  const driver = new NftablesFirewallDriver({
    lanInterface: lab.gateway.lan,
    wanInterface: lab.gateway.wan,
    portalPort: PORTAL_PORT,
    runner: createCommandRunner({ netns: lab.gateway.ns }),
  });
  const server = await lab.serve(lab.upstream.ns, PROGRAMS.trafficServer, [PORT]);
  try {
    const real = lab.clients.map((c) => ({ ip: c.ip, mac: c.mac }));
    const limits = { uploadBps: CONFIG.classRateBps, downloadBps: CONFIG.classRateBps };

    const transfers: Transfer[] = [];
    const clean = async (round: number): Promise<void> => {
      await lab.routeBack(true);
      for (const kind of KINDS)
        transfers.push({ mode: 'no gateway (clean)', kind, round, bps: await transfer(lab, kind) });
      await lab.routeBack(false);
    };
    await clean(1);

    log(`setup and ${CONFIG.clients} logins`);
    await driver.setup();
    const t0 = performance.now();
    for (const c of real) await driver.allow(c, limits);
    for (let i = 0; i < CONFIG.clients - real.length; i++)
      await driver.allow(fakeClient(i), { uploadBps: 10_000_000, downloadBps: 20_000_000 });
    const allow200Ms = performance.now() - t0;

    const reads: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const list = await driver.listAllowed();
      reads.push(performance.now() - t);
      if (list.length !== CONFIG.clients)
        throw new Error(`listAllowed() returned ${list.length} clients, not ${CONFIG.clients}`);
    }
    reads.sort((x, y) => x - y);

    // Modes: the table dormant (no rule runs; no NAT, so a route back; the 200 clients kept),
    // then the gateway with the measured clients unlimited (HTB passes them directly) or in a class.
    let current: Mode | undefined;
    const enter = async (mode: Mode): Promise<void> => {
      if (mode === current) return;
      if (mode === 'gateway table dormant') {
        await nftIn(lab, `add table inet ${NFT_TABLE} { flags dormant; }\n`);
        await lab.routeBack(true);
      } else {
        if (current === 'gateway table dormant' || current === undefined) {
          await lab.routeBack(false);
          await nftIn(lab, `add table inet ${NFT_TABLE}\n`);
        }
        for (const c of real)
          await driver.updateLimits(c, mode === 'gateway, HTB class' ? limits : { uploadBps: 0, downloadBps: 0 });
      }
      current = mode;
    };
    const modes: Mode[] = ['gateway table dormant', 'gateway, no class', 'gateway, HTB class'];
    for (let round = 1; round <= CONFIG.rounds; round++) {
      for (const kind of KINDS) {
        for (const mode of round % 2 ? modes : [...modes].reverse()) {
          await enter(mode);
          transfers.push({ mode, kind, round, bps: await transfer(lab, kind) });
        }
      }
      log(
        `round ${round}: ${transfers
          .filter((t) => t.round === round && t.mode !== 'no gateway (clean)')
          .map((t) => `${t.mode} ${t.kind} ${gbit(t.bps)}`)
          .join(', ')}`,
      );
    }
    await enter('gateway, no class');

    // Rate limits: the driver's HTB class, then the alternative it does not use, policing with an
    // nftables limit per client (in a table of the benchmark's own: a drop in any table's forward
    // chain drops; burst as the driver's HTB default), each with a short and a steady transfer.
    const limiting: Report['limiting'] = [];
    const limited = async (mechanism: 'htb' | 'nft limit', limitBps: number): Promise<void> => {
      for (const seconds of CONFIG.shapingSeconds) {
        const r = await lab.client<TransferAnswer>(
          lab.clients[0]!.ns,
          ['put', lab.upstream.ip, PORT, Math.round((limitBps / 8) * seconds)],
          120_000,
        );
        limiting.push({ mechanism, limitBps, seconds, measuredBps: bps(r.server!.bytes, r.server!.ms) });
        log(
          `${mechanism} at ${mbit(limitBps)} Mbit/s, ${seconds} s: ${mbit(limiting[limiting.length - 1]!.measuredBps)}`,
        );
      }
    };
    for (const limitBps of CONFIG.shapingRatesBps) {
      await driver.updateLimits(real[0]!, { uploadBps: limitBps, downloadBps: 0 });
      await limited('htb', limitBps);
    }
    await driver.updateLimits(real[0]!, { uploadBps: 0, downloadBps: 0 });
    const police = 'add table inet lango_bench_police\ndelete table inet lango_bench_police\n';
    for (const limitBps of CONFIG.shapingRatesBps) {
      const bytesPerSecond = Math.round(limitBps / 8);
      await nftIn(
        lab,
        `${police}table inet lango_bench_police {
  limit client { rate over ${bytesPerSecond} bytes/second burst ${defaultBurst(limitBps)} bytes; }
  chain forward { type filter hook forward priority -10; policy accept; ip saddr ${real[0]!.ip} limit name "client" drop; }
}
`,
      );
      await limited('nft limit', limitBps);
    }
    await nftIn(lab, police);

    await driver.teardown();
    await lab.routeBack(true);
    await clean(2);

    let nftVersion = '';
    try {
      nftVersion = execFileSync('nft', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      nftVersion = 'unknown';
    }
    return {
      date: started.toISOString(),
      source: sourceVersion(repoRoot()),
      host: {
        kernel: os.release(),
        cpus: os.cpus().length,
        loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
        nft: nftVersion,
      },
      config: CONFIG,
      transfers,
      allow200Ms,
      listAllowedMs: {
        p50: reads[Math.floor(reads.length / 2)]!,
        max: reads[reads.length - 1]!,
        clients: CONFIG.clients,
      },
      limiting,
    };
  } finally {
    await driver.teardown().catch(() => undefined);
    await server.stop();
    await lab.destroy();
  }
}

function repoRoot(): string {
  return path.dirname(resolveFreeRadiusSourceDir(__dirname));
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

export function renderGatewayMarkdown(r: Report): string {
  const modes: Mode[] = ['no gateway (clean)', 'gateway table dormant', 'gateway, no class', 'gateway, HTB class'];
  const of = (mode: Mode, kind: Kind): number[] =>
    r.transfers.filter((t) => t.mode === mode && t.kind === kind).map((t) => t.bps);
  const row = (mode: Mode): string => {
    const cell = (kind: Kind): string => {
      const v = of(mode, kind);
      const ratio = mode.startsWith('gateway,')
        ? ` (${(Math.max(...v) / Math.max(...of('gateway table dormant', kind))).toFixed(2)}x)`
        : '';
      return `${gbit(Math.max(...v))} / ${gbit(median(v))}${ratio}`;
    };
    return `| ${mode} | ${of(mode, 'upload').length} | ${KINDS.map(cell).join(' | ')} |`;
  };
  return `# Gateway forwarding benchmark (${r.date.slice(0, 10)})

Source ${r.source}; kernel ${r.host.kernel}, ${r.host.cpus} CPUs, load average ${r.host.loadavg.join(' ')} at the end; ${r.host.nft}.

TCP transfers of ${r.config.seconds} s from a client namespace through the gateway namespace to the upstream namespace
(veth pairs, a bridge on the LAN side), one stream per client, measured at the receiver. "gateway": the nftables
driver with ${r.config.clients} clients allowed (${r.config.clients - 2} of them addresses without a namespace, each
with HTB classes of 10/20 Mbit/s), masquerade to the WAN, counters on every packet; "HTB class": the measured
clients have a ${gbit(r.config.classRateBps)} Gbit/s class both ways (classified and shaped, never the limit); "no
class": they are allowed without a limit (HTB passes them directly). "table dormant": the driver's table switched
off (\`flags dormant\`, no rule runs) with its clients kept, a route back instead of NAT, the HTB roots still
there: the paired baseline, measured in every round right before or after the same transfer under the other two
modes. "no gateway (clean)": no table, no qdisc, a route back, at the start and at the end.

Gbit/s, best / median of the transfers (other work on a shared machine only ever takes throughput away, so the
best is the steadier figure); for the gateway rows the ratio of the best to the dormant table's best.

| path | transfers | upload, 1 client | download, 1 client | upload, 2 clients at once |
|---|---|---|---|---|
${modes.map(row).join('\n')}

- ${r.config.clients} logins (allow(), one after the other, nft + tc each): ${(r.allow200Ms / 1000).toFixed(1)} s, ${(r.allow200Ms / r.config.clients).toFixed(0)} ms each.
- listAllowed() with all counters of ${r.listAllowedMs.clients} clients (one \`nft -j list table\`): p50 ${r.listAllowedMs.p50.toFixed(0)} ms, max ${r.listAllowedMs.max.toFixed(0)} ms (20 calls).

Rate limiting one upload of a fixed size (${r.config.shapingSeconds.join(' s and ')} s at the limit), measured as TCP payload at the
receiver, so a limit exact in IP or Ethernet bytes reads about 0.96x. "HTB": the driver (class rate = ceil, burst
10 ms at the rate). "nft limit": \`limit rate over ... drop\` per client instead (same burst), the alternative the
driver does not use. An nftables byte limit's bucket holds at least one second at the rate whatever the burst (the
kernel sizes it (rate + burst) / rate seconds), so a transfer of about a second passes at line rate: every web page.

| limit, Mbit/s | ${r.config.shapingSeconds.flatMap((sec) => [`HTB, ${sec} s`, `nft limit, ${sec} s`]).join(' | ')} |
|---|${r.config.shapingSeconds.map(() => '---|---|').join('')}
${r.config.shapingRatesBps
  .map((limitBps) => {
    const cell = (mechanism: 'htb' | 'nft limit', seconds: number): string => {
      const x = r.limiting.find((l) => l.mechanism === mechanism && l.limitBps === limitBps && l.seconds === seconds);
      return x ? `${mbit(x.measuredBps)} (${(x.measuredBps / limitBps).toFixed(2)}x)` : '';
    };
    return `| ${mbit(limitBps)} | ${r.config.shapingSeconds.flatMap((sec) => [cell('htb', sec), cell('nft limit', sec)]).join(' | ')} |`;
  })
  .join('\n')}

Everything runs on the same CPUs (both ends of every stream and the gateway), so absolute numbers move with the
machine's load; compare rows of the same run.
`;
}

if (require.main === module) {
  runGatewayBench()
    .then(async (report) => {
      const files = await writeResultFiles(
        path.join(repoRoot(), 'bench', 'results'),
        'gateway-forwarding',
        report.date.slice(0, 10),
        report,
        renderGatewayMarkdown(report),
      );
      process.stdout.write(renderGatewayMarkdown(report) + '\n');
      log(`wrote ${path.relative(process.cwd(), files.md)} and ${path.relative(process.cwd(), files.json)}`);
    })
    .catch((err: unknown) => {
      process.stderr.write(
        `gateway bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    });
}
