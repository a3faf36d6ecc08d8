/**
 * Active sessions over time (src/jobs/samples.ts, reports.session_samples): the worker's samples
 * count the open sessions of every NAS at the start of a slot (an idle NAS is a 0), sampling a
 * slot twice writes it once, old samples are removed; the sessions-history report and a report
 * role see only their tenant's samples; a real worker writes them.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { Client } from 'pg';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { createTestDatabase, withRole, type TestDatabase } from '../helpers/db';
import { addNas, FAST, openSession, silent } from './enforcement-fixtures';
import { sampleSessions } from '../../src/jobs/samples';
import { startWorker } from '../../src/jobs/worker';
import { createReportRole, dropReportRole } from '../../src/modules/reports/report-roles';

let tdb: TestDatabase;
let api: TestApi;
let a: TestTenant;
let b: TestTenant;
let a1: string;
let a2: string;
let b1: string;

const OPTS = { everySeconds: 300, retentionDays: 90 };
const id = () => `n-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  a = await api.newTenant();
  b = await api.newTenant();
  await tdb.db('tenants').where({ id: a.id }).update({ time_zone: 'Africa/Nairobi' });
  a1 = await addNas(tdb.db, a.id, '127.0.0.1', 's-a1', 3799, { identifier: id() });
  a2 = await addNas(tdb.db, a.id, '127.0.0.2', 's-a2', 3799, { identifier: id() });
  b1 = await addNas(tdb.db, b.id, '127.0.0.3', 's-b1', 3799, { identifier: id() });
  // a1: three open sessions of two users and a closed one; a2 idle; b1: one open session.
  await openSession(tdb.db, { tenantId: a.id, nasId: a1, username: 'ann' });
  await openSession(tdb.db, { tenantId: a.id, nasId: a1, username: 'ann' });
  await openSession(tdb.db, { tenantId: a.id, nasId: a1, username: 'bo' });
  const closed = await openSession(tdb.db, { tenantId: a.id, nasId: a1, username: 'cy' });
  await tdb.db('radacct').where({ radacctid: closed.id }).update({ acctstoptime: new Date() });
  await openSession(tdb.db, { tenantId: b.id, nasId: b1, username: 'bea' });
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

const rowsAt = async (at: Date) =>
  (await tdb.db('session_samples').where({ sampled_at: at }).orderBy('active_sessions', 'desc')).map((r) => ({
    tenant: r.tenant_id,
    nas: r.nas_id,
    sessions: r.active_sessions,
    users: r.active_users,
  }));

describe('sampling', () => {
  const at = new Date('2026-12-01T09:03:17Z');
  const slot = new Date('2026-12-01T09:00:00Z');

  it('counts open sessions and users per NAS at the start of the slot, 0 for an idle NAS', async () => {
    const r = await sampleSessions(tdb.db, OPTS, at);
    expect(r.sampledAt).toEqual(slot);
    expect(r.written).toBe(3);
    expect(await rowsAt(slot)).toEqual([
      { tenant: a.id, nas: a1, sessions: 3, users: 2 },
      { tenant: b.id, nas: b1, sessions: 1, users: 1 },
      { tenant: a.id, nas: a2, sessions: 0, users: 0 },
    ]);
  });

  it('writes a slot once when sampled again (another worker, a retry)', async () => {
    await openSession(tdb.db, { tenantId: b.id, nasId: b1, username: 'ben' });
    const r = await sampleSessions(tdb.db, OPTS, new Date('2026-12-01T09:04:59Z'));
    expect(r.written).toBe(0);
    expect((await rowsAt(slot)).find((x) => x.nas === b1)?.sessions).toBe(1);
    // The next slot sees the new session.
    await sampleSessions(tdb.db, OPTS, new Date('2026-12-01T09:05:00Z'));
    expect((await rowsAt(new Date('2026-12-01T09:05:00Z'))).find((x) => x.nas === b1)?.sessions).toBe(2);
  });

  it('removes samples older than the retention, keeps the rest', async () => {
    const old = new Date('2026-09-01T09:00:00Z');
    const kept = new Date('2026-09-03T09:00:00Z');
    for (const sampled_at of [old, kept])
      await tdb
        .db('session_samples')
        .insert({ tenant_id: a.id, nas_id: a2, sampled_at, active_sessions: 0, active_users: 0 });
    const r = await sampleSessions(tdb.db, OPTS, new Date('2026-12-01T09:10:00Z'));
    expect(r.removed).toBe(1);
    expect(await rowsAt(old)).toEqual([]);
    expect(await rowsAt(kept)).toHaveLength(1);
  });

  it('refuses a slot or retention that is not a positive integer', async () => {
    await expect(sampleSessions(tdb.db, { everySeconds: 0, retentionDays: 1 }, at)).rejects.toThrow(/everySeconds/);
    await expect(sampleSessions(tdb.db, { everySeconds: 60, retentionDays: 0.5 }, at)).rejects.toThrow(/retentionDays/);
  });
});

describe('the sessions-history report', () => {
  const get = (t: TestTenant, query: Record<string, string>) =>
    request(api.app).get('/api/v1/reports/sessions-history').query(query).set(t.auth);

  it("sums a tenant's NAS per sample, in its days, and never shows another tenant's", async () => {
    const res = await get(a, { from: '2026-12-01', to: '2026-12-01' });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { at: '2026-12-01T09:00:00.000Z', active_sessions: 3, active_users: 2 },
      { at: '2026-12-01T09:05:00.000Z', active_sessions: 3, active_users: 2 },
      { at: '2026-12-01T09:10:00.000Z', active_sessions: 3, active_users: 2 },
    ]);
    const perNas = await get(b, { from: '2026-12-01', to: '2026-12-01', groupBy: 'nas_sample' });
    expect(perNas.status).toBe(200);
    expect(perNas.body.rows.map((r: { nas_id: string }) => r.nas_id)).toEqual([b1, b1, b1]);
    expect(perNas.body.rows.map((r: { active_sessions: number }) => r.active_sessions)).toEqual([1, 2, 2]);
  });

  it('filters one NAS, and bounds the range to the days asked for', async () => {
    const res = await get(a, { from: '2026-12-01', to: '2026-12-01', groupBy: 'nas_sample', nasId: a2 });
    expect(res.body.rows.map((r: { active_sessions: number }) => r.active_sessions)).toEqual([0, 0, 0]);
    const none = await get(a, { from: '2026-11-28', to: '2026-11-30' });
    expect(none.body.rows).toEqual([]);
    expect((await get(a, { from: '2026-12-02', to: '2026-12-01' })).status).toBe(400);
  });

  it("a report role reads only its tenant's samples, even with hand-written SQL", async () => {
    const role = await createReportRole(tdb.db, { tenant: a.slug });
    const c = new Client({ connectionString: withRole(tdb.url, { name: role.role, password: role.password }) });
    await c.connect();
    try {
      const r = await c.query('SELECT DISTINCT tenant_id FROM session_samples');
      expect(r.rows).toEqual([{ tenant_id: a.id }]);
      await expect(c.query('SELECT count(*) FROM public.session_samples')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await c.end();
      await dropReportRole(tdb.db, role.role);
    }
  });
});

describe('the worker', () => {
  it('samples open sessions as it starts, with the application role', async () => {
    await tdb.db('session_samples').del();
    const worker = startWorker({
      db: tdb.appDb,
      databaseUrl: tdb.appUrl,
      logger: silent,
      options: { ...FAST, sampleSeconds: 60 },
      heartbeatMs: 0,
    });
    try {
      for (let i = 0; i < 200; i++) {
        const n = Number((await tdb.db('session_samples').count('* as n'))[0]!.n);
        if (n >= 3) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const rows = await tdb.db('session_samples').select('nas_id', 'active_sessions', 'sampled_at');
      expect(rows.map((r) => [r.nas_id, r.active_sessions]).sort()).toEqual(
        [
          [a1, 3],
          [a2, 0],
          [b1, 2],
        ].sort(),
      );
      expect(new Date(rows[0]!.sampled_at).getTime() % 60000).toBe(0);
    } finally {
      await worker.stop();
    }
  });
});
