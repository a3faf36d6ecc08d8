/**
 * Reconnect storm (`npm run bench:storm`): BENCH_STORM_USERS (10,000) subscribers of one tenant
 * log in and send Accounting-Start within BENCH_STORM_SPREAD_MS (3,000 ms), as after a power cut.
 * Each NAS request is tried 3 times (3 s, 3 s, 4 s, as RouterOS), with no cap on requests in flight.
 * Goal (issue 12): all online within 10 s, no reject that is not policy, no timeout.
 * Measured: the time from the first Access-Request to the last Accounting-Response ("all
 * online"), to the last Access-Accept, and until every Start is in radacct; rejects with their
 * Reply-Message; timeouts; retransmissions; FreeRADIUS's "no connections" log lines (rlm_sql's
 * pool growing under the burst). Results: bench/results/storm-<date>.md and .json.
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir, startFreeRadius } from '../src/freeradius';
import { PacketCode, RadiusClient, RadiusTimeoutError, type RadiusAttribute } from '../src/radius';
import { adminUrl, createDatabases, dropDatabases, langoRadiusUrl, NAS_SECRET, PLAN, seedLango } from './db';
import { sourceVersion } from './git';
import { authExtras } from './load';
import { writeResultFiles } from './results';
import { positiveIntEnv } from './env';

const USERS = positiveIntEnv('BENCH_STORM_USERS', 10000);
const SPREAD_MS = positiveIntEnv('BENCH_STORM_SPREAD_MS', 3000);
// Live accounting's own pool (freeradius/mods-available/sql_acct); the product's default is 8.
const ACCT_CONNECTIONS = positiveIntEnv('BENCH_STORM_ACCT_CONNECTIONS', 8);
const SCHEDULE = [3000, 3000, 4000];
const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const name = (i: number): string => `storm${String(i).padStart(5, '0')}`;
const pw = (i: number): string => `pw-${name(i)}`;

/** USERS more subscribers in the first tenant, with the rows SubscribersService.create() writes. */
async function seedStormUsers(db: Client, tenantId: string): Promise<void> {
  const plan = await db.query<{ id: string; groupname: string }>(
    'SELECT id, groupname FROM plans WHERE tenant_id = $1 LIMIT 1',
    [tenantId],
  );
  const { id: planId, groupname } = plan.rows[0]!;
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO subscribers (tenant_id, username, plan_id)
       SELECT $1, 'storm' || lpad(i::text, 5, '0'), $2 FROM generate_series(0, $3 - 1) i`,
    [tenantId, planId, USERS],
  );
  await db.query(
    `INSERT INTO radcheck (tenant_id, username, attribute, op, value)
       SELECT $1, 'storm' || lpad(i::text, 5, '0'), 'Cleartext-Password', ':=', 'pw-storm' || lpad(i::text, 5, '0')
       FROM generate_series(0, $2 - 1) i`,
    [tenantId, USERS],
  );
  await db.query(
    `INSERT INTO radusergroup (tenant_id, username, groupname, priority)
       SELECT tenant_id, username, $1, 1 FROM subscribers WHERE tenant_id = $2 AND username LIKE 'storm%'`,
    [groupname, tenantId],
  );
  await db.query(
    `INSERT INTO subscriptions (tenant_id, subscriber_id, plan_id, plan_name, price, data_quota_bytes,
                                session_timeout_seconds, starts_at, ends_at, source)
       SELECT s.tenant_id, s.id, p.id, p.name, p.price, p.data_quota_bytes, p.session_timeout_seconds,
              now(), now() + make_interval(secs => p.duration_seconds), 'staff'
       FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.tenant_id = $1 AND s.username LIKE 'storm%'`,
    [tenantId],
  );
  await db.query('COMMIT');
  await db.query('ANALYZE');
}

/** Sends until FreeRADIUS answers (a dynamic NAS's first packets are dropped), at most 22 times. */
async function untilAnswered(listener: string, send: () => Promise<unknown>): Promise<void> {
  for (let k = 0; k <= 21; k++) {
    if (
      await send().then(
        () => true,
        () => false,
      )
    )
      return;
  }
  throw new Error(`FreeRADIUS does not answer ${listener}`);
}

async function main(): Promise<void> {
  const admin = adminUrl();
  const dbs = await createDatabases(admin);
  const load = os.loadavg().map((l) => round(l, 2));
  const db = new Client({ connectionString: dbs.langoUrl });
  const spool = path.join(os.tmpdir(), `lango-bench-storm-spool-${process.pid}`);
  try {
    const seed = await seedLango(dbs.langoUrl);
    await db.connect();
    await seedStormUsers(db, seed.tenantId);
    const fr = await startFreeRadius({
      databaseUrl: langoRadiusUrl(dbs.langoUrl),
      listenAddress: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
      clientNetworks: ['127.0.0.0/8'],
      clientLifetime: 3600,
      stateDir: path.join(os.tmpdir(), 'lango-bench-storm'),
      accountingSpoolDir: spool,
      accountingConnections: ACCT_CONNECTIONS,
    });
    const auth = new RadiusClient({
      host: '127.0.0.1',
      port: fr.authPort,
      secret: NAS_SECRET,
      retransmit: SCHEDULE,
      recvBufferSize: 8 << 20,
    });
    const acct = new RadiusClient({
      host: '127.0.0.1',
      port: fr.acctPort,
      secret: NAS_SECRET,
      retransmit: SCHEDULE,
      recvBufferSize: 8 << 20,
    });
    try {
      // The NAS is admitted dynamically, by each listener on its own: its first packets are
      // dropped while it is looked up. So one login, and one Interim-Update of a session outside
      // the storm, are repeated until answered; otherwise the storm's first Starts would be
      // answered only after their 3 s retransmission. Nothing else warms up: connection pools
      // start as configured, as after a power cut.
      await untilAnswered('authentication', () => auth.accessRequestPap('perf0000', 'pw-perf0000-x7', authExtras(0)));
      await untilAnswered('accounting', () =>
        acct.accounting([
          { name: 'User-Name', value: 'perf0000' },
          { name: 'Acct-Status-Type', value: 'Interim-Update' },
          { name: 'Acct-Session-Id', value: 'warmup-0' },
          ...authExtras(0),
        ]),
      );
      const out = {
        accepts: 0,
        rejects: 0,
        authTimeouts: 0,
        startsAnswered: 0,
        acctTimeouts: 0,
        authRetransmitted: 0,
        acctRetransmitted: 0,
      };
      const rejectSamples = new Map<string, number>();
      let lastAccept = 0;
      let lastStart = 0;
      const t0 = performance.now();
      const one = async (i: number): Promise<void> => {
        await sleep((i * SPREAD_MS) / USERS);
        try {
          const r = await auth.accessRequestPap(name(i), pw(i), authExtras(i));
          if (r.attempts > 1) out.authRetransmitted++;
          if (r.packet.code !== PacketCode.AccessAccept) {
            out.rejects++;
            const m = r.packet.attributes.find((a) => 'name' in a && a.name === 'Reply-Message');
            const text = m && 'value' in m ? String(m.value) : '(no Reply-Message)';
            rejectSamples.set(text, (rejectSamples.get(text) ?? 0) + 1);
            return;
          }
          out.accepts++;
          lastAccept = performance.now();
        } catch (err) {
          if (err instanceof RadiusTimeoutError) out.authTimeouts++;
          return;
        }
        const start: RadiusAttribute[] = [
          { name: 'User-Name', value: name(i) },
          { name: 'Acct-Status-Type', value: 'Start' },
          { name: 'Acct-Session-Id', value: `storm-${i}` },
          ...authExtras(i),
        ];
        try {
          const r = await acct.accounting(start);
          if (r.attempts > 1) out.acctRetransmitted++;
          if (r.packet.code === PacketCode.AccountingResponse) out.startsAnswered++;
          lastStart = performance.now();
        } catch {
          out.acctTimeouts++;
        }
      };
      await Promise.all(Array.from({ length: USERS }, (_, i) => one(i)));
      for (;;) {
        if ((await fr.accountingBacklog()).files === 0) break;
        await sleep(10);
      }
      const inRadacct = performance.now();
      const open = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM radacct WHERE tenant_id = $1 AND acctsessionid LIKE 'storm-%' AND acctstoptime IS NULL`,
        [seed.tenantId],
      );
      const noConnection = fr
        .output()
        .filter((l) => /no connections|Failed to reserve|Connection failed/i.test(l)).length;
      const report = {
        date: new Date().toISOString().slice(0, 10),
        source: sourceVersion(path.join(resolveFreeRadiusSourceDir(), '..')),
        load,
        loadAtEnd: os.loadavg().map((l) => round(l, 2)),
        users: USERS,
        spreadMs: SPREAD_MS,
        accountingConnections: ACCT_CONNECTIONS,
        plan: PLAN,
        ...out,
        rejectReasons: Object.fromEntries(rejectSamples),
        lastAcceptMs: round(lastAccept - t0),
        allOnlineMs: round(lastStart - t0),
        allStartsInRadacctMs: round(inRadacct - t0),
        openSessionsInRadacct: open.rows[0]!.n,
        freeradiusNoConnectionLines: noConnection,
      };
      const md = [
        `# Reconnect storm (${report.date})`,
        '',
        `Source ${report.source}; ${os.cpus().length} CPUs shared with other work, load average ${load.join(' ')} at the start, ${report.loadAtEnd.join(' ')} at the end.`,
        `${USERS} subscribers log in and send Accounting-Start, spread over ${SPREAD_MS} ms; 3 tries (3 s, 3 s, 4 s) per request. Goal: all online within 10 s, no reject that is not policy, no timeout. Live accounting's pool: ${ACCT_CONNECTIONS} connections.`,
        '',
        '| figure | value |',
        '|---|---:|',
        `| Access-Accept | ${out.accepts} |`,
        `| Access-Reject | ${out.rejects} |`,
        `| auth timeouts (3 tries) | ${out.authTimeouts} |`,
        `| Accounting-Start answered | ${out.startsAnswered} |`,
        `| accounting timeouts | ${out.acctTimeouts} |`,
        `| requests retransmitted: Access-Request / Accounting-Request | ${out.authRetransmitted} / ${out.acctRetransmitted} |`,
        `| last Access-Accept after | ${report.lastAcceptMs} ms |`,
        `| all online (last Start answered) after | ${report.allOnlineMs} ms |`,
        `| every Start in radacct after | ${report.allStartsInRadacctMs} ms |`,
        `| open storm sessions in radacct | ${report.openSessionsInRadacct} |`,
        `| FreeRADIUS log lines about missing SQL connections (each such Start was spooled) | ${noConnection} |`,
        '',
        `Reject reasons: ${JSON.stringify(report.rejectReasons)}`,
        '',
      ].join('\n');
      const files = await writeResultFiles(
        path.join(resolveFreeRadiusSourceDir(), '..', 'bench', 'results'),
        'storm',
        report.date,
        report,
        md,
      );
      process.stdout.write(`${md}\n${files.md}\n`);
    } finally {
      await auth.close();
      await acct.close();
      await fr.stop();
    }
  } finally {
    await db.end().catch(() => undefined);
    await rm(spool, { recursive: true, force: true });
    if (!process.env.BENCH_KEEP_DB) await dropDatabases(admin, dbs.names);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
