/**
 * The revenue and funnel rollups (revenue_rollup, funnel_rollup; docs/decisions.md 73) always equal
 * the same sums computed from the base tables: after random payments, credits, refunds, state
 * changes, plans assigned later and deleted, voucher activations, a batch repriced and a tenant's
 * time zone changed. The reference is reports.sales (row-level) and the raw payments.
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let tdb: TestDatabase;
let api: TestApi;
let db: Knex;
let tenants: TestTenant[];
const plans = new Map<string, string[]>();
const batches = new Map<string, string>();

// A small deterministic generator, so a failure can be replayed.
let seed = 20261206;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const instant = () => new Date(Date.UTC(2026, 10, 1) + Math.floor(rand() * 10 * 86400_000)).toISOString();

/** The revenue per tenant, day, plan and channel from the rollup view and from reports.sales. */
async function revenue(): Promise<{ rollup: unknown[]; reference: unknown[] }> {
  const cols = `tenant_id, day::text AS day, plan_id, channel`;
  const rollup = (
    await db.raw(
      `SELECT ${cols}, sales::int, refunds::int, gross_amount::int, refunded_amount::int, net_amount::int
       FROM reports.revenue_daily ORDER BY 1, 2, 3, 4`,
    )
  ).rows;
  const reference = (
    await db.raw(
      `SELECT ${cols}, count(*) FILTER (WHERE kind = 'credit')::int AS sales, count(*) FILTER (WHERE kind = 'refund')::int AS refunds,
              coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0)::int AS gross_amount,
              coalesce(-sum(amount) FILTER (WHERE kind = 'refund'), 0)::int AS refunded_amount, sum(amount)::int AS net_amount
       FROM reports.sales GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    )
  ).rows;
  return { rollup, reference };
}

async function funnel(): Promise<{ rollup: unknown[]; reference: unknown[] }> {
  const rollup = (
    await db.raw(
      `SELECT tenant_id, day::text AS day, channel, initiated::int, pending::int, completed::int, cancelled::int, failed::int,
              expired::int, unallocated::int, refunded::int, completed_amount::int
       FROM reports.payment_funnel ORDER BY 1, 2, 3`,
    )
  ).rows;
  const reference = (
    await db.raw(
      `SELECT p.tenant_id, (p.created_at AT TIME ZONE t.time_zone)::date::text AS day, p.channel, count(*)::int AS initiated,
              count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'completed')::int AS completed,
              count(*) FILTER (WHERE state = 'cancelled')::int AS cancelled, count(*) FILTER (WHERE state = 'failed')::int AS failed,
              count(*) FILTER (WHERE state = 'expired')::int AS expired,
              count(*) FILTER (WHERE allocation = 'unallocated')::int AS unallocated,
              count(*) FILTER (WHERE allocation = 'refunded')::int AS refunded,
              coalesce(sum(amount) FILTER (WHERE state = 'completed'), 0)::int AS completed_amount
       FROM payments p JOIN tenants t ON t.id = p.tenant_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    )
  ).rows;
  return { rollup, reference };
}

async function expectConsistent(): Promise<void> {
  const r = await revenue();
  expect(r.rollup.length).toBeGreaterThan(0);
  expect(r.rollup).toEqual(r.reference);
  const f = await funnel();
  expect(f.rollup.length).toBeGreaterThan(0);
  expect(f.rollup).toEqual(f.reference);
}

