/**
 * Data quota per period, one rule in SQL for authorize and the worker:
 *  - a session that was open when a new period began counts only what it uses in it
 *    (subscription_baselines, taken when the period is created and when it starts);
 *  - lango_authorize_check() and the worker's quota check give the same answer on the same rows.
 */
import request from 'supertest';
import { runExpiryWindow } from '../../src/jobs/expiry';
import { runQuotaCheck } from '../../src/jobs/quota';
import { actions, nas, openSession, subscriber, useEnvs, type Env } from './enforcement-fixtures';

const { env } = useEnvs();
const MB = 1_000_000;

async function quotaPlan(e: Env, quota: number) {
  const res = await request(e.api.app)
    .post('/api/v1/plans')
    .set(e.t.auth)
    .send({ name: `Quota ${quota}`, durationSeconds: 86400, dataQuotaBytes: quota });
  expect(res.status).toBe(201);
  return res.body;
}

/** What lango_authorize_check() decides for a user through the env's NAS. */
async function authorize(
  e: Env,
  nasId: string,
  username: string,
): Promise<{ left: number | null; reason: string | null }> {
  const n = await e.tdb.db('nas').where({ id: nasId }).first();
  const rows = (
    await e.tdb.db.raw(`SELECT attribute, value FROM lango_authorize_check('127.0.0.1', ?, ?, '')`, [
      Buffer.from(n.identifier ?? '').toString('hex'),
      Buffer.from(username).toString('hex'),
    ])
  ).rows as Array<{ attribute: string; value: string }>;
  const get = (a: string) => rows.find((r) => r.attribute === a)?.value ?? null;
  const lo = get('Lango-Total-Limit');
  const hi = get('Lango-Total-Limit-Gigawords');
  return { left: lo === null ? null : Number(hi) * 2 ** 32 + Number(lo), reason: get('Lango-Reject-Reason') };
}

const bump = (e: Env, id: number, octets: number) =>
  e.tdb.db('radacct').where({ radacctid: id }).update({ acctinputoctets: octets, acctupdatetime: e.tdb.db.fn.now() });

describe('per-period baselines', () => {
  it('a renewal while online: the open session counts only its bytes after the new period began', async () => {
    const e = await env();
    const n = await nas(e);
    const plan = await quotaPlan(e, 500 * MB);
    const s = await subscriber(e, undefined, { planId: plan.id });
    // 400 MB used in the first period, reported before it ends.
    const session = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: 400 * MB,
      updatedSecondsAgo: 30,
    });
    expect((await authorize(e, n.id, s.username)).left).toBe(100 * MB);
    // Staff move the subscriber to a new period now (change-plan starts one now).
    expect(
      (await request(e.api.app).post(`/api/v1/subscribers/${s.id}/change-plan`).set(e.t.auth).send({ planId: plan.id }))
        .status,
    ).toBe(200);
    expect((await authorize(e, n.id, s.username)).left).toBe(500 * MB);
    await bump(e, session.id, 450 * MB);
    expect((await authorize(e, n.id, s.username)).left).toBe(450 * MB);
  });

  it('a renewal bought ahead: the worker takes the baseline when the period starts', async () => {
    const e = await env();
    const n = await nas(e);
    const plan = await quotaPlan(e, 500 * MB);
    const s = await subscriber(e, undefined, { planId: plan.id });
    const session = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: 100 * MB,
      updatedSecondsAgo: 300,
    });
    const renewed = await request(e.api.app).post(`/api/v1/subscribers/${s.id}/renew`).set(e.t.auth);
    expect(renewed.status).toBe(200);
    const next = renewed.body.subscription;
    // The first period ends, the second starts; the session reported 300 MB just before that.
    await e.tdb
      .db('subscriptions')
      .where({ subscriber_id: s.id })
      .whereNot({ id: next.id })
      .update({
        starts_at: e.tdb.db.raw(`now() - interval '1 day'`),
        ends_at: e.tdb.db.raw(`now() - interval '10 seconds'`),
      });
    await e.tdb
      .db('subscriptions')
      .where({ id: next.id })
      .update({ starts_at: e.tdb.db.raw(`now() - interval '10 seconds'`) });
    await e.tdb
      .db('radacct')
      .where({ radacctid: session.id })
      .update({ acctinputoctets: 300 * MB, acctupdatetime: e.tdb.db.raw(`now() - interval '20 seconds'`) });
    // At renewal time the baseline was 100 MB; the period's start raises it to 300 MB.
    await runExpiryWindow(e.tdb.appDb);
    const b = await e.tdb
      .db('subscription_baselines')
      .where({ subscription_id: next.id, radacct_id: session.id })
      .first();
    expect(Number(b.octets)).toBe(300 * MB);
    await bump(e, session.id, 350 * MB);
    expect((await authorize(e, n.id, s.username)).left).toBe(450 * MB);
  });

  it('never counts less than the period used: a report after the start is not taken as a baseline', async () => {
    const e = await env();
    const n = await nas(e);
    const plan = await quotaPlan(e, 500 * MB);
    const s = await subscriber(e, undefined, { planId: plan.id });
    const sub = (await e.tdb.db('subscriptions').where({ subscriber_id: s.id }).first()) as { id: string };
    // A session that started before the period but whose counters were reported after it began.
    const session = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: 200 * MB,
    });
    await e.tdb
      .db('radacct')
      .where({ radacctid: session.id })
      .update({ acctstarttime: e.tdb.db.raw(`now() - interval '2 hours'`) });
    await e.tdb
      .db('subscriptions')
      .where({ id: sub.id })
      .update({ starts_at: e.tdb.db.raw(`now() - interval '1 hour'`) });
    expect((await e.tdb.appDb.raw('SELECT lango_snapshot_baselines(?) AS n', [sub.id])).rows[0].n).toBe(0);
    expect((await authorize(e, n.id, s.username)).left).toBe(300 * MB);
  });
});

