/**
 * `lango worker`: the enforcement loops, wired together.
 *
 *   sender           claims and sends outbox rows (sender.ts), woken by NOTIFY 'outbox'
 *   expiry           a timer at the next subscription end (expiry.ts), re-armed by
 *                    NOTIFY 'schedule'
 *   sweep            safety net over all open sessions (sweep.ts)
 *   quota            data quota from interim updates (quota.ts)
 *   stale            closes sessions without updates for k x interim (stale.ts)
 *   payments-*       STK settlement by query, the SMS outbox, reminders (payments.ts)
 *   heartbeat        the row /readyz reads (src/db/heartbeats.ts)
 *   samples          open sessions per NAS every few minutes, for the charts (samples.ts)
 *   partitions       radacct's monthly partitions made ahead, daily (db/radacct-partitions.ts)
 *   login-log        radpostauth rows past their retention removed, hourly (login-log.ts)
 *
 * Every loop takes the worker's Clock (lib/clock.ts) for its timers.
 *
 * Any number of workers may run against one database: the sender's claims never overlap, and
 * each timed check runs in one worker at a time (advisory locks). Everything survives a Postgres
 * restart: the loops retry with backoff, the LISTEN connection reconnects and then re-checks.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { DynAuthClient, DEFAULT_DYNAUTH_SCHEDULE, type DynAuthSchedule } from '../radius/dynauth-client';
import { TargetGuard, type TargetPolicy } from '../config/networks';
import { systemClock, type Clock } from '../lib/clock';
import { ENFORCEMENT_CHANNEL } from '../modules/enforcement/contract';
import { ExpiryScheduler } from './expiry';
import { listen, type Listener } from './listener';
import { Periodic } from './periodic';
import { runQuotaCheck } from './quota';
import { pruneLoginLog } from './login-log';
import { closeStaleSessions } from './stale';
import { sampleSessions } from './samples';
import { runSweep } from './sweep';
import { EnforcementSender, type RouterOsKickFn, type SenderOptions } from './sender';
import { startPaymentLoops, type PaymentLoopsOptions } from './payments';
import { beat, forgetHeartbeat, heartbeatInstance } from '../db/heartbeats';
import { createRadacctPartitions } from '../db/radacct-partitions';

export interface WorkerOptions {
  /** Where CoA/Disconnect and the RouterOS fallback may go (config.enforcementTargets). */
  targets: TargetPolicy;
  sender?: SenderOptions;
  /** CoA/Disconnect retransmission schedule (seconds). Default FreeRADIUS's: irt 2, mrt 16, mrc 5, mrd 30. */
  schedule?: DynAuthSchedule;
  /** Safety sweep period. Default 30 s. For this and the next two, 0 turns the check off. */
  sweepMs?: number;
  /** Quota check period. Default 15 s (interim updates come every 60 s or more). */
  quotaMs?: number;
  /** Stale-session check period. Default 60 s. */
  staleMs?: number;
  /** k in "no update for k x interim interval". Default 3. */
  staleFactor?: number;
  /** Expiry timer re-check at least this often. Default 60 s. */
  expiryMaxSleepMs?: number;
  /** A session whose action ended in timeout/failed may be queued again after this. Default 600 s. */
  requeueAfterSeconds?: number;
  /** Source address for CoA/Disconnect (NAS pick the secret by it). */
  bindAddress?: string;
  /** Active-session sampling slot (samples.ts), seconds. Default 300; 0 turns sampling off. */
  sampleSeconds?: number;
  /** Session samples are kept this many days. Default 90. */
  sampleRetentionDays?: number;
  /** How often radacct's future monthly partitions are made. Default daily; 0 turns it off. */
  partitionMs?: number;
  /** Months ahead of the current one that must have a partition. Default 3. */
  partitionAhead?: number;
  /** radpostauth rows are kept this many days. Default 90; 0 keeps them for ever. */
  postauthRetentionDays?: number;
  /** How often the login log's retention runs. Default hourly; 0 turns it off. */
  loginLogMs?: number;
}

export interface Worker {
  readonly sender: EnforcementSender;
  readonly scheduler: ExpiryScheduler;
  readonly dynauth: DynAuthClient;
  /** Resolves when the LISTEN connection is up (first attempt done). */
  readonly ready: Promise<void>;
  /** Resolves when the first heartbeat is written (or failed to be, which is logged). */
  readonly firstHeartbeat: Promise<void>;
  stop(): Promise<void>;
}

