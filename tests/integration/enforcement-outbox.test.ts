/**
 * The outbox cannot be wedged (Hardening issue, items 2 and 14): repeated requests for a session
 * whose action is in flight, every transition that moves a row back to pending, outcomes the
 * database refuses, and the worker's checks racing with an outcome write. Real Postgres, the
 * real worker loop, scripted NAS on loopback.
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { suffix, type TestTenant } from '../helpers/api';
import { claimDue, completeMany, reclaimExpired } from '../../src/modules/enforcement/outbox.repo';
import { getString } from '../../src/radius/codec';
import { runExpiryWindow } from '../../src/jobs/expiry';
import { runQuotaCheck } from '../../src/jobs/quota';
import { runSweep } from '../../src/jobs/sweep';
import * as merge from '../../db/migrations/20261201000301_enforcement_merge_duplicates';
import * as unique from '../../db/migrations/20261201000302_enforcement_unique_live';
import {
  eventually,
  FAST,
  liveSession,
  nas,
  openSession,
  sessionIds,
  subscriber,
  useEnvs,
  worker,
  type Env,
} from './enforcement-fixtures';

jest.setTimeout(90000);

const { env } = useEnvs();

const click = (e: Env, sessionId: number, auth = e.t.auth) =>
  request(e.api.app).post(`/api/v1/sessions/${sessionId}/disconnect`).set(auth).send({});
const row = async (e: Env, id: string) => e.tdb.db('enforcement_actions').where({ id }).first();
const ofSession = (e: Env, radacctId: number) =>
  e.tdb.db('enforcement_actions').where({ radacct_id: radacctId }).orderBy('created_at');
const claimAll = (db: Knex, worker = 'w1', leaseSeconds = 60) => claimDue(db, { worker, limit: 100, leaseSeconds });

/** A second tenant in the same database, with a plan and a subscriber on its own scripted NAS. */
async function secondTenant(e: Env) {
  const t2: TestTenant = await e.api.newTenant();
  const plan = (
    await request(e.api.app)
      .post('/api/v1/plans')
      .set(t2.auth)
      .send({ name: `Daily ${suffix()}`, durationSeconds: 86400 })
  ).body;
  const s = await subscriber(e, undefined, { planId: plan.id }, t2.auth);
  const n = await nas(e, {}, t2.id);
  const session = await openSession(e.tdb.db, { tenantId: t2.id, nasId: n.id, username: s.username });
  return { t2, s, n, session };
}

describe('staff disconnect is idempotent while its action is in flight', () => {
  it("20 clicks at a time for a NAS that does not answer: one action, one timeout; another tenant's due expiry is acked meanwhile", async () => {
    const e = await env();
    const dead = await nas(e);
    dead.nas.answer = 'silent';
    const s = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: dead.id, username: s.username });
    const other = await secondTenant(e);
    // Each attempt: 2 transmissions over ~0.9 s; 2 s before the next attempt.
    const w = worker(e, {
      ...FAST,
      schedule: { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 },
      sender: { retryDelaysMs: [2000], pollMs: 100 },
    });
    await w.ready;
    const burst = async (): Promise<string[]> => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => click(e, a.id)));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(202));
      return answers.map((r) => r.body.id);
    };

    const [id] = await burst();
    await eventually(async () => (await row(e, id!)).status === 'sending', 'the first send');
    expect(new Set(await burst())).toEqual(new Set([id]));
    await eventually(async () => {
      const r = await row(e, id!);
      return r.status === 'pending' && r.attempts === 1;
    }, 'the first timeout, waiting for its retry');
    expect(new Set(await burst())).toEqual(new Set([id]));
    // Every action of this session has come back from the NAS once (the old code had two by now,
    // the second wedging the outcome writer); only then does the other tenant's subscription end.
    await eventually(
      async () => w.sender.stats.retried >= (await ofSession(e, a.id)).length,
      'every attempt to come back',
    );

    await e.tdb
      .db('subscriptions')
      .where({ subscriber_id: other.s.id })
      .update({ ends_at: e.tdb.db.raw('now()') });
    const expiry = await eventually(
      async () => e.tdb.db('enforcement_actions').where({ tenant_id: other.t2.id, reason: 'expired' }).first(),
      'the expiry action',
    );
    const acked = await eventually(async () => {
      const r = await row(e, expiry.id);
      return r.status === 'ack' ? r : undefined;
    }, "the other tenant's ack");
    const done = await eventually(
      async () => {
        const r = await row(e, id!);
        return ['pending', 'sending'].includes(r.status) ? undefined : r;
      },
      'the timeout',
      40000,
    );

    expect(done).toMatchObject({ status: 'timeout', attempts: 3, last_error: 'TIMEOUT' });
    // Answered while the first tenant's action was still being retried.
    expect(new Date(acked.completed_at).getTime()).toBeLessThan(new Date(done.completed_at).getTime());
    expect(sessionIds(other.n.nas)).toEqual([other.session.acctSessionId]);
    expect((await ofSession(e, a.id)).map((r) => r.id)).toEqual([id]);
    expect(dead.nas.received).toHaveLength(6);
    expect(await e.tdb.db('audit_log').where({ tenant_id: e.t.id, action: 'session.disconnect' })).toHaveLength(1);
  });
});

