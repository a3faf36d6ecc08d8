import { NasWindows } from '../../../src/jobs/nas-window';

const NAS = 'nas-1';
const ok = (rttMs: number) => ({ answered: true as const, rttMs, attempts: 1 });

/** Sends one request and gets `sample` back, `n` times, at `now`. */
function answer(w: NasWindows, n: number, sample: Parameters<NasWindows['observe']>[1], now = 0): void {
  for (let i = 0; i < n; i++) {
    w.sent(NAS);
    w.observe(NAS, sample, now);
    w.release(NAS);
  }
}

describe('per-NAS send windows', () => {
  it('starts at the initial window and counts requests in flight against it', () => {
    const w = new NasWindows({ initial: 4 });
    expect(w.room(NAS)).toBe(4);
    w.sent(NAS);
    w.sent(NAS);
    expect(w.room(NAS)).toBe(2);
    expect(w.inflight(NAS)).toBe(2);
    w.release(NAS);
    expect(w.room(NAS)).toBe(3);
  });

  it('grows by one per fast answer in slow start, up to its maximum', () => {
    const w = new NasWindows({ initial: 4, max: 20 });
    answer(w, 4, ok(5));
    expect(w.window(NAS)).toBe(8);
    answer(w, 100, ok(5));
    expect(w.window(NAS)).toBe(20);
  });

  it('stops growing and shrinks while the NAS queues (round trip far above its lowest)', () => {
    const w = new NasWindows({ initial: 10, queueDelayMs: 100 });
    answer(w, 1, ok(5));
    expect(w.window(NAS)).toBe(11);
    answer(w, 30, ok(400));
    expect(w.window(NAS)).toBeLessThan(11);
    // About one less per window's worth of slow answers (30 answers at ~10 in flight: ~3).
    expect(w.window(NAS)).toBeGreaterThanOrEqual(7);
  });

  it('halves on an answer that needed a retransmission, once per round trip, then grows linearly', () => {
    const w = new NasWindows({ initial: 32, max: 64 });
    answer(w, 1, ok(10), 0);
    expect(w.window(NAS)).toBe(33);
    // A burst of retransmitted answers at the same moment is one congestion event.
    answer(w, 5, { answered: true, rttMs: 2100, attempts: 2 }, 1000);
    expect(w.window(NAS)).toBe(16);
    // After a round trip, another one cuts again.
    answer(w, 1, { answered: true, rttMs: 2100, attempts: 2 }, 1100);
    expect(w.window(NAS)).toBe(8);
    // Above the threshold now: one per window's worth of answers, not one per answer.
    answer(w, 8, ok(10), 1200);
    expect(w.window(NAS)).toBe(9);
  });

  it('opens up for a NAS that answers nothing (its actions should reach the fallback soon)', () => {
    const w = new NasWindows({ initial: 8, max: 256 });
    answer(w, 1, { answered: false });
    expect(w.window(NAS)).toBe(16);
    answer(w, 10, { answered: false });
    expect(w.window(NAS)).toBe(256);
  });

  it('forgets an old lowest round trip, so a path that got slower is learnt again', () => {
    const w = new NasWindows({ initial: 4, max: 100, queueDelayMs: 50, minRttWindowMs: 1000 });
    answer(w, 1, ok(5), 0);
    const before = w.window(NAS);
    // 300 ms is queueing compared with 5 ms: no growth while 5 ms is remembered...
    answer(w, 3, ok(300), 500);
    expect(w.window(NAS)).toBeLessThanOrEqual(before);
    // ...and once two windows have passed without it, 300 ms is the new floor and growth resumes.
    answer(w, 1, ok(300), 1500);
    answer(w, 1, ok(300), 2600);
    const settled = w.window(NAS);
    answer(w, 3, ok(300), 2700);
    expect(w.window(NAS)).toBe(settled + 3);
  });

  it('keeps each NAS apart and prunes the idle ones', () => {
    const w = new NasWindows({ initial: 4 });
    answer(w, 4, ok(5), 0);
    expect(w.window(NAS)).toBe(8);
    expect(w.window('other')).toBe(4);
    w.prune(5 * 60_000);
    expect(w.window(NAS)).toBe(8);
    w.prune(11 * 60_000);
    expect(w.window(NAS)).toBe(4);
  });
});
