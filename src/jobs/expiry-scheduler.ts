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
 * backoff. The periodic sweep (checks.ts runSweep) remains the safety net.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { runExpiryWindow, type CheckOptions } from './checks';
import { retryDelay } from './retry-delay';

export interface ExpirySchedulerOptions extends CheckOptions {
  /** Re-check at least this often. Default 60 s. */
  maxSleepMs?: number;
  /** Called when actions were queued (wake the sender). */
  onEnqueued?: (count: number) => void;
}

export class ExpiryScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private readonly log: Logger;
  /** The instant the timer is armed for (for tests and logs). */
  armedFor: Date | null = null;
  runs = 0;

  constructor(
    private readonly db: Knex,
    logger: Logger,
    private readonly opts: ExpirySchedulerOptions = {},
  ) {
    this.log = logger.child({ module: 'expiry-scheduler' });
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
    if (this.timer) clearTimeout(this.timer);
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.trigger();
    }, Math.max(0, delayMs));
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