describe('authorize and the worker agree on quota', () => {
  it.each([
    ['well under', 100 * MB, false],
    ['one byte under', 500 * MB - 1, false],
    ['exactly at the quota', 500 * MB, true],
    ['over', 800 * MB, true],
  ] as const)('%s', async (_name, used, exhausted) => {
    const e = await env();
    const n = await nas(e);
    const plan = await quotaPlan(e, 500 * MB);
    const s = await subscriber(e, undefined, { planId: plan.id });
    // Usage split over a closed session and an open one, plus a straddling session with a
    // baseline and another tenant's same-named user (never counted).
    const sub = (await e.tdb.db('subscriptions').where({ subscriber_id: s.id }).first()) as { id: string };
    await e.tdb
      .db('subscriptions')
      .where({ id: sub.id })
      .update({ starts_at: e.tdb.db.raw(`now() - interval '3 hours'`) });
    const closed = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: Math.floor(used / 2),
    });
    await e.tdb.db('radacct').where({ radacctid: closed.id }).update({ acctstoptime: e.tdb.db.fn.now() });
    const straddling = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: 0,
      updatedSecondsAgo: 20_000,
    });
    await e.tdb
      .db('radacct')
      .where({ radacctid: straddling.id })
      .update({ acctstarttime: e.tdb.db.raw(`now() - interval '6 hours'`), acctinputoctets: 700 * MB });
    await e.tdb
      .db('subscription_baselines')
      .insert({ tenant_id: e.t.id, subscription_id: sub.id, radacct_id: straddling.id, octets: 700 * MB });
    await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      octets: used - Math.floor(used / 2),
    });
    const other = await e.api.newTenant();
    await openSession(e.tdb.db, { tenantId: other.id, nasId: n.id, username: s.username, octets: 10_000 * MB });

    const a = await authorize(e, n.id, s.username);
    expect(a.reason === 'Data quota exhausted').toBe(exhausted);
    if (!exhausted) expect(a.left).toBe(500 * MB - used);

    await runQuotaCheck(e.tdb.appDb);
    const queued = await actions(e, { reason: 'quota' });
    expect(queued.length > 0).toBe(exhausted);
    for (const q of queued) expect(Number(q.context.usedBytes)).toBe(used);
  });
});