export function startWorker(deps: {
  db: Knex;
  databaseUrl: string;
  logger: Logger;
  routerOsKick?: RouterOsKickFn;
  options: WorkerOptions;
  clock?: Clock;
  payments?: PaymentLoopsOptions;
  /** How often the worker's heartbeat (src/db/heartbeats.ts, read by /readyz) is written; 0: never. Default 10 s. */
  heartbeatMs?: number;
}): Worker {
  const { db, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const o = deps.options;
  const log = logger.child({ module: 'worker' });
  const dynauth = new DynAuthClient({
    schedule: o.schedule ?? DEFAULT_DYNAUTH_SCHEDULE,
    logger: logger.child({ module: 'dynauth' }),
    ...(o.bindAddress ? { bindAddress: o.bindAddress } : {}),
  });
  // Outbox leases must outlive the longest send: the whole retransmission schedule and the fallback.
  const schedule = o.schedule ?? DEFAULT_DYNAUTH_SCHEDULE;
  const sendSeconds = schedule.mrd > 0 ? schedule.mrd : schedule.irt * 2 ** (schedule.mrc + 1);
  const fallbackSeconds = (o.sender?.fallbackTimeoutMs ?? 15_000) / 1000;
  const leaseSeconds = o.sender?.leaseSeconds ?? Math.max(60, Math.ceil((sendSeconds + fallbackSeconds) * 2));
  const sender = new EnforcementSender(
    db,
    dynauth,
    logger,
    new TargetGuard(o.targets),
    { ...o.sender, leaseSeconds },
    deps.routerOsKick,
    clock,
  );
  const checks = { requeueAfterSeconds: o.requeueAfterSeconds ?? 600 };
  const wake = (): void => sender.wake();
  const scheduler = new ExpiryScheduler(db, logger, {
    ...checks,
    maxSleepMs: o.expiryMaxSleepMs ?? 60_000,
    onEnqueued: wake,
    clock,
  });

  const sweep = new Periodic(
    'sweep',
    o.sweepMs ?? 30_000,
    async () => {
      const r = await runSweep(db, checks);
      if (r.enqueued > 0) {
        log.info({ count: r.enqueued }, 'sweep queued actions');
        wake();
      }
    },
    log,
    clock,
  );
  const quota = new Periodic(
    'quota',
    o.quotaMs ?? 15_000,
    async () => {
      const r = await runQuotaCheck(db, checks);
      if (r.enqueued > 0) {
        log.info({ count: r.enqueued }, 'quota check queued actions');
        wake();
      }
    },
    log,
    clock,
  );
  const stale = new Periodic(
    'stale',
    o.staleMs ?? 60_000,
    async () => {
      const r = await closeStaleSessions(db, { factor: o.staleFactor ?? 3 });
      if (r.closed > 0) log.info({ count: r.closed }, 'stale sessions closed');
    },
    log,
    clock,
  );

  const sampleSeconds = o.sampleSeconds ?? 300;
  const samples = new Periodic(
    'samples',
    sampleSeconds * 1000,
    async () => {
      await sampleSessions(
        db,
        { everySeconds: sampleSeconds, retentionDays: o.sampleRetentionDays ?? 90 },
        clock.date(),
      );
    },
    log,
    clock,
  );

  const partitions = new Periodic(
    'partitions',
    o.partitionMs ?? 86_400_000,
    async () => {
      const created = await createRadacctPartitions(db, o.partitionAhead ?? 3);
      if (created.length > 0) log.info({ created }, 'radacct partitions created');
    },
    log,
    clock,
  );

  const postauthRetentionDays = o.postauthRetentionDays ?? 90;
  const loginLogMs = o.loginLogMs ?? 3_600_000;
  const loginLog = new Periodic(
    'login-log',
    loginLogMs,
    async () => {
      const r = await pruneLoginLog(db, { retentionDays: postauthRetentionDays });
      if (r.removed > 0) log.info({ count: r.removed }, 'login log rows past retention removed');
    },
    log,
    clock,
  );

  // The heartbeat /readyz reads: written while this worker's loops run, removed when it stops.
  const instance = heartbeatInstance();
  const heartbeatMs = deps.heartbeatMs ?? 10_000;
  const heartbeat = new Periodic('heartbeat', heartbeatMs, () => beat(db, 'worker', instance), log, clock);

  const listener: Listener = listen(
    deps.databaseUrl,
    ENFORCEMENT_CHANNEL,
    {
      onNotify: (payload) => {
        if (payload === 'schedule') scheduler.trigger();
        else sender.wake();
      },
      onReconnect: () => {
        sender.wake();
        scheduler.trigger();
      },
    },
    logger,
  );

  sender.start();
  scheduler.start();
  if (o.sweepMs !== 0) sweep.start(1000);
  if (o.quotaMs !== 0) quota.start(2000);
  if (o.staleMs !== 0) stale.start(3000);
  if (sampleSeconds !== 0) samples.start(500);
  if (o.partitionMs !== 0) partitions.start(4000);
  if (loginLogMs !== 0 && postauthRetentionDays !== 0) loginLog.start(Math.min(5000, loginLogMs));
  // The first beat is written before the worker counts as started (buildWorker awaits it), so
  // `lango up` and a supervisor see /readyz ready as soon as the worker is.
  let stopping = false;
  const firstHeartbeat =
    heartbeatMs === 0
      ? Promise.resolve()
      : beat(db, 'worker', instance)
          .catch((err: unknown) => log.warn({ err }, 'could not write the first worker heartbeat'))
          .then(() => {
            if (!stopping) heartbeat.start(heartbeatMs);
          });
  const payments = deps.payments ? startPaymentLoops(deps.payments, log, clock) : undefined;
  log.info({ worker: sender.workerId, leaseSeconds }, 'worker started');

  return {
    sender,
    scheduler,
    dynauth,
    ready: listener.ready,
    firstHeartbeat,
    async stop() {
      stopping = true;
      await firstHeartbeat;
      await Promise.all([
        scheduler.stop(),
        sweep.stop(),
        quota.stop(),
        stale.stop(),
        samples.stop(),
        partitions.stop(),
        loginLog.stop(),
        heartbeat.stop(),
        listener.close(),
        payments?.stop(),
      ]);
      if (heartbeatMs !== 0)
        await forgetHeartbeat(db, 'worker', instance).catch((err: unknown) =>
          log.warn({ err }, 'could not remove the worker heartbeat'),
        );
      await sender.stop();
      await dynauth.close();
      log.info({ worker: sender.workerId, stats: sender.stats }, 'worker stopped');
    },
  };
}
