/**
 * `npm run bench:payments`: the ledger's callback path under load, against a real PostgreSQL
 * (LANGO_BENCH_DATABASE_URL or DATABASE_URL, a role that may create databases) and a real
 * FreeRADIUS running the project's configuration.
 *
 *  1. Throughput: BENCH_PAY_PAYMENTS pending STK payments (as StkService leaves them after
 *     Daraja accepted the push) get their success callbacks over HTTP, with 30 % duplicates mixed
 *     in at random positions, BENCH_PAY_CONCURRENCY at a time. Callbacks per second, latency
 *     percentiles, and the check that every payment was credited exactly once.
 *  2. Callback -> Access-Accept: BENCH_PAY_ACCEPTS buyers, one at a time: the time from sending
 *     the callback to FreeRADIUS answering the buyer's Access-Request with Access-Accept (the
 *     request is sent when the callback's answer arrives, then retried at once on a reject).
 *
 * Results: bench/results/payments-<date>.md and .json.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { createServices } from '../src/modules/services';
import { createApp } from '../src/http/app';
import { appConfig } from '../src/main';
import { SYSTEM } from '../src/modules/audit/actor';
import { startFreeRadius } from '../src/freeradius';
import { RadiusClient, PacketCode } from '../src/radius';
import { createRoleDatabase } from './db';
import { sourceVersion } from './git';
import { writeResultFiles } from './results';
import { positiveIntEnv } from './env';

const CONFIG = {
  payments: positiveIntEnv('BENCH_PAY_PAYMENTS', 2000),
  duplicateShare: 0.3,
  concurrency: positiveIntEnv('BENCH_PAY_CONCURRENCY', 32),
  accepts: positiveIntEnv('BENCH_PAY_ACCEPTS', 200),
};
const log = (m: string) => process.stderr.write(`[bench:payments ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const round = (x: number) => Math.round(x * 100) / 100;

function body(checkoutRequestId: string, receipt: string) {
  return JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: 'bench-1',
        CheckoutRequestID: checkoutRequestId,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: 10 },
            { Name: 'MpesaReceiptNumber', Value: receipt },
            { Name: 'TransactionDate', Value: 20261202102115 },
            { Name: 'PhoneNumber', Value: 254708374149 },
          ],
        },
      },
    },
  });
}

async function main(): Promise<void> {
  const { adminDb, db, radiusUrl, drop } = await createRoleDatabase('lango_paybench');
  const config = {
    ...loadConfig({ LANGO_ENV: 'test', LANGO_JWT_SECRET: 'bench-secret-that-is-long-enough-for-hs256' }),
    enforcementTargets: { networks: ['127.0.0.0/8'], allowLoopback: true },
  };
  const services = createServices(db, config);
  const { app } = createApp({ db, services, config: appConfig(config), logger: createLogger('silent') });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const fr = await startFreeRadius({
    databaseUrl: radiusUrl,
    listenAddress: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
    clientNetworks: ['127.0.0.0/8'],
    clientLifetime: 60,
    stateDir: path.join(os.tmpdir(), 'lango-bench-payments'),
  });
  const radius = new RadiusClient({
    host: '127.0.0.1',
    port: fr.authPort,
    secret: 'bench-nas-secret',
    timeoutMs: 2000,
    retries: 1,
  });
  try {
    const tenant = await services.tenants.create(SYSTEM, {
      name: 'Bench',
      slug: `bench-${randomBytes(3).toString('hex')}`,
      timeZone: 'Africa/Nairobi',
      currency: 'KES',
      admin: { email: `b-${randomBytes(3).toString('hex')}@bench.test`, password: 'bench-password-1' },
    });
    const tid = tenant.tenant.id;
    const plan = await services.plans.create(SYSTEM, tid, {
      name: 'Hour',
      price: 1000,
      durationSeconds: 3600,
      rateLimit: '5M/5M',
    });
    await services.nas.create(SYSTEM, tid, {
      name: 'bench',
      address: '127.0.0.1',
      secret: 'bench-nas-secret',
      kind: 'other',
    });
    const account = await services.mpesaAccounts.create(SYSTEM, tid, {
      name: 'pb',
      kind: 'paybill',
      shortcode: '174379',
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    });
    const total = CONFIG.payments + CONFIG.accepts;
    log(`seeding ${total} buyers with pending STK payments`);
    const buyers: Array<{ username: string; checkout: string; receipt: string }> = [];
    for (let i = 0; i < total; i += 500) {
      const batch = Array.from({ length: Math.min(500, total - i) }, (_, k) => ({
        username: `buyer${i + k}`,
        checkout: `ws_CO_bench_${i + k}_${randomBytes(4).toString('hex')}`,
        receipt: `B${String(i + k).padStart(9, '0')}`,
      }));
      const subs = await adminDb('subscribers')
        .insert(batch.map((b) => ({ tenant_id: tid, username: b.username, plan_id: plan.id, phone: '0708374149' })))
        .returning(['id', 'username']);
      await adminDb('radcheck').insert(
        batch.map((b) => ({
          tenant_id: tid,
          username: b.username,
          attribute: 'Cleartext-Password',
          op: ':=',
          value: 'pw',
        })),
      );
      await adminDb('radusergroup').insert(
        batch.map((b) => ({ tenant_id: tid, username: b.username, groupname: plan.groupname, priority: 1 })),
      );
      await adminDb('payments').insert(
        batch.map((b, k) => ({
          tenant_id: tid,
          account_id: account.id,
          channel: 'stk',
          checkout_request_id: b.checkout,
          merchant_request_id: 'bench-1',
          phone: '254708374149',
          amount: 1000,
          plan_id: plan.id,
          subscriber_id: subs[k].id,
          expires_at: new Date(Date.now() + 3600_000),
          next_query_at: new Date(Date.now() + 3600_000),
        })),
      );
      buyers.push(...batch);
    }
    const path_ = `${base}${account.callbackPaths.stk}`;
    const post = async (b: string): Promise<number> => {
      const t0 = performance.now();
      const res = await fetch(path_, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: b });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`callback answered ${res.status}`);
      return performance.now() - t0;
    };

    // 1. Throughput with duplicates
    const unique = buyers.slice(0, CONFIG.payments).map((b) => body(b.checkout, b.receipt));
    const dups = Math.round((CONFIG.payments * CONFIG.duplicateShare) / (1 - CONFIG.duplicateShare));
    const sends = [...unique];
    for (let i = 0; i < dups; i++)
      sends.splice(
        Math.floor(Math.random() * (sends.length + 1)),
        0,
        unique[Math.floor(Math.random() * unique.length)]!,
      );
    log(`phase 1: ${sends.length} callbacks (${dups} duplicates), ${CONFIG.concurrency} at a time`);
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONFIG.concurrency }, async () => {
        while (next < sends.length) latencies.push(await post(sends[next++]!));
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const credits = Number(
      (await adminDb('ledger_entries').where({ tenant_id: tid, kind: 'credit' }).count<{ n: string }[]>({ n: '*' }))[0]!
        .n,
    );
    const subsCreated = Number(
      (await adminDb('subscriptions').where({ tenant_id: tid }).count<{ n: string }[]>({ n: '*' }))[0]!.n,
    );
    const outcomes = await adminDb('mpesa_callbacks')
      .where({ tenant_id: tid })
      .groupBy('outcome')
      .select('outcome')
      .count<{ outcome: string; count: string }[]>({ count: '*' });
    const throughput = {
      callbacks: sends.length,
      duplicates: dups,
      seconds: round(seconds),
      perSecond: round(sends.length / seconds),
      latencyMs: {
        p50: round(pct(latencies, 50)),
        p95: round(pct(latencies, 95)),
        p99: round(pct(latencies, 99)),
        max: round(Math.max(...latencies)),
      },
      credits,
      subscriptions: subsCreated,
      exactlyOnce: credits === CONFIG.payments && subsCreated === CONFIG.payments,
      outcomes: Object.fromEntries(outcomes.map((o) => [o.outcome, Number(o.count)])),
    };
    log(
      `phase 1: ${throughput.perSecond}/s, p99 ${throughput.latencyMs.p99} ms, exactly once: ${throughput.exactlyOnce}`,
    );

    // 2. Callback -> Access-Accept
    log(`phase 2: ${CONFIG.accepts} buyers, callback then Access-Request until Access-Accept`);
    const toAccept: number[] = [];
    let rejectsBeforeAccept = 0;
    for (const b of buyers.slice(CONFIG.payments)) {
      const s = performance.now();
      await post(body(b.checkout, b.receipt));
      for (;;) {
        const r = await radius.accessRequestPap(b.username, 'pw');
        if (r.packet.code === PacketCode.AccessAccept) break;
        rejectsBeforeAccept++;
        if (performance.now() - s > 10_000) throw new Error(`${b.username}: no Access-Accept within 10 s`);
      }
      toAccept.push(performance.now() - s);
    }
    const accept = {
      buyers: CONFIG.accepts,
      ms: {
        p50: round(pct(toAccept, 50)),
        p95: round(pct(toAccept, 95)),
        p99: round(pct(toAccept, 99)),
        max: round(Math.max(...toAccept)),
      },
      rejectsBeforeAccept,
      goalP99Ms: 1000,
    };
    log(`phase 2: p50 ${accept.ms.p50} ms, p99 ${accept.ms.p99} ms`);

    const date = new Date().toISOString().slice(0, 10);
    const report = {
      date,
      source: sourceVersion(path.resolve(__dirname, '../..')),
      host: { cpus: os.cpus().length, loadavg: os.loadavg().map(round) },
      config: CONFIG,
      throughput,
      accept,
    };
    const md = `# Payments bench ${date}

Source ${report.source}; ${report.host.cpus} CPUs, load ${report.host.loadavg.join(' ')} at the end (shared machine).

## Callback throughput (30 % duplicates)

| callbacks | duplicates | concurrency | seconds | callbacks/s | p50 ms | p95 ms | p99 ms | max ms | credits | exactly once |
|---|---|---|---|---|---|---|---|---|---|---|
| ${throughput.callbacks} | ${throughput.duplicates} | ${CONFIG.concurrency} | ${throughput.seconds} | ${throughput.perSecond} | ${throughput.latencyMs.p50} | ${throughput.latencyMs.p95} | ${throughput.latencyMs.p99} | ${throughput.latencyMs.max} | ${throughput.credits} | ${throughput.exactlyOnce} |

Outcomes recorded: ${Object.entries(throughput.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.

## Callback -> Access-Accept (one buyer at a time)

| buyers | p50 ms | p95 ms | p99 ms | max ms | rejects before accept | goal p99 |
|---|---|---|---|---|---|---|
| ${accept.buyers} | ${accept.ms.p50} | ${accept.ms.p95} | ${accept.ms.p99} | ${accept.ms.max} | ${accept.rejectsBeforeAccept} | < ${accept.goalP99Ms} ms |
`;
    const files = await writeResultFiles(path.resolve(__dirname, '../../bench/results'), 'payments', date, report, md);
    log(`wrote ${files.md}`);
    process.stdout.write(md);
  } finally {
    await radius.close();
    await fr.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