async function credit(tenantId: string, paymentId: string, amount: number, at: string) {
  await db('ledger_entries').insert({
    tenant_id: tenantId,
    payment_id: paymentId,
    kind: 'credit',
    amount,
    actor_type: 'system',
    created_at: at,
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  db = tdb.db;
  tenants = [await api.newTenant(), await api.newTenant()];
  await db('tenants').where({ id: tenants[1]!.id }).update({ time_zone: 'America/Los_Angeles' });
  for (const t of tenants) {
    const ids: string[] = [];
    for (const [name, price] of [
      ['Hour', 1000],
      ['Day', 5000],
      ['Week', 20000],
    ] as const) {
      const res = await request(api.app).post('/api/v1/plans').set(t.auth).send({ name, price, durationSeconds: 3600 });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    plans.set(t.id, ids);
    const b = await request(api.app)
      .post('/api/v1/voucher-batches')
      .set(t.auth)
      .send({ planId: ids[0], quantity: 30, price: 1000 });
    expect(b.status).toBe(201);
    batches.set(t.id, b.body.batch.id);
  }
}, 60_000);

afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

describe('revenue and funnel rollups', () => {
  it('equal the sums over the base tables through random changes', async () => {
    // 1. Payments in every state and channel; completed ones credited, some refunded.
    for (let i = 0; i < 150; i++) {
      const t = pick(tenants);
      const state = pick(['pending', 'completed', 'completed', 'failed', 'cancelled', 'expired'] as const);
      const channel = pick(['stk', 'c2b', 'manual'] as const);
      const at = instant();
      const amount = pick([1000, 5000, 20000, 1234]);
      const unallocated = state === 'completed' && channel === 'c2b' && rand() < 0.5;
      const [row] = await db('payments')
        .insert({
          tenant_id: t.id,
          channel,
          state,
          amount,
          plan_id: unallocated ? null : pick(plans.get(t.id)!),
          allocation: state === 'completed' ? (unallocated ? 'unallocated' : 'allocated') : null,
          created_at: at,
          updated_at: at,
        })
        .returning('id');
      if (state === 'completed') {
        await credit(t.id, row.id, amount, at);
        if (!unallocated && rand() < 0.15) {
          await db('ledger_entries').insert({
            tenant_id: t.id,
            payment_id: row.id,
            kind: 'refund',
            amount: -amount,
            actor_type: 'staff',
            created_at: instant(),
          });
          await db('payments').where({ id: row.id }).update({ allocation: 'refunded' });
        }
      }
    }
    // Vouchers activated at random instants.
    for (const t of tenants) {
      const ids = (
        await db('vouchers')
          .where({ batch_id: batches.get(t.id)! })
          .select('id')
      ).map((v) => v.id as string);
      for (const id of ids.slice(0, 12)) await db('vouchers').where({ id }).update({ activated_at: instant() });
    }
    await expectConsistent();

    // 2. Pending payments settle (some completed with their credit), unallocated ones get a plan.
    const pending = await db('payments').where({ state: 'pending' }).select('id', 'tenant_id', 'amount', 'created_at');
    for (const p of pending) {
      const state = pick(['completed', 'failed', 'expired'] as const);
      await db('payments')
        .where({ id: p.id })
        .update({ state, allocation: state === 'completed' ? 'allocated' : null });
      if (state === 'completed') await credit(p.tenant_id, p.id, Number(p.amount), new Date().toISOString());
    }
    const unallocated = await db('payments').where({ allocation: 'unallocated' }).select('id', 'tenant_id');
    expect(unallocated.length).toBeGreaterThan(0);
    for (const p of unallocated.slice(0, Math.ceil(unallocated.length / 2)))
      await db('payments')
        .where({ id: p.id })
        .update({ allocation: 'allocated', plan_id: pick(plans.get(p.tenant_id)!) });
    await expectConsistent();

    // 3. A plan deleted (its payments lose their plan: ON DELETE SET NULL), a batch moved to
    // another plan and one repriced, a voucher activated again later, a tenant's time zone changed.
    const t0 = tenants[0]!;
    const deleted = plans.get(t0.id)![2]!;
    expect(await db('payments').where({ plan_id: deleted }).count<{ n: string }[]>({ n: '*' })).not.toEqual([
      { n: '0' },
    ]);
    await db('plans').where({ id: deleted }).del();
    await db('voucher_batches')
      .where({ id: batches.get(t0.id)! })
      .update({ plan_id: plans.get(t0.id)![1]! });
    await db('voucher_batches')
      .where({ id: batches.get(tenants[1]!.id)! })
      .update({ price: 1500 });
    const v = await db('vouchers')
      .where({ batch_id: batches.get(tenants[1]!.id)! })
      .whereNotNull('activated_at')
      .first();
    await db('vouchers').where({ id: v.id }).update({ activated_at: instant() });
    await db('tenants').where({ id: t0.id }).update({ time_zone: 'Asia/Kathmandu' });
    await expectConsistent();
    // The time zone change re-dayed the tenant's rows: Kathmandu is UTC+5:45.
    const days = (
      await db.raw(
        `SELECT count(*)::int AS n FROM revenue_rollup r WHERE r.tenant_id = ?
           AND NOT EXISTS (SELECT 1 FROM reports.sales s WHERE s.tenant_id = r.tenant_id AND s.day = r.day)`,
        [t0.id],
      )
    ).rows[0].n;
    expect(days).toBe(0);
  }, 120_000);

  it('does not count a payment twice when a state is written again unchanged', async () => {
    const t = tenants[1]!;
    const before = await funnel();
    const p = await db('payments').where({ tenant_id: t.id, state: 'completed' }).first();
    await db('payments').where({ id: p.id }).update({ state: 'completed', updated_at: new Date() });
    const after = await funnel();
    expect(after.rollup).toEqual(before.rollup);
    expect(after.rollup).toEqual(after.reference);
  });
});
