/**
 * `npm run bench:gateway-radius`: the gateway's RADIUS side under load, against the project's
 * FreeRADIUS and a fresh Lango database (bench/db.ts: 1,000 subscribers of a 10M/20M plan, the
 * NAS at 127.0.0.1).
 *   logins/s  POST /login at the gateway's login endpoint (pretend clients, keep-alive HTTP,
 *             BENCH_GW_CONCURRENCY at once): Access-Request to FreeRADIUS, the Accept applied to
 *             the firewall driver, the Accounting Start queued (and answered)
 *   CoA/s     CoA-Requests (a new Mikrotik-Rate-Limit) from DynAuthClient to the gateway's CoA
 *             port for every session, then Disconnect-Requests (each ends a session: revoke and
 *             an Accounting Stop)
 * The firewall driver is `memory`: this measures the gateway's own work and FreeRADIUS's; the
 * nftables driver's cost per login (nft + tc, serialised) is in bench/gateway-forwarding.ts.
 * Results: bench/results/gateway-<date>.md and .json. See bench/README.md.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { resolveFreeRadiusSourceDir, startFreeRadius } from '../src/freeradius';
import { parseGatewayConfig } from '../src/gateway/config';
import { MemoryFirewallDriver } from '../src/gateway/firewall';
import { createLogger } from '../src/logger';
import { buildGateway } from '../src/main';
import { DynAuthClient } from '../src/radius/dynauth-client';
import { pickFreeUdpPort, freeTcpPort } from '../tests/helpers/ports';
import {
  adminUrl,
  createDatabases,
  dropDatabases,
  langoRadiusUrl,
  NAS_SECRET,
  password,
  seedLango,
  SUBSCRIBERS,
  username,
} from './db';
import { sourceVersion } from './git';
import { writeResultFiles } from './results';
import { positiveIntEnv } from './env';

const CONFIG = {
  logins: Math.min(SUBSCRIBERS, positiveIntEnv('BENCH_GW_LOGINS', 1000)),
  concurrency: positiveIntEnv('BENCH_GW_CONCURRENCY', 16),
};

const log = (msg: string): void => {
  process.stderr.write(`[bench:gateway-radius ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

interface Phase {
  name: string;
  count: number;
  ok: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Runs fn(i) for i < count, `concurrency` at a time; each call's latency and whether it succeeded. */
async function phase(
  name: string,
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<boolean>,
): Promise<Phase> {
  const lat: number[] = [];
  let ok = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const s = performance.now();
        if (await fn(i)) ok++;
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  const r = { name, count, ok, seconds, perSecond: count / seconds, p50Ms: q(0.5), p95Ms: q(0.95), maxMs: q(1) };
  log(
    `${name}: ${ok}/${count} in ${seconds.toFixed(2)} s = ${r.perSecond.toFixed(0)}/s (p50 ${r.p50Ms.toFixed(1)} ms)`,
  );
  return r;
}

const client = (i: number): { ip: string; mac: string } => ({
  ip: `10.5.${Math.floor(i / 250)}.${(i % 250) + 2}`,
  mac: `02:00:00:00:${Math.floor(i / 256)
    .toString(16)
    .padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`,
});

function post(agent: http.Agent, port: number, i: number): Promise<{ status: number; body: string }> {
  const c = client(i);
  const form = new URLSearchParams({ username: username(i), password: password(i) }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/login',
        method: 'POST',
        agent,
        headers: {
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(form),
          'x-client-ip': c.ip,
          'x-client-mac': c.mac,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(form);
  });
}

