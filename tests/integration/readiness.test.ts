/**
 * /readyz (src/http/app.ts, src/db/heartbeats.ts): the database, a fresh heartbeat of a running
 * worker and of `lango radius` (FreeRADIUS answering its status probe); a missing or stale one is
 * a 503 that says why in its JSON. A real worker and a real FreeRADIUS write the beats.
 */
import path from 'node:path';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { testConfig, testServices, ANY_TARGET } from '../helpers/api';
import { TEST_FREERADIUS_STATE_DIR } from '../helpers/freeradius';
import { createApp } from '../../src/http/app';
import { apiReadiness, appConfig, buildRadius } from '../../src/main';
import { createLogger } from '../../src/logger';
import { startWorker, type Worker } from '../../src/jobs/worker';

let tdb: TestDatabase;
let app: ReturnType<typeof createApp>['app'];
const MAX_AGE = 4;

beforeAll(async () => {
  tdb = await createTestDatabase();
  const config = testConfig({ LANGO_HEARTBEAT_SECONDS: '1', LANGO_READY_HEARTBEAT_MAX_AGE_SECONDS: String(MAX_AGE) });
  app = createApp({
    db: tdb.appDb,
    services: testServices(tdb.appDb),
    config: appConfig(config),
    logger: createLogger('silent'),
    readiness: apiReadiness(tdb.appDb, config),
  }).app;
});
afterAll(async () => {
  await tdb.drop();
});

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const beats = async (kind: string) =>
  Number((await tdb.db('process_heartbeats').where({ kind }).count('* as n'))[0]!.n);

describe('/readyz', () => {
  it('without a worker or FreeRADIUS: 503, saying which and why', async () => {
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('NOT_READY');
    expect(res.body.error.details.checks).toEqual({ database: 'up', worker: 'down', radius: 'down' });
    expect(res.body.error.details.reasons).toEqual({
      worker: 'no worker heartbeat: is lango worker running?',
      radius: 'no radius heartbeat: is lango radius running?',
    });
  });

  describe('with a running worker and lango radius', () => {
    let worker: Worker;
    let stopped = false;
    let radius: ReturnType<typeof buildRadius>;
    beforeAll(async () => {
      worker = startWorker({
        db: tdb.appDb,
        databaseUrl: tdb.appUrl,
        logger: createLogger('silent'),
        options: { targets: ANY_TARGET, sweepMs: 0, quotaMs: 0, staleMs: 0 },
        heartbeatMs: 1000,
      });
      radius = buildRadius(
        testConfig({
          DATABASE_URL: tdb.appUrl,
          LANGO_RADIUS_DATABASE_URL: tdb.radiusUrl,
          LANGO_RADIUS_AUTH_PORT: '0',
          LANGO_RADIUS_ACCT_PORT: '0',
          LANGO_RADIUS_LISTEN: '127.0.0.1',
          LANGO_STATE_DIR: path.join(TEST_FREERADIUS_STATE_DIR, `readiness-${process.pid}`),
          LANGO_FREERADIUS_BIN: process.env.LANGO_FREERADIUS_BIN ?? 'freeradius',
          LANGO_HEARTBEAT_SECONDS: '1',
          LANGO_READY_HEARTBEAT_MAX_AGE_SECONDS: String(MAX_AGE),
        }),
        { logger: createLogger('silent'), debug: false },
      );
      await radius.start();
      await until('both heartbeats', async () => (await beats('worker')) === 1 && (await beats('radius')) === 1);
    });
    afterAll(async () => {
      if (!stopped) await worker?.stop();
      await radius?.stop();
    });

    it('is ready', async () => {
      const res = await request(app).get('/readyz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready', checks: { database: 'up', worker: 'up', radius: 'up' } });
    });

    it('a stale worker heartbeat (its loops stuck) is a 503 naming its age', async () => {
      // The worker beats every second: its last beat made 10 minutes old stands for a stuck loop
      // until its next beat (the next test).
      await tdb
        .db('process_heartbeats')
        .where({ kind: 'worker' })
        .update({ beat_at: tdb.db.raw(`now() - interval '10 minutes'`) });
      const res = await request(app).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.error.details.checks).toEqual({ database: 'up', worker: 'down', radius: 'up' });
      expect(res.body.error.details.reasons.worker).toMatch(
        new RegExp(`^worker heartbeat is stale: last at \\S+Z, 600 s ago \\(allowed ${MAX_AGE} s\\)$`),
      );
    });

    it('is ready again once the worker beats', async () => {
      await until('a fresh beat', async () => (await request(app).get('/readyz')).status === 200);
    });

    it('FreeRADIUS stopped: its heartbeat goes stale and readyz says so', async () => {
      await radius.stop();
      await until('radius down', async () => (await request(app).get('/readyz')).status === 503);
      const res = await request(app).get('/readyz');
      expect(res.body.error.details.checks.radius).toBe('down');
      expect(res.body.error.details.reasons.radius).toMatch(/^radius heartbeat is stale/);
    });

    it('a stopped worker removes its heartbeat: "no worker heartbeat" at once', async () => {
      expect(await beats('worker')).toBe(1);
      await worker.stop();
      stopped = true;
      expect(await beats('worker')).toBe(0);
      const res = await request(app).get('/readyz');
      expect(res.body.error.details.reasons.worker).toBe('no worker heartbeat: is lango worker running?');
    });
  });
});