describe('no transition of an action can collide with another one for the same session and reason', () => {
  it.each([
    ['retry after a timeout', true],
    ['release when the lease is about to end', false],
  ])(
    '%s: a click while the Disconnect is being sent answers with it; going back to pending conflicts with nothing',
    async (_name, attempted) => {
      const e = await env();
      const { session: a } = await liveSession(e);
      const first = await click(e, a.id);
      const [claimed] = await claimAll(e.tdb.db);
      expect(claimed?.id).toBe(first.body.id);
      const again = await click(e, a.id);
      expect([again.status, again.body.id, again.body.status]).toEqual([202, first.body.id, 'sending']);
      const r = await completeMany(e.tdb.db, 'w1', [
        { id: first.body.id, status: 'pending', attempted, retryInMs: 0, lastError: 'TIMEOUT' },
      ]);
      expect(r).toEqual({ owned: [first.body.id], rejected: [] });
      expect((await ofSession(e, a.id)).map((x) => [x.id, x.status, x.attempts])).toEqual([
        [first.body.id, 'pending', attempted ? 1 : 0],
      ]);
    },
  );

  it('reclaim of an expired lease: a click meanwhile answers with the action, and the reclaim conflicts with nothing', async () => {
    const e = await env();
    const { session: a } = await liveSession(e);
    const first = await click(e, a.id);
    await claimAll(e.tdb.db, 'dead-worker');
    await e.tdb
      .db('enforcement_actions')
      .where({ id: first.body.id })
      .update({ claimed_until: e.tdb.db.raw(`now() - interval '1 second'`) });
    expect((await click(e, a.id)).body.id).toBe(first.body.id);
    expect(await reclaimExpired(e.tdb.db)).toBe(1);
    expect((await ofSession(e, a.id)).map((x) => [x.id, x.status])).toEqual([[first.body.id, 'pending']]);
  });

  it('a plan change while the previous CoA is being sent is merged into it, and the new rate limit is sent after the first answer', async () => {
    const e = await env();
    const { n, s, session: a } = await liveSession(e);
    const plan = async (rateLimit: string) =>
      (
        await request(e.api.app)
          .post('/api/v1/plans')
          .set(e.t.auth)
          .send({ name: `P ${suffix()}`, durationSeconds: 86400, rateLimit })
      ).body;
    const fast = await plan('10M/20M');
    const faster = await plan('50M/50M');
    const change = (planId: string) =>
      request(e.api.app).post(`/api/v1/subscribers/${s.id}/change-plan`).set(e.t.auth).send({ planId });

    expect((await change(fast.id)).status).toBe(200);
    const [claimed] = await claimAll(e.tdb.db);
    expect(claimed?.attributes).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '10M/20M' }]);
    expect((await change(faster.id)).status).toBe(200);
    // The NAS acked the old rate limit; the action goes back to pending with the new one.
    await completeMany(e.tdb.db, 'w1', [
      { id: claimed!.id, status: 'ack', attempted: true, rttMs: 3, claimedAttributes: claimed!.attributes },
    ]);
    const rows = await ofSession(e, a.id);
    expect(rows.map((x) => [x.id, x.status, x.attempts, x.completed_at])).toEqual([[claimed!.id, 'pending', 0, null]]);
    expect(rows[0].attributes).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '50M/50M' }]);
    expect(rows[0].last_error).toMatch(/^SUPERSEDED/);

    worker(e);
    await eventually(async () => (await row(e, claimed!.id)).status === 'ack', 'the new CoA acked');
    expect(n.nas.received.map((p) => getString(p, 'Mikrotik-Rate-Limit'))).toEqual(['50M/50M']);
    expect(await row(e, claimed!.id)).toMatchObject({ attempts: 1, last_error: null });
  });
});

