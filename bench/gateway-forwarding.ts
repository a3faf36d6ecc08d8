/**
 * `npm run bench:gateway`: forwarding throughput through the gateway namespace with the nftables
 * driver and 200 clients logged in, against the same path with no gateway rules, in one run
 * (tests/helpers/netns.ts: client namespaces -> gateway -> upstream, veth). Also: how long 200
 * logins and one counter read of all 200 take, and how close HTB shaping is to the limit.
 * Needs root. Results: bench/results/gateway-forwarding-<date>.md and .json. See bench/README.md.
 *
 * Order: baseline, gateway (with and without HTB classes on the measured clients) x 2,
 * baseline again, so drift of a shared machine shows in the two baseline rows.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { defaultBurst, NFT_TABLE, NftablesFirewallDriver } from '../src/gateway/firewall/nftables';
import { createCommandRunner } from '../src/gateway/firewall/runner';
import { resolveFreeRadiusSourceDir } from '../src/freeradius/runner';
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
  seconds: num('BENCH_GW_SECONDS', 2),
  rounds: Math.round(num('BENCH_GW_ROUNDS', 2)),
  /** The HTB class of the measured clients: far above what a veth path carries, so it classifies but does not limit. */
  classRateBps: 40_000_000_000,
  shapingRatesBps: [2_000_000, 20_000_000, 200_000_000],
  /** Transfer sizes for the rate-limit rows, in seconds at the limit: a short one (a web page) and a steady one. */
  shapingSeconds: [1, 4],
};
const PORT = 9000;
const PORTAL_PORT = 8081;

type Mode = 'no gateway (clean)' | 'gateway table dormant' | 'gateway, no class' | 'gateway, HTB class';

interface Sample {
  mode: Mode;
  round: number;
  uploadBps: number;
  downloadBps: number;
  /** Two clients uploading at once, summed. */
  upload2Bps: number;
}

