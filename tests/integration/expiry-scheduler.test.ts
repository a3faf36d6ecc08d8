/** The expiry scheduler's timer, on a fake clock: armed for the next subscription end, never later than maxSleepMs. */
import request from 'supertest';
import { createTestApi, suffix, TestApi } from '../helpers/api';
import { ExpiryScheduler } from '../../src/jobs/expiry';
import { createLogger } from '../../src/logger';
import { FakeClock, settle } from '../helpers/clock';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

/** Waits (in real time, bounded) for the scheduler's database round trip. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error('condition not reached');
  await settle();
}

it('arms one timer for the next end (database time), re-arms at maxSleepMs, and stop() cancels it', async () => {
  const t = await api.newTenant();
  const plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: `H ${suffix()}`, durationSeconds: 3600 })
  ).body;
  await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ username: `u-${suffix()}`, password: 'pw', planId: plan.id });
  const clock = new FakeClock();
  const s = new ExpiryScheduler(api.db, createLogger('silent'), { clock, maxSleepMs: 7_200_000 });
  s.start();
  await until(() => s.runs === 1 && clock.timers().length === 1);
  const [delay] = clock.timers();
  expect(s.armedFor).not.toBeNull();
  // About an hour (the period just sold), on the database's clock: never the fake one's.
  expect(delay).toBeGreaterThan(3_500_000);
  expect(delay).toBeLessThanOrEqual(3_600_001);

  // A shorter maximum sleep wins over a far end.
  const short = new ExpiryScheduler(api.db, createLogger('silent'), { clock: new FakeClock(), maxSleepMs: 60_000 });
  const shortClock = (short as unknown as { clock: FakeClock }).clock;
  short.start();
  await until(() => short.runs === 1 && shortClock.timers().length === 1);
  expect(shortClock.timers()).toEqual([60_000]);
  expect(short.armedFor).toBeNull();
  await shortClock.advance(60_000);
  await until(() => short.runs === 2 && shortClock.timers().length === 1);
  expect(shortClock.timers()).toEqual([60_000]);

  await s.stop();
  await short.stop();
  expect(clock.timers()).toEqual([]);
  expect(shortClock.timers()).toEqual([]);
});
