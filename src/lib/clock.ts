/**
 * Time, injected: every time-driven class (periodic jobs, the expiry scheduler, the outbox
 * sender's waits, services that compare with "now") takes a Clock, so tests move time forward
 * instead of sleeping (tests/helpers/clock.ts).
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** `now()` as a Date. */
  date(): Date;
  /** Calls `fn` once after `ms` (never earlier). */
  setTimer(ms: number, fn: () => void): Timer;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  date: () => new Date(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