interface Report {
  date: string;
  source: string;
  host: { kernel: string; cpus: number; loadavg: number[]; nft: string };
  config: typeof CONFIG;
  samples: Sample[];
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

async function measure(lab: NetnsLab, mode: Mode, round: number): Promise<Sample> {
  const [a, b] = lab.clients as [NetnsLab['clients'][0], NetnsLab['clients'][0]];
  const s = String(CONFIG.seconds);
  const transfer = async (ns: string, action: 'put-for' | 'get-for'): Promise<number> => {
    const r = await lab.client<TransferAnswer>(ns, [action, lab.upstream.ip, PORT, s], (CONFIG.seconds + 30) * 1000);
    if (r.error) throw new Error(`${action} from ${ns} (${mode}) failed: ${r.error}`);
    return action === 'put-for' ? bps(r.server!.bytes, r.server!.ms) : bps(r.bytes!, r.ms!);
  };
  const uploadBps = await transfer(a.ns, 'put-for');
  const downloadBps = await transfer(a.ns, 'get-for');
  const both = await Promise.all([transfer(a.ns, 'put-for'), transfer(b.ns, 'put-for')]);
  const sample = { mode, round, uploadBps, downloadBps, upload2Bps: both[0] + both[1] };
  log(`${mode} round ${round}: up ${gbit(uploadBps)}, down ${gbit(downloadBps)}, 2 up ${gbit(sample.upload2Bps)} Gbit/s`);
  return sample;
}

const gbit = (v: number): string => (v / 1e9).toFixed(2);
const mbit = (v: number): string => (v / 1e6).toFixed(2);

function fakeClient(i: number): { ip: string; mac: string } {
  // 10.88.1.0 - 10.88.1.255 and on: inside the lab's /16, never used by a namespace.
  const n = 256 + i;
  return { ip: `10.88.${Math.floor(n / 256)}.${n % 256}`, mac: `02:00:00:00:${Math.floor(n / 256).toString(16).padStart(2, '0')}:${(n % 256).toString(16).padStart(2, '0')}` };
}

export async function runGatewayBench(): Promise<Report> {
  await requireNetns();
  const started = new Date();
  const lab = await createLab({ clients: 2 });
  const driver = new NftablesFirewallDriver({ lanInterface: lab.gateway.lan, wanInterface: lab.gateway.wan, portalPort: PORTAL_PORT, runner: createCommandRunner({ netns: lab.gateway.ns }) });
  const server = await lab.serve(lab.upstream.ns, PROGRAMS.trafficServer, [PORT]);
  const samples: Sample[] = [];
  try {
    const real = lab.clients.map((c) => ({ ip: c.ip, mac: c.mac }));
    const limits = { uploadBps: CONFIG.classRateBps, downloadBps: CONFIG.classRateBps };

    await lab.routeBack(true);
    samples.push(await measure(lab, 'no gateway (clean)', 1));
    await lab.routeBack(false);

    log(`setup and ${CONFIG.clients} logins`);
    await driver.setup();
    const t0 = performance.now();
    for (const c of real) await driver.allow(c, limits);
    for (let i = 0; i < CONFIG.clients - real.length; i++) await driver.allow(fakeClient(i), { uploadBps: 10_000_000, downloadBps: 20_000_000 });
    const allow200Ms = performance.now() - t0;

    const reads: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const list = await driver.listAllowed();
      reads.push(performance.now() - t);
      if (list.length !== CONFIG.clients) throw new Error(`listAllowed() returned ${list.length} clients, not ${CONFIG.clients}`);
    }
    reads.sort((x, y) => x - y);

    for (let round = 1; round <= CONFIG.rounds; round++) {
      // The paired baseline of each round: the table dormant (no rule runs, no NAT: route back),
      // the 200 clients' state kept, so the rounds interleave without 200 new logins.
      await nftIn(lab, `add table inet ${NFT_TABLE} { flags dormant; }\n`);
      await lab.routeBack(true);
      samples.push(await measure(lab, 'gateway table dormant', round));
      await lab.routeBack(false);
      await nftIn(lab, `add table inet ${NFT_TABLE}\n`);
      for (const c of real) await driver.updateLimits(c, limits);
      samples.push(await measure(lab, 'gateway, HTB class', round));
      for (const c of real) await driver.updateLimits(c, { uploadBps: 0, downloadBps: 0 });
      samples.push(await measure(lab, 'gateway, no class', round));
    }

    // Rate limits: the driver's HTB class, then the alternative it does not use, policing with an
    // nftables limit per client (in a table of the benchmark's own: a drop in any table's forward
    // chain drops; burst as the driver's HTB default), each with a short and a steady transfer.
    const limiting: Report['limiting'] = [];
    const limited = async (mechanism: 'htb' | 'nft limit', limitBps: number): Promise<void> => {
      for (const seconds of CONFIG.shapingSeconds) {
        const r = await lab.client<TransferAnswer>(lab.clients[0]!.ns, ['put', lab.upstream.ip, PORT, Math.round((limitBps / 8) * seconds)], 120_000);
        limiting.push({ mechanism, limitBps, seconds, measuredBps: bps(r.server!.bytes, r.server!.ms) });
        log(`${mechanism} at ${mbit(limitBps)} Mbit/s, ${seconds} s: ${mbit(limiting[limiting.length - 1]!.measuredBps)}`);
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
    samples.push(await measure(lab, 'no gateway (clean)', 2));

    let nftVersion = '';
    try {
      nftVersion = execFileSync('nft', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      nftVersion = 'unknown';
    }
    return {
      date: started.toISOString(),
      source: sourceVersion(repoRoot()),
      host: { kernel: os.release(), cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100), nft: nftVersion },
      config: CONFIG,
      samples,
      allow200Ms,
      listAllowedMs: { p50: reads[Math.floor(reads.length / 2)]!, max: reads[reads.length - 1]!, clients: CONFIG.clients },
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

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export function renderGatewayMarkdown(r: Report): string {
  const modes: Mode[] = ['no gateway (clean)', 'gateway table dormant', 'gateway, no class', 'gateway, HTB class'];
  const paired = r.samples.filter((s) => s.mode === 'gateway table dormant');
  const row = (mode: Mode): string => {
    const s = r.samples.filter((x) => x.mode === mode);
    const cell = (k: 'uploadBps' | 'downloadBps' | 'upload2Bps'): string => {
      const v = mean(s.map((x) => x[k]));
      const ratio = mode.startsWith('gateway,') ? ` (${(v / mean(paired.map((x) => x[k]))).toFixed(2)}x)` : '';
      return `${gbit(v)}${ratio}`;
    };
    return `| ${mode} | ${s.length} | ${cell('uploadBps')} | ${cell('downloadBps')} | ${cell('upload2Bps')} |`;
  };
  return `# Gateway forwarding benchmark (${r.date.slice(0, 10)})

Source ${r.source}; kernel ${r.host.kernel}, ${r.host.cpus} CPUs, load average ${r.host.loadavg.join(' ')} at the end; ${r.host.nft}.

One TCP stream per client for ${r.config.seconds} s from a client namespace through the gateway namespace to the
upstream namespace (veth pairs, bridge on the LAN side), measured at the receiver. "gateway": the nftables driver
with ${r.config.clients} clients allowed (${r.config.clients - 2} of them addresses without a namespace, each with
HTB classes of 10/20 Mbit/s), masquerade to the WAN, counters on every packet. "HTB class": the two measured clients
have a ${gbit(r.config.classRateBps)} Gbit/s class in both directions (classified and shaped, never the limit);
"no class": they are allowed without a limit (HTB passes them directly). "no gateway rules": no table, no qdisc,
a route back instead of NAT, at the start and at the end. "table dormant": in every round before the gateway
rows, the driver's table switched off (\`flags dormant\`: no rule runs) with its 200 clients kept, route back
instead of NAT, the HTB roots still there (unclassified traffic goes straight through). Gbit/s, mean of the
rounds; in brackets the ratio to "table dormant" (the paired baseline).

| path | rounds | upload, 1 client | download, 1 client | upload, 2 clients at once |
|---|---|---|---|---|
${modes.map(row).join('\n')}

Clean baseline at the start and at the end (drift of the shared machine): ${r.samples.filter((s) => s.mode === 'no gateway (clean)').map((s) => `${gbit(s.uploadBps)} / ${gbit(s.downloadBps)} / ${gbit(s.upload2Bps)}`).join(' then ')}.

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
      const files = await writeResultFiles(path.join(repoRoot(), 'bench', 'results'), 'gateway-forwarding', report.date.slice(0, 10), report, renderGatewayMarkdown(report));
      process.stdout.write(renderGatewayMarkdown(report) + '\n');
      log(`wrote ${path.relative(process.cwd(), files.md)} and ${path.relative(process.cwd(), files.json)}`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`gateway bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
