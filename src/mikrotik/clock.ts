/**
 * The time source of the RouterOS client and simulator: their deadlines, idle and probe timers
 * run on it, so tests drive them with a manual clock instead of sleeping.
 *
 * Deliberately narrow (what these modules call, nothing more), so that a project-wide Clock
 * (src/lib/clock.ts) with at least these three members can be passed in unchanged.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A timer that must not keep the process alive on its own (Node timers only; others are left as they are). */
export function unrefTimer(handle: unknown): void {
  (handle as { unref?: () => void } | null)?.unref?.();
}
