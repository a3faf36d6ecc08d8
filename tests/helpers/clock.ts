/** A clock that moves only when a test says so (src/lib/clock.ts). */
import type { Clock, Timer } from '../../src/lib/clock';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  date(): Date {
    return new Date(this.t);
  }

  setTimer(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(p);
    return { cancel: () => void (this.pending = this.pending.filter((x) => x !== p)) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ms, resolve));
  }

  /** Delays of the timers waiting now, from now, soonest first. */
  timers(): number[] {
    return this.pending.map((p) => p.at - this.t).sort((a, b) => a - b);
  }

  /**
   * Moves time forward by `ms`, firing each timer that comes due in order, and letting the
   * promise callbacks it starts run before the next one (what real time would allow).
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise callbacks (and a few rounds of the ones they start) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
