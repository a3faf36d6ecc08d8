import { backoffSchedule, fixedSchedule } from '../../../src/radius/backoff';
import { IdentifierAllocator } from '../../../src/radius/id-allocator';

describe('backoffSchedule (RFC 5080 §2.2.1)', () => {
  const noJitter = (): number => 0.5;

  it('doubles from IRT, caps at MRT, stops at MRD (FreeRADIUS CoA defaults irt 2 mrt 16 mrc 5 mrd 30)', () => {
    // 2 + 4 + 8 = 14 s; the next 16 s wait ends exactly at MRD 30.
    expect(backoffSchedule({ irt: 2, mrt: 16, mrc: 5, mrd: 30, random: noJitter })).toEqual([2000, 4000, 8000, 16000]);
  });

  it('is bounded by MRC (transmissions = MRC + 1) without MRD', () => {
    expect(backoffSchedule({ irt: 1, mrt: 4, mrc: 4, mrd: 0, random: noJitter })).toEqual([
      1000, 2000, 4000, 4000, 4000,
    ]);
  });

  it('shortens the wait that would cross MRD', () => {
    expect(backoffSchedule({ irt: 2, mrt: 0, mrc: 0, mrd: 10, random: noJitter })).toEqual([2000, 4000, 4000]);
  });

  it('applies RAND in [-0.1, 0.1] deterministically from the injected source', () => {
    expect(backoffSchedule({ irt: 2, mrt: 16, mrc: 1, mrd: 0, random: () => 0 })).toEqual([1800, 3420]); // 1.8, then 2*1.8 - 0.1*1.8
    expect(backoffSchedule({ irt: 2, mrt: 16, mrc: 1, mrd: 0, random: () => 1 })).toEqual([2200, 4620]); // 2.2, then 2*2.2 + 0.1*2.2
    for (let i = 0; i < 200; i++) {
      const jittered = backoffSchedule({ irt: 2, mrt: 16, mrc: 5, mrd: 30 });
      expect(jittered.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30000);
      expect(jittered[0]).toBeGreaterThanOrEqual(1800);
      expect(jittered[0]).toBeLessThanOrEqual(2200);
      expect(jittered.every((d) => d > 0)).toBe(true);
    }
  });

  it('rejects unbounded or invalid settings', () => {
    expect(() => backoffSchedule({ irt: 2, mrt: 16, mrc: 0, mrd: 0 })).toThrow(RangeError);
    expect(() => backoffSchedule({ irt: 0, mrt: 16, mrc: 5, mrd: 30 })).toThrow(RangeError);
  });

  it('fixedSchedule = retries + 1 equal waits', () => {
    expect(fixedSchedule(3000, 2)).toEqual([3000, 3000, 3000]);
  });
});

describe('IdentifierAllocator', () => {
  it('hands out 256 distinct ids round-robin, then queues FIFO', async () => {
    const ids = new IdentifierAllocator();
    const got = new Set<number>();
    for (let i = 0; i < 256; i++) got.add(await ids.acquire());
    expect(got.size).toBe(256);
    expect(ids.tryAcquire()).toBeUndefined();
    const order: number[] = [];
    const a = ids.acquire().then((id) => order.push(id));
    const b = ids.acquire().then((id) => order.push(id));
    expect(ids.waiting).toBe(2);
    ids.release(10);
    ids.release(20);
    await Promise.all([a, b]);
    expect(order).toEqual([10, 20]);
    expect(ids.inUse).toBe(256);
  });

  it('does not reuse a freed id immediately while others are free', () => {
    const ids = new IdentifierAllocator();
    const first = ids.tryAcquire();
    expect(first).toBe(0);
    ids.release(0);
    expect(ids.tryAcquire()).toBe(1);
  });

  it('removes aborted waiters and rejects the rest on demand', async () => {
    const ids = new IdentifierAllocator(1);
    ids.tryAcquire();
    const ctl = new AbortController();
    const aborted = ids.acquire(ctl.signal);
    const other = ids.acquire();
    ctl.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(ids.waiting).toBe(1);
    ids.rejectWaiters(new Error('closed'));
    await expect(other).rejects.toThrow('closed');
  });
});
