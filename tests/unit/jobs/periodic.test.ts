import { Periodic } from '../../../src/jobs/periodic';
import { createLogger } from '../../../src/logger';
import { retryDelay } from '../../../src/lib/retry-delay';
import { FakeClock } from '../../helpers/clock';

const log = createLogger('silent');

describe('Periodic (on an injected clock, no sleeps)', () => {
  it('runs after the initial delay, then every period measured from the end of a run', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    let release: () => void = () => undefined;
    const p = new Periodic(
      'job',
      1000,
      async () => {
        starts.push(clock.now());
        await new Promise<void>((r) => (release = r));
      },
      log,
      clock,
    );
    const t0 = clock.now();
    p.start(500);
    await clock.advance(499);
    expect(starts).toEqual([]);
    await clock.advance(1);
    expect(starts).toEqual([t0 + 500]);
    // Still running: no second run however long it takes.
    await clock.advance(5000);
    expect(starts).toHaveLength(1);
    release();
    await clock.advance(999);
    expect(starts).toHaveLength(1);
    await clock.advance(1);
    expect(starts).toEqual([t0 + 500, t0 + 6500]);
    release();
    await p.stop();
    expect(clock.timers()).toEqual([]);
  });

  it('retries a failed run with the backoff of lib/retry-delay (capped at the period), then returns to the period', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    let failures = 3;
    const p = new Periodic(
      'job',
      1000,
      async () => {
        at.push(clock.now());
        if (failures-- > 0) throw new Error('database restarting');
      },
      log,
      clock,
    );
    const t0 = clock.now();
    p.start(0);
    await clock.advance(10_000);
    await p.stop();
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(at[0]).toBe(t0);
    expect(gaps.slice(0, 4)).toEqual([
      retryDelay(1, { capMs: 1000 }),
      retryDelay(2, { capMs: 1000 }),
      retryDelay(3, { capMs: 1000 }),
      1000,
    ]);
    expect(gaps.slice(0, 3)).toEqual([200, 400, 800]);
    expect(p.runs).toBe(at.length);
  });

  it('stop() cancels the next run and waits for the one in progress', async () => {
    const clock = new FakeClock();
    let finished = false;
    let release: () => void = () => undefined;
    const p = new Periodic(
      'job',
      1000,
      async () => {
        await new Promise<void>((r) => (release = r));
        finished = true;
      },
      log,
      clock,
    );
    p.start(0);
    await clock.advance(0);
    const stopped = p.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await clock.advance(0);
    expect(done).toBe(false);
    release();
    await stopped;
    expect(finished).toBe(true);
    await clock.advance(10_000);
    expect(p.runs).toBe(1);
  });
});
