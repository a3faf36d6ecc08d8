/**
 * Wakes at the exact moment the next subscription ends, instead of sweeping every few minutes.
 *
 * One timer, armed for the first active subscription end after now (subscriptions_active_ends_
 * idx: the first index entry). When it fires, runExpiryWindow() queues Disconnects for the
 * sessions of every subscriber whose subscription ended since the last run and who is not
 * covered by another one, then re-arms for the next end. Every subscription end arms the timer,
 * not only those of subscribers online when it was armed: a user who logs in a second before
 * their end is caught too, without FreeRADIUS telling Lango about logins. Ends that are not
 * really ends (a renewal continues them) cost one cheap query and queue nothing.
 *
 * Re-armed early by NOTIFY 'schedule' (the API changed a subscription, e.g. a plan change cut
 * the running period) and by `maxSleepMs` at the latest, which also covers subscriptions written
 * by other paths. Runs that overlap are coalesced; errors (Postgres restarting) retry with
 * backoff. The periodic sweep (sweep.ts) remains the safety net.
 *
 * The check itself, runExpiryWindow, is below the scheduler's options.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { withTransaction } from '../db/knex';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import { retryDelay } from '../lib/retry-delay';
import { SOFT_BLOCK_CLASS_RADACCT } from '../modules/enforcement/contract';
import { COVERED, cursor, dbClock, insertDisconnects, setCursor, tryLock, type CheckOptions } from './check-support';

export interface ExpiryResult {
  /** False when another worker held the lock (nothing was done). */
  ran: boolean;
  enqueued: number;
  /** Database time of the check. */
  now: Date;
  /** The next active subscription end after `now` (null: none). */
  next: Date | null;
}

/**
 * Subscription ends since the last run: sessions of subscribers whose subscription ended in
 * (cursor, now] and who are not covered now. Served by subscriptions_active_ends_idx; the work
 * is proportional to the subscriptions that just ended, not to everything online. Returns the
 * next end so the scheduler can sleep until exactly then.
 */
export async function runExpiryWindow(db: Knex, opts: CheckOptions = {}): Promise<ExpiryResult> {
  return withTransaction(db, async (trx) => {
    const now = await dbClock(trx);
    // The next instant something happens to a period: an end (disconnect) or a start (baselines).
    const nextOf = async (): Promise<Date | null> => {
      const r = await trx.raw(
        `SELECT least((SELECT min(ends_at) FROM subscriptions WHERE status = 'active' AND ends_at > ?),
                      (SELECT min(starts_at) FROM subscriptions WHERE status = 'active' AND starts_at > ?)) AS next`,
        [now, now],
      );
      return r.rows[0]?.next ? new Date(r.rows[0].next) : null;
    };
    if (!(await tryLock(trx, 'expiry'))) return { ran: false, enqueued: 0, now, next: await nextOf() };
    const from = await cursor(trx, 'expiry', new Date(now.getTime() - 86_400_000));
    // Periods that began in (cursor, now]: their subscribers' open sessions get baselines, so that
    // a renewal bought ahead counts only what is used after it starts (subscriptions_active_starts_idx).
    await trx.raw(
      `SELECT lango_snapshot_baselines(sb.id) FROM subscriptions sb WHERE sb.status = 'active' AND sb.starts_at > ? AND sb.starts_at <= ?`,
      [from, now],
    );
    const enqueued = await insertDisconnects(
      trx,
      `WITH ended AS (
         SELECT sb.subscriber_id, max(sb.ends_at) AS ended_at
         FROM subscriptions sb
         WHERE sb.status = 'active' AND sb.ends_at > ? AND sb.ends_at <= ?
         GROUP BY sb.subscriber_id
       ), c AS (
         SELECT a.radacctid AS radacct_id, s.id AS subscriber_id,
                CASE WHEN t.expiry_action = 'soft_block' THEN 'soft_block' ELSE 'expired' END AS reason,
                ended.ended_at AS due_at,
                jsonb_build_object('cause', 'expired', 'endedAt', ended.ended_at) AS context
         FROM ended
         JOIN subscribers s ON s.id = ended.subscriber_id AND s.status = 'active'
         JOIN tenants t ON t.id = s.tenant_id
         JOIN radacct a ON a.tenant_id = s.tenant_id AND a.username = s.username AND a.acctstoptime IS NULL
         WHERE NOT ${COVERED('s.id', '?::timestamptz')}
           AND a.class IS DISTINCT FROM ?
       )`,
      [from, now, now, SOFT_BLOCK_CLASS_RADACCT],
      opts,
    );
    await setCursor(trx, 'expiry', now);
    return { ran: true, enqueued, now, next: await nextOf() };
  });
}

export interface ExpirySchedulerOptions extends CheckOptions {
  /** Re-check at least this often. Default 60 s. */
  maxSleepMs?: number;
  /** Called when actions were queued (wake the sender). */
  onEnqueued?: (count: number) => void;
  /** Timers (tests move a fake one). */
  clock?: Clock;
}

export class ExpiryScheduler {
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** The instant the timer is armed for (for tests and logs). */
  armedFor: Date | null = null;
  runs = 0;

  constructor(
    private readonly db: Knex,
    logger: Logger,
    private readonly opts: ExpirySchedulerOptions = {},
  ) {
    this.log = logger.child({ module: 'expiry-scheduler' });
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.trigger();
  }

  /** Run now (coalesced with a run in progress) and re-arm. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer?.cancel();
    this.timer = undefined;
    this.running = this.tick().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger();
      }
    });
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimer(Math.max(0, delayMs), () => {
      this.timer = undefined;
      this.trigger();
    });
  }

  private async tick(): Promise<void> {
    this.runs++;
    const maxSleep = this.opts.maxSleepMs ?? 60_000;
    try {
      const r = await runExpiryWindow(this.db, this.opts);
      this.failures = 0;
      if (r.enqueued > 0) {
        this.log.info({ count: r.enqueued }, 'subscription ends enforced');
        this.opts.onEnqueued?.(r.enqueued);
      }
      // Delay measured on the database clock (the instants are database times); +1 ms so the
      // end is strictly in the past when we look.
      const delay = r.next ? r.next.getTime() - r.now.getTime() + 1 : maxSleep;
      this.armedFor = r.next && delay <= maxSleep ? r.next : null;
      // Another worker holds the lock: it is doing this run; look again shortly.
      this.arm(r.ran ? Math.min(delay, maxSleep) : Math.min(delay, 250));
    } catch (err) {
      this.failures++;
      const wait = retryDelay(this.failures, { capMs: 5000 });
      this.log.warn({ err, retryInMs: wait }, 'expiry check failed');
      this.arm(wait);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }
}
