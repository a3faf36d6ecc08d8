/**
 * Retransmission schedule per RFC 5080 §2.2.1 (the FreeRADIUS irt/mrt/mrc/mrd knobs, in seconds):
 *   RT1 = IRT + RAND*IRT;  RTn = 2*RTprev + RAND*RTprev;  if RT > MRT: RT = MRT + RAND*MRT
 * with RAND uniform in [-0.1, +0.1]. MRC = maximum retransmissions (0 = unlimited),
 * MRD = maximum total duration (0 = unlimited); at least one of them must be set.
 */

export interface BackoffOptions {
  /** Initial retransmission time, seconds (> 0). */
  readonly irt: number;
  /** Maximum retransmission time, seconds (0 = no cap). */
  readonly mrt: number;
  /** Maximum retransmission count (0 = unlimited). */
  readonly mrc: number;
  /** Maximum retransmission duration, seconds (0 = unlimited). */
  readonly mrd: number;
  /** Uniform [0, 1) source; inject `() => 0.5` for jitter-free values. Default Math.random. */
  readonly random?: () => number;
}

/** Hard stop for a schedule bounded only by MRD (keeps a tiny IRT from making huge arrays). */
const MAX_ENTRIES = 1000;

/**
 * Delays in milliseconds: entry i is how long to wait after transmission i+1 before the next
 * retransmission (after the last entry: give up). Length is MRC+1 unless MRD cuts it short; the
 * entry that would cross MRD is shortened to end exactly at MRD.
 */
export function backoffSchedule(opts: BackoffOptions): number[] {
  const { irt, mrt, mrc, mrd } = opts;
  const random = opts.random ?? Math.random;
  if (!(irt > 0)) throw new RangeError('irt must be > 0');
  if (mrt < 0 || mrc < 0 || mrd < 0) throw new RangeError('mrt, mrc and mrd must be >= 0');
  if (mrc === 0 && mrd === 0) throw new RangeError('mrc and mrd cannot both be 0 (unbounded)');
  const rand = (): number => random() * 0.2 - 0.1;
  // Round cumulative times, not each delay, so the sum never drifts past MRD.
  const delays: number[] = [];
  let total = 0;
  let emittedMs = 0;
  let rt = 0;
  const emit = (untilSeconds: number): void => {
    const at = Math.round(untilSeconds * 1000);
    if (at > emittedMs) delays.push(at - emittedMs);
    emittedMs = Math.max(emittedMs, at);
  };
  const transmissions = mrc === 0 ? MAX_ENTRIES : Math.min(mrc + 1, MAX_ENTRIES);
  for (let i = 0; i < transmissions; i++) {
    rt = i === 0 ? irt + rand() * irt : 2 * rt + rand() * rt;
    if (mrt > 0 && rt > mrt) rt = mrt + rand() * mrt;
    if (mrd > 0 && total + rt >= mrd) {
      emit(mrd);
      return delays;
    }
    total += rt;
    emit(total);
  }
  return delays;
}

/** Fixed schedule: `retries` retransmissions, each after `timeoutMs`. */
export function fixedSchedule(timeoutMs: number, retries: number): number[] {
  if (!(timeoutMs > 0) || !Number.isInteger(retries) || retries < 0)
    throw new RangeError('timeoutMs > 0, retries >= 0');
  return new Array<number>(retries + 1).fill(timeoutMs);
}