describe('an outcome the database refuses never holds back the others', () => {
  it("the batch is written row by row: the refused row is marked failed, the others (another tenant's) are written", async () => {
    const e = await env();
    const { session: a } = await liveSession(e);
    const other = await secondTenant(e);
    const mine = (await click(e, a.id)).body.id;
    const theirs = (await click(e, other.session.id, other.t2.auth)).body.id;
    expect((await claimAll(e.tdb.db)).map((x) => x.id).sort()).toEqual([mine, theirs].sort());
    // Error-Cause out of the column's range: the one statement for both would fail (22003).
    const r = await completeMany(e.tdb.db, 'w1', [
      { id: mine, status: 'nak', attempted: true, errorCause: 2 ** 31 },
      { id: theirs, status: 'ack', attempted: true, rttMs: 2 },
    ]);
    expect(r.owned.sort()).toEqual([mine, theirs].sort());
    expect(r.rejected.map((x) => [x.id, x.error])).toEqual([[mine, 'OUTCOME_REJECTED: 22003']]);
    expect(await row(e, mine)).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: 'OUTCOME_REJECTED: 22003',
      claimed_by: null,
    });
    expect(await row(e, theirs)).toMatchObject({ status: 'ack', attempts: 1, rtt_ms: 2 });
  });

  it("a NAS answering NAK with a 32-bit Error-Cause does not stop the worker: its action is recorded, the next tenant's is acked", async () => {
    const e = await env();
    const hostile = await nas(e);
    hostile.nas.answer = 'nak503';
    hostile.nas.errorCause = 0xffffffff;
    const s = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: hostile.id, username: s.username });
    const other = await secondTenant(e);
    const w = worker(e);
    await w.ready;
    const mine = (await click(e, a.id)).body.id;
    await eventually(async () => w.sender.stats.nak > 0, 'the NAK');
    const theirs = (await click(e, other.session.id, other.t2.auth)).body.id;
    await eventually(async () => (await row(e, theirs)).status === 'ack', "the other tenant's ack");
    expect(await row(e, mine)).toMatchObject({
      status: 'nak',
      error_cause: null,
      last_error: 'ERROR_CAUSE_OUT_OF_RANGE: 4294967295',
    });
  });
});

describe('a check racing with an outcome write does not queue the same Disconnect again', () => {
  /** How many backends of this test database wait for a lock (the barrier; no sleeps). */
  const lockWaiters = async (db: Knex): Promise<number> =>
    Number(
      (
        await db.raw(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      ).rows[0].n,
    );

  const setups: Array<
    [string, (e: Env, username: string) => Promise<void>, (db: Knex) => Promise<{ enqueued: number }>]
  > = [
    [
      'the sweep',
      async (e, username) => {
        await e.tdb
          .db('subscriptions')
          .whereIn('subscriber_id', e.tdb.db('subscribers').select('id').where({ username }))
          .update({
            starts_at: e.tdb.db.raw(`now() - interval '1 day'`),
            ends_at: e.tdb.db.raw(`now() - interval '1 minute'`),
          });
      },
      (db) => runSweep(db),
    ],
    [
      'the expiry check',
      async (e, username) => {
        // Ends now, after the previous run's cursor: inside the next run's window too.
        await e.tdb
          .db('subscriptions')
          .whereIn('subscriber_id', e.tdb.db('subscribers').select('id').where({ username }))
          .update({ ends_at: e.tdb.db.raw('clock_timestamp()') });
      },
      (db) => runExpiryWindow(db),
    ],
    ['the quota check', async () => undefined, (db) => runQuotaCheck(db)],
  ];

  it.each(setups)('%s', async (_name, setup, check) => {
    const e = await env();
    const n = await nas(e);
    const capped = (
      await request(e.api.app)
        .post('/api/v1/plans')
        .set(e.t.auth)
        .send({ name: `Capped ${suffix()}`, durationSeconds: 86400, dataQuotaBytes: 1000 })
    ).body;
    const s = await subscriber(e, undefined, { planId: capped.id });
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username, octets: 5000 });
    await setup(e, s.username);
    expect((await check(e.tdb.db)).enqueued).toBe(1);
    const [claimed] = await claimAll(e.tdb.db);
    await setup(e, s.username);

    // The worker writes the timeout in a transaction that is still open when the check runs.
    const trx = await e.tdb.db.transaction();
    try {
      await completeMany(trx, 'w1', [{ id: claimed!.id, status: 'timeout', attempted: true, lastError: 'TIMEOUT' }]);
      const running = check(e.tdb.db);
      await eventually(async () => (await lockWaiters(e.tdb.db)) > 0, 'the check to wait for the outcome');
      await trx.commit();
      expect((await running).enqueued).toBe(0);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
    expect((await ofSession(e, a.id)).map((x) => [x.id, x.status])).toEqual([[claimed!.id, 'timeout']]);
  });
});