async function main(): Promise<void> {
  const repoRoot = path.dirname(resolveFreeRadiusSourceDir(__dirname));
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  const stateDir = path.join(os.tmpdir(), 'lango-bench-gateway-radius');
  let fr: Awaited<ReturnType<typeof startFreeRadius>> | undefined;
  let gateway: ReturnType<typeof buildGateway> | undefined;
  const dac = new DynAuthClient({ schedule: { irt: 2, mrt: 0, mrc: 3, mrd: 0 } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONFIG.concurrency });
  try {
    log('seeding the Lango database');
    await seedLango(dbs.langoUrl);
    fr = await startFreeRadius({
      databaseUrl: langoRadiusUrl(dbs.langoUrl),
      listenAddress: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
      clientNetworks: ['127.0.0.0/8'],
      clientLifetime: 60,
      stateDir,
    });
    const portalPort = await freeTcpPort();
    const coaPort = await pickFreeUdpPort('127.0.0.1');
    const config = parseGatewayConfig({
      lanInterface: 'br-lan',
      wanInterface: 'wan0',
      lanSubnet: '10.5.0.0/16',
      nasIpAddress: '127.0.0.1',
      nasIdentifier: 'bench-gateway',
      radius: {
        servers: [{ host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort }],
        secret: NAS_SECRET,
        bindAddress: '127.0.0.1',
      },
      coa: { host: '127.0.0.1', port: coaPort },
      portal: { url: 'http://10.5.0.1:8002/', host: '127.0.0.1', port: portalPort, trustClientHeaders: true },
      driver: 'memory',
    });
    const driver = new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'wan0', portalPort });
    gateway = buildGateway(config, { logger: createLogger('warn'), driver });
    await gateway.start();
    const gw = gateway;

    const sessions: string[] = [];
    const logins = await phase('logins', CONFIG.logins, CONFIG.concurrency, async (i) => {
      const r = await post(agent, gw.portal.port, i);
      if (r.status !== 200) return false;
      sessions[i] = (JSON.parse(r.body) as { session: { acctSessionId: string } }).session.acctSessionId;
      return true;
    });
    const t0 = performance.now();
    const drained = await gw.radius.drain(60_000);
    const startsDrainMs = performance.now() - t0;
    const target = { host: '127.0.0.1', port: gw.coaPort, secret: NAS_SECRET };
    const live = sessions.filter(Boolean);
    const coa = await phase('CoA (rate change)', live.length, CONFIG.concurrency, async (i) => {
      const r = await dac.coa(target, {
        acctSessionId: live[i]!,
        attributes: [{ name: 'Mikrotik-Rate-Limit', value: '3M/6M' }],
      });
      return r.outcome === 'ack';
    });
    const applied = (await driver.listAllowed()).filter((a) => a.limits?.downloadBps === 6_000_000).length;
    const disconnect = await phase('Disconnect', live.length, CONFIG.concurrency, async (i) => {
      const r = await dac.disconnect(target, { acctSessionId: live[i]! });
      return r.outcome === 'ack';
    });
    await gw.radius.drain(60_000);

    const date = new Date().toISOString().slice(0, 10);
    const load = os.loadavg();
    const report = {
      date,
      source: sourceVersion(repoRoot),
      host: { cpus: os.cpus().length, loadavg: load, kernel: os.release() },
      config: CONFIG,
      phases: [logins, coa, disconnect],
      startsDrained: drained,
      startsDrainMs,
      coaApplied: applied,
    };
    const row = (p: Phase): string =>
      `| ${p.name} | ${p.ok}/${p.count} | ${p.seconds.toFixed(2)} | **${p.perSecond.toFixed(0)}** | ${p.p50Ms.toFixed(1)} | ${p.p95Ms.toFixed(1)} | ${p.maxMs.toFixed(1)} |`;
    const md = `# Gateway RADIUS benchmark (${date})

Source ${report.source}; ${report.host.cpus} CPUs, kernel ${report.host.kernel}; load average ${load
      .map((l) => l.toFixed(2))
      .join(' ')} at the end (a machine shared with other work: absolute rates move with it).

\`lango gateway\` (memory firewall driver) with the project's FreeRADIUS and a fresh Lango database
(1,000 subscribers, plan 10M/20M); ${CONFIG.concurrency} requests at once.
Logins: POST /login at the login endpoint -> Access-Request (PAP, Message-Authenticator) ->
FreeRADIUS's authorize in PostgreSQL -> Access-Accept -> the driver -> an Accounting Start queued
(answered by FreeRADIUS, which writes radacct). CoA: a CoA-Request with a new Mikrotik-Rate-Limit per
session from DynAuthClient to the gateway's CoA port (${applied} of ${live.length} sessions had the new
rate afterwards); Disconnect: one per session (revoke + Accounting Stop queued).

| phase | ok | seconds | per second | p50 ms | p95 ms | max ms |
|---|---|---|---|---|---|---|
${row(logins)}
${row(coa)}
${row(disconnect)}

The ${logins.ok} Accounting Starts were all answered ${drained ? `${startsDrainMs.toFixed(0)} ms after the last login` : 'NOT within 60 s'}.
With the nftables driver every login also costs an nft and a tc call, serialised by the driver
(bench/results/gateway-forwarding-*.md: about 124 ms each), so logins through an nftables
gateway are bounded by that, not by RADIUS.

Run: \`npm run bench:gateway-radius\` (BENCH_GW_LOGINS, BENCH_GW_CONCURRENCY).
`;
    const files = await writeResultFiles(path.join(repoRoot, 'bench', 'results'), 'gateway', date, report, md);
    log(`results: ${files.md}`);
  } finally {
    agent.destroy();
    await dac.close();
    await gateway?.stop().catch(() => undefined);
    await fr?.stop().catch(() => undefined);
    await dropDatabases(admin, dbs.names).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
