/**
 * The login log's retention (src/jobs/login-log.ts, migration 20261207000100): radpostauth rows
 * older than the retention go, oldest first and in bounded batches, for every tenant; newer rows
 * stay; the daily counts the reports read (auth_daily) do not change; the delete can use the
 * authdate index; a real worker runs it with the application role, and retention 0 keeps all.
 */
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { FAST, silent } from './enforcement-fixtures';
import { pruneLoginLog } from '../../src/jobs/login-log';
import { startWorker } from '../../src/jobs/worker';

let tdb: TestDatabase;
let api: TestApi;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  a = await api.newTenant();
  b = await api.newTenant();
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.db('radpostauth').del();
  await tdb.db('auth_daily').del();
});

/** One login `daysAgo` days ago (the auth_daily trigger counts it, as it counts FreeRADIUS's). */
async function login(tenantId: string, username: string, daysAgo: number, reply = 'Access-Accept'): Promise<void> {
  await tdb.db('radpostauth').insert({
    tenant_id: tenantId,
    username,
    reply,
    authdate: tdb.db.raw(`now() - make_interval(days => ?)`, [daysAgo]),
  });
}

const names = async () => (await tdb.db('radpostauth').orderBy('username').select('username')).map((r) => r.username);
const counted = async () => Number((await tdb.db('auth_daily').sum({ n: 'attempts' }))[0]!.n);

describe('pruneLoginLog', () => {
  it('removes the rows of every tenant past the retention, keeps the rest and the daily counts', async () => {
    await login(a.id, 'a-old', 120);
    await login(a.id, 'a-edge', 91, 'Access-Reject');
    await login(a.id, 'a-kept', 89);
    await login(a.id, 'a-now', 0);
    await login(b.id, 'b-old', 400);
    await login(b.id, 'b-now', 0);
    expect(await counted()).toBe(6);
    expect(await pruneLoginLog(tdb.appDb, { retentionDays: 90 })).toEqual({ removed: 3 });
    expect(await names()).toEqual(['a-kept', 'a-now', 'b-now']);
    expect(await counted()).toBe(6);
    expect(await pruneLoginLog(tdb.appDb, { retentionDays: 90 })).toEqual({ removed: 0 });
  });

  it('works in batches, oldest first, and stops after maxBatches', async () => {
    for (let d = 0; d < 5; d++) await login(a.id, `old-${d}`, 100 + d);
    await login(a.id, 'new', 1);
    expect(await pruneLoginLog(tdb.appDb, { retentionDays: 30, batch: 2, maxBatches: 2 })).toEqual({ removed: 4 });
    // The four oldest went (104..101 days); the youngest of the old ones is left for the next run.
    expect(await names()).toEqual(['new', 'old-0']);
    expect(await pruneLoginLog(tdb.appDb, { retentionDays: 30, batch: 2, maxBatches: 2 })).toEqual({ removed: 1 });
    expect(await names()).toEqual(['new']);
  });

  it('refuses a retention that is not a positive whole number of days', async () => {
    for (const retentionDays of [0, -1, 1.5, Number.NaN])
      await expect(pruneLoginLog(tdb.appDb, { retentionDays })).rejects.toThrow('retentionDays');
  });

  it('finds the old rows through the authdate index, not by reading the table', async () => {
    const plan = await tdb.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL enable_seqscan = off');
      const r = await trx.raw(
        `EXPLAIN SELECT id FROM radpostauth WHERE authdate < now() - make_interval(days => 90)
         ORDER BY authdate LIMIT 5000 FOR UPDATE SKIP LOCKED`,
      );
      return r.rows.map((x: { 'QUERY PLAN': string }) => x['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('radpostauth_authdate_idx');
    const indexes = (
      await tdb.db.raw(`SELECT indexname FROM pg_indexes WHERE tablename = 'radpostauth' ORDER BY 1`)
    ).rows.map((r: { indexname: string }) => r.indexname);
    expect(indexes).not.toContain('radpostauth_tenant_date_idx');
  });
});

describe('the worker', () => {
  /** A worker whose login-log job runs every 100 ms, until 'old' is gone or `waitMs` passed. */
  async function runWorker(postauthRetentionDays: number, waitMs: number): Promise<void> {
    const worker = startWorker({
      db: tdb.appDb,
      databaseUrl: tdb.appUrl,
      logger: silent,
      options: { ...FAST, loginLogMs: 100, postauthRetentionDays },
      heartbeatMs: 0,
    });
    try {
      for (let i = 0; i < waitMs / 50 && (await names()).includes('old'); i++)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      await worker.stop();
    }
  }

  it('removes old logins with the application role', async () => {
    await login(a.id, 'old', 91);
    await login(a.id, 'new', 0);
    await runWorker(90, 5000);
    expect(await names()).toEqual(['new']);
  });

  it('keeps every login when the retention is 0', async () => {
    await login(a.id, 'old', 4000);
    // Five runs' worth of time (it would have run at 100 ms).
    await runWorker(0, 500);
    expect(await names()).toEqual(['old']);
  });
});