describe('the requeue rule', () => {
  it('a check queues a session again only once its timeout is older than requeueAfterSeconds; a staff action does not wait', async () => {
    const e = await env();
    const { s, session: a } = await liveSession(e);
    await e.tdb
      .db('subscriptions')
      .where({ subscriber_id: s.id })
      .update({
        starts_at: e.tdb.db.raw(`now() - interval '1 day'`),
        ends_at: e.tdb.db.raw(`now() - interval '1 minute'`),
      });
    expect((await runSweep(e.tdb.db)).enqueued).toBe(1);
    const [first] = await claimAll(e.tdb.db);
    await completeMany(e.tdb.db, 'w1', [{ id: first!.id, status: 'timeout', attempted: true, lastError: 'TIMEOUT' }]);
    expect((await runSweep(e.tdb.db, { requeueAfterSeconds: 600 })).enqueued).toBe(0);
    await e.tdb
      .db('enforcement_actions')
      .where({ id: first!.id })
      .update({ updated_at: e.tdb.db.raw(`now() - interval '11 minutes'`) });
    expect((await runSweep(e.tdb.db, { requeueAfterSeconds: 600 })).enqueued).toBe(1);
    expect((await ofSession(e, a.id)).map((x) => [x.reason, x.status, x.superseded_at !== null])).toEqual([
      ['expired', 'timeout', true],
      ['expired', 'pending', false],
    ]);

    // Suspension by staff right after a suspension timed out queues a new Disconnect at once.
    const [second] = await claimAll(e.tdb.db);
    await completeMany(e.tdb.db, 'w1', [{ id: second!.id, status: 'ack', attempted: true }]);
    expect((await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({})).status).toBe(
      200,
    );
    const [susp] = await claimAll(e.tdb.db);
    await completeMany(e.tdb.db, 'w1', [{ id: susp!.id, status: 'timeout', attempted: true, lastError: 'TIMEOUT' }]);
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/activate`).set(e.t.auth).send({});
    expect((await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({})).status).toBe(
      200,
    );
    expect((await ofSession(e, a.id)).filter((x) => x.reason === 'suspended').map((x) => x.status)).toEqual([
      'timeout',
      'pending',
    ]);
  });
});

describe('migration 20261201000301 unwedges an outbox the old indexes let drift', () => {
  it('duplicate live actions are merged (one kept, the others cancelled) and surplus timeouts superseded', async () => {
    const e = await env();
    const db = e.tdb.db;
    const { id: nasId } = await nas(e);
    const s = await subscriber(e);
    const sess = [
      await openSession(db, { tenantId: e.t.id, nasId, username: s.username }),
      await openSession(db, { tenantId: e.t.id, nasId, username: s.username }),
    ];
    await unique.down(db);
    let minute = 0;
    const add = async (
      radacctId: number,
      reason: string,
      status: string,
      extra: Record<string, unknown> = {},
    ): Promise<string> => {
      const [r] = await db('enforcement_actions')
        .insert({
          tenant_id: e.t.id,
          radacct_id: radacctId,
          username: s.username,
          acct_session_id: 'x',
          kind: reason === 'plan_change' ? 'coa' : 'disconnect',
          reason,
          status,
          created_at: db.raw(`now() - make_interval(mins => ?)`, [60 - ++minute]),
          updated_at: db.raw(`now() - make_interval(mins => ?)`, [60 - minute]),
          ...extra,
        })
        .returning('id');
      return r.id;
    };
    // The wedge: two staff Disconnects being sent; two plan-change CoAs; repeated expiry timeouts.
    const staffA = await add(sess[0]!.id, 'staff', 'sending', { claimed_by: 'w' });
    const staffB = await add(sess[0]!.id, 'staff', 'sending', { claimed_by: 'w' });
    const coaOld = await add(sess[0]!.id, 'plan_change', 'sending', { claimed_by: 'w' });
    const coaNew = await add(sess[0]!.id, 'plan_change', 'pending');
    const t1 = await add(sess[0]!.id, 'expired', 'timeout');
    const t2 = await add(sess[0]!.id, 'expired', 'timeout');
    const t3 = await add(sess[1]!.id, 'quota', 'failed');
    const acked = await add(sess[1]!.id, 'quota', 'ack');

    await merge.up(db);
    await unique.up(db);

    const get = async (id: string) => db('enforcement_actions').where({ id }).first();
    expect(await get(staffA)).toMatchObject({ status: 'sending' });
    expect(await get(staffB)).toMatchObject({
      status: 'cancelled',
      last_error: `duplicate of ${staffA} for the same session and reason`,
      claimed_by: null,
    });
    expect(await get(coaOld)).toMatchObject({
      status: 'cancelled',
      last_error: `duplicate of ${coaNew} for the same session and reason`,
    });
    expect(await get(coaNew)).toMatchObject({ status: 'pending' });
    expect([(await get(t1)).superseded_at !== null, (await get(t2)).superseded_at]).toEqual([true, null]);
    expect((await get(t3)).superseded_at).not.toBeNull();
    expect(await get(acked)).toMatchObject({ status: 'ack', superseded_at: null });
  });
});
