import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import { retryDelay } from '../lib/retry-delay';

/**
 * Runs `fn` every `everyMs` (measured from the end of a run, so runs never overlap). A failed
 * run (Postgres restarting, a lost connection) is retried with backoff instead of waiting a
 * whole period, and never stops the loop.
 */
export class Periodic {
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  runs = 0;

  constructor(
    private readonly name: string,
    private readonly everyMs: number,
    private readonly fn: () => Promise<void>,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  start(initialDelayMs = 0): void {
    this.schedule(initialDelayMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = undefined;
      this.running = this.once().finally(() => {
        this.running = undefined;
      });
    });
  }

  private async once(): Promise<void> {
    this.runs++;
    try {
      await this.fn();
      this.failures = 0;
      this.schedule(this.everyMs);
    } catch (err) {
      this.failures++;
      const wait = retryDelay(this.failures, { capMs: this.everyMs });
      this.log.warn({ err, job: this.name, retryInMs: wait }, 'periodic job failed');
      this.schedule(wait);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }
}
