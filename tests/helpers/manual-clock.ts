/**
 * A clock that moves only when the test says so: timers set on it fire inside advance(), in
 * due order, so a deadline or an idle timeout is reached exactly and at once, never by
 * sleeping. Satisfies the narrow Clock of src/mikrotik/clock.ts.
 */
import type { Clock } from '../../src/mikrotik/clock';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Map<number, Timer>();
  private nextSeq = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const seq = this.nextSeq++;
    this.timers.set(seq, { at: this.time + Math.max(0, ms), seq, fn });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones set by those timers). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers.values()) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.timers.delete(next.seq);
      this.time = next.at;
      next.fn();
    }
    this.time = target;
  }
}
