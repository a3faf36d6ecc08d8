/**
 * `node dist/bench/daraja-adapter.js` (after `npm run build`): how fast the Daraja adapter's
 * pieces are on this machine, so that the payments benchmark's callback path can be read
 * against them: parsing an STK callback and a C2B notification, hashing a phone, sealing and
 * opening a secret, and STK Push round trips through the client against the simulator on
 * loopback (token cached, no callbacks). A measurement, never asserted. Results:
 * bench/results/daraja-adapter-<date>.md and .json.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateSecretKey, SecretBox } from '../src/lib/secret-box';
import {
  DarajaClient,
  hashPhone,
  MemoryTokenStore,
  parseC2bNotification,
  parseStkCallback,
  SANDBOX_PASSKEY,
  SANDBOX_SHORTCODE,
} from '../src/mpesa';
import { SIMULATOR_APP, startDarajaSimulator } from '../src/simulate/daraja-simulator';
import { sourceVersion } from './git';
import { positiveIntEnv } from './env';

const CONFIG = {
  ops: positiveIntEnv('BENCH_OPS', 100_000),
  pushes: positiveIntEnv('BENCH_PUSHES', 2000),
  concurrency: positiveIntEnv('BENCH_CONCURRENCY', 20),
};

const STK = {
  Body: {
    stkCallback: {
      MerchantRequestID: '29115-34620561-1',
      CheckoutRequestID: 'ws_CO_191220191020363925',
      ResultCode: 0,
      ResultDesc: 'The service request is processed successfully.',
      CallbackMetadata: {
        Item: [
          { Name: 'Amount', Value: 1.0 },
          { Name: 'MpesaReceiptNumber', Value: 'NLJ7RT61SV' },
          { Name: 'TransactionDate', Value: 20191219102115 },
          { Name: 'PhoneNumber', Value: 254708374149 },
        ],
      },
    },
  },
};
const C2B = {
  TransactionType: 'Pay Bill',
  TransID: 'RKTQDM7W6S',
  TransTime: '20191122063845',
  TransAmount: '10',
  BusinessShortCode: '600638',
  BillRefNumber: 'A123',
  MSISDN: hashPhone('0708374149'),
  FirstName: 'John',
};

function perSecond(
  label: string,
  n: number,
  fn: (i: number) => unknown,
): { label: string; ops: number; perSecond: number } {
  for (let i = 0; i < Math.min(n, 1000); i++) fn(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const s = (performance.now() - t0) / 1000;
  return { label, ops: n, perSecond: Math.round(n / s) };
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  const box = SecretBox.fromKeys(generateSecretKey());
  const sealed = box.seal('bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919', 'tenant:x:passkey');
  const rawStk = JSON.stringify(STK);
  const micro = [
    perSecond('JSON.parse + parseStkCallback (success)', CONFIG.ops, () => parseStkCallback(JSON.parse(rawStk))),
    perSecond('parseC2bNotification (hashed MSISDN)', CONFIG.ops, () => parseC2bNotification(C2B)),
    perSecond('hashPhone', CONFIG.ops, (i) => hashPhone(`07${String(i % 100_000_000).padStart(8, '0')}`)),
    perSecond('SecretBox.seal (64-char passkey)', CONFIG.ops, () =>
      box.seal('bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919', 'tenant:x:passkey'),
    ),
    perSecond('SecretBox.open', CONFIG.ops, () => box.open(sealed, 'tenant:x:passkey')),
  ];

  const sim = await startDarajaSimulator({ answerDelayMs: 3_600_000 });
  sim.addScenario({ copies: 0 });
  const client = new DarajaClient(
    {
      id: 'bench',
      environment: 'sandbox',
      baseUrl: sim.url,
      consumerKey: SIMULATOR_APP.consumerKey,
      consumerSecret: SIMULATOR_APP.consumerSecret,
      passkey: SANDBOX_PASSKEY,
      type: 'paybill',
      shortcode: SANDBOX_SHORTCODE,
    },
    { tokenStore: new MemoryTokenStore() },
  );
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < CONFIG.pushes) {
      next += 1;
      const t = performance.now();
      const r = await client.stkPush({
        phone: '0708374149',
        amountMinor: 1000,
        accountReference: 'bench',
        callbackUrl: 'http://127.0.0.1:9/cb',
      });
      latencies.push(performance.now() - t);
      if (!r.ok) failures += 1;
    }
  };
  await one(); // the first request also fetches the token
  latencies.length = 0;
  next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONFIG.concurrency }, one));
  const seconds = (performance.now() - t0) / 1000;
  await sim.close();
  latencies.sort((a, b) => a - b);
  const push = {
    requests: latencies.length,
    concurrency: CONFIG.concurrency,
    failures,
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: +pct(latencies, 50).toFixed(2),
    p99Ms: +pct(latencies, 99).toFixed(2),
    tokensIssued: sim.stats.tokensIssued,
  };

  const root = path.resolve(__dirname, existsSync(path.resolve(__dirname, '../../package.json')) ? '../..' : '..');
  const report = {
    date: new Date().toISOString(),
    source: sourceVersion(root),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, load: os.loadavg() },
    config: CONFIG,
    micro,
    push,
  };
  const md = [
    `# Daraja adapter, ${report.date.slice(0, 10)}`,
    '',
    `Source ${report.source}; ${report.machine.cpus} CPUs (${report.machine.model}), Node ${report.machine.node}, load average ${report.machine.load.map((l) => l.toFixed(2)).join(' ')} (shared machine).`,
    '',
    '| Operation | ops | per second |',
    '|---|---:|---:|',
    ...micro.map((m) => `| ${m.label} | ${m.ops} | ${m.perSecond.toLocaleString('en-US')} |`),
    '',
    `STK Push through DarajaClient to the simulator on loopback (cached token, no callbacks): ${push.requests} requests, ${push.concurrency} at a time, ${push.failures} failed, ${push.perSecond} per second, p50 ${push.p50Ms} ms, p99 ${push.p99Ms} ms, ${push.tokensIssued} token issued.`,
    '',
  ].join('\n');
  const dir = path.join(root, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  let base = path.join(dir, `daraja-adapter-${report.date.slice(0, 10)}`);
  for (let i = 2; existsSync(`${base}.json`); i++)
    base = path.join(dir, `daraja-adapter-${report.date.slice(0, 10)}-${i}`);
  await writeFile(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  await writeFile(`${base}.md`, md);
  process.stdout.write(md);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
