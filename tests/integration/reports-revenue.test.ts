/**
 * Revenue reports (docs/reports.md): reports.sales / revenue_daily (per tenant day, plan and
 * channel, from the payments ledger and voucher activations), reports.payment_funnel and
 * reports.voucher_stock, through REST (JSON and CSV) and a report role; days are the tenant's.
 */
import request from 'supertest';
import { Client } from 'pg';
import type { Knex } from 'knex';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { createTestDatabase, withRole, type TestDatabase } from '../helpers/db';
import { createReportRole, dropReportRole } from '../../src/modules/reports/report-roles';

let tdb: TestDatabase;
let api: TestApi;
let db: Knex;
let a: TestTenant;
let b: TestTenant;
let day: { id: string };
let week: { id: string };
let batchId: string;

async function plan(t: TestTenant, name: string, price: number) {
  const res = await request(api.app).post('/api/v1/plans').set(t.auth).send({ name, price, durationSeconds: 86400 });
  if (res.status !== 201) throw new Error(`plan: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string };
}

async function batch(t: TestTenant, planId: string, quantity: number, price: number) {
  const res = await request(api.app)
    .post('/api/v1/voucher-batches')
    .set(t.auth)
    .send({ planId, quantity, price, note: 'Mama Njeri shop' });
  if (res.status !== 201) throw new Error(`batch: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { batch: { id: string }; codes: string[] };
}

interface Pay {
  channel: 'stk' | 'c2b' | 'manual';
  state: 'pending' | 'completed' | 'failed' | 'cancelled' | 'expired';
  amount: number;
  createdAt: string;
  planId?: string | null;
  allocation?: 'allocated' | 'unallocated' | 'refunded';
  refundAt?: string;
}

/** A payment as the ledger leaves it: the row, and its credit (and refund) when completed. */
async function payment(tenantId: string, p: Pay): Promise<void> {
  const [row] = await db('payments')
    .insert({
      tenant_id: tenantId,
      channel: p.channel,
      amount: p.amount,
      state: p.state,
      plan_id: p.planId ?? null,
      allocation: p.allocation ?? null,
      created_at: p.createdAt,
      updated_at: p.createdAt,
      settled_at: p.state === 'pending' ? null : p.createdAt,
    })
    .returning('id');
  if (p.state !== 'completed') return;
  await db('ledger_entries').insert({
    tenant_id: tenantId,
    payment_id: row.id,
    kind: 'credit',
    amount: p.amount,
    actor_type: 'system',
    created_at: p.createdAt,
  });
  if (p.refundAt)
    await db('ledger_entries').insert({
      tenant_id: tenantId,
      payment_id: row.id,
      kind: 'refund',
      amount: -p.amount,
      actor_type: 'staff',
      created_at: p.refundAt,
    });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  db = tdb.db;
  a = await api.newTenant(); // Africa/Nairobi, UTC+3
  b = await api.newTenant();
  day = await plan(a, 'Day pass', 5000);
  week = await plan(a, 'Week pass', 20000);
  // 22:30 UTC on Nov 10 is 01:30 on Nov 11 in Nairobi: a sale of the 11th.
  await payment(a.id, {
    channel: 'stk',
    state: 'completed',
    amount: 5000,
    createdAt: '2026-11-10T22:30:00Z',
    planId: day.id,
    allocation: 'allocated',
  });
  await payment(a.id, {
    channel: 'c2b',
    state: 'completed',
    amount: 20000,
    createdAt: '2026-11-10T12:00:00Z',
    planId: week.id,
    allocation: 'allocated',
  });
  await payment(a.id, {
    channel: 'c2b',
    state: 'completed',
    amount: 3000,
    createdAt: '2026-11-10T13:00:00Z',
    allocation: 'unallocated',
  });
  await payment(a.id, {
    channel: 'manual',
    state: 'completed',
    amount: 5000,
    createdAt: '2026-11-11T08:00:00Z',
    planId: day.id,
    allocation: 'refunded',
    refundAt: '2026-11-12T09:00:00Z',
  });
  for (const state of ['failed', 'cancelled', 'expired', 'pending'] as const)
    await payment(a.id, { channel: 'stk', state, amount: 5000, createdAt: '2026-11-11T09:00:00Z', planId: day.id });

  const made = await batch(a, day.id, 4, 1000);
  batchId = made.batch.id;
  const [v1, v2, v3] = made.codes;
  await db('vouchers')
    .where({ tenant_id: a.id })
    .whereIn('code', [v1!, v2!])
    .update({ activated_at: '2026-11-11T10:00:00Z' });
  const revoked = await db('vouchers').where({ tenant_id: a.id, code: v3! }).first();
  expect((await request(api.app).post(`/api/v1/vouchers/${revoked.id}/revoke`).set(a.auth).send({})).status).toBe(200);

  // Tenant B sells on the same days: none of it may show up for A.
  const bPlan = await plan(b, 'B day', 7000);
  await payment(b.id, {
    channel: 'c2b',
    state: 'completed',
    amount: 7000,
    createdAt: '2026-11-11T10:00:00Z',
    planId: bPlan.id,
    allocation: 'allocated',
  });
  const bBatch = await batch(b, bPlan.id, 1, 7000);
  await db('vouchers')
    .where({ tenant_id: b.id, code: bBatch.codes[0]! })
    .update({ activated_at: '2026-11-11T11:00:00Z' });
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

const get = (name: string, query: Record<string, string | number>, t = a) =>
  request(api.app).get(`/api/v1/reports/${name}`).query(query).set(t.auth);
const RANGE = { from: '2026-11-10', to: '2026-11-12' };

describe('revenue', () => {
  it("per tenant day (Nairobi's, not UTC's), from credits, refunds and voucher activations", async () => {
    const res = await get('revenue', RANGE);
    expect(res.status).toBe(200);
    expect(res.body.timeZone).toBe('Africa/Nairobi');
    expect(res.body.rows).toEqual([
      { day: '2026-11-10', sales: 2, refunds: 0, gross_amount: 23000, refunded_amount: 0, net_amount: 23000 },
      { day: '2026-11-11', sales: 4, refunds: 0, gross_amount: 12000, refunded_amount: 0, net_amount: 12000 },
      { day: '2026-11-12', sales: 0, refunds: 1, gross_amount: 0, refunded_amount: 5000, net_amount: -5000 },
    ]);
    // The STK sale at 22:30 UTC on the 10th belongs to the 11th: a one-day range shows it.
    const one = await get('revenue', { from: '2026-11-11', to: '2026-11-11' });
    expect(one.body.rows).toEqual([
      { day: '2026-11-11', sales: 4, refunds: 0, gross_amount: 12000, refunded_amount: 0, net_amount: 12000 },
    ]);
    const before = await get('revenue', { from: '2026-11-09', to: '2026-11-09' });
    expect(before.body.rows).toEqual([]);
  });

  it('per channel: M-Pesa STK, C2B, manual and voucher', async () => {
    const res = await get('revenue', { ...RANGE, groupBy: 'channel' });
    expect(res.status).toBe(200);
    expect(res.body.rows.map((r: Record<string, unknown>) => [r.channel, r.sales, r.refunds, r.net_amount])).toEqual([
      ['c2b', 2, 0, 23000],
      ['stk', 1, 0, 5000],
      ['voucher', 2, 0, 2000],
      ['manual', 1, 1, 0],
    ]);
  });

  it('per plan (the payment is unallocated: no plan), and per day and channel', async () => {
    const res = await get('revenue', { ...RANGE, groupBy: 'plan' });
    expect(res.body.rows).toEqual([
      {
        plan_id: week.id,
        plan_name: 'Week pass',
        sales: 1,
        refunds: 0,
        gross_amount: 20000,
        refunded_amount: 0,
        net_amount: 20000,
      },
      {
        plan_id: day.id,
        plan_name: 'Day pass',
        sales: 4,
        refunds: 1,
        gross_amount: 12000,
        refunded_amount: 5000,
        net_amount: 7000,
      },
      {
        plan_id: null,
        plan_name: null,
        sales: 1,
        refunds: 0,
        gross_amount: 3000,
        refunded_amount: 0,
        net_amount: 3000,
      },
    ]);
    const byDay = await get('revenue', { ...RANGE, groupBy: 'day_channel' });
    expect(byDay.body.rows.map((r: Record<string, unknown>) => [r.day, r.channel, r.net_amount])).toEqual([
      ['2026-11-10', 'c2b', 23000],
      ['2026-11-11', 'manual', 5000],
      ['2026-11-11', 'stk', 5000],
      ['2026-11-11', 'voucher', 2000],
      ['2026-11-12', 'manual', -5000],
    ]);
    const dayPlan = await get('revenue', { ...RANGE, groupBy: 'day_plan', limit: 2 });
    expect(dayPlan.body.rows.map((r: Record<string, unknown>) => [r.day, r.plan_name, r.net_amount])).toEqual([
      ['2026-11-10', 'Week pass', 20000],
      ['2026-11-10', null, 3000],
    ]);
    expect(dayPlan.body.truncated).toBe(true);
  });

  it('as CSV, with a header even when empty', async () => {
    const res = await get('revenue', { ...RANGE, groupBy: 'channel', format: 'csv' });
    expect(res.status).toBe(200);
    expect(res.text.split('\r\n')[0]).toBe('channel,sales,refunds,gross_amount,refunded_amount,net_amount');
    expect(res.text.split('\r\n')[1]).toBe('c2b,2,0,23000,0,23000');
    const empty = await get('revenue', { from: '2020-01-01', to: '2020-01-02', groupBy: 'plan', format: 'csv' });
    expect(empty.text).toBe('plan_id,plan_name,sales,refunds,gross_amount,refunded_amount,net_amount\r\n');
  });

  it("another tenant's API sees only its own", async () => {
    const res = await get('revenue', { ...RANGE, groupBy: 'channel' }, b);
    expect(res.body.rows.map((r: Record<string, unknown>) => [r.channel, r.net_amount])).toEqual([
      ['c2b', 7000],
      ['voucher', 7000],
    ]);
  });
});

describe('payment funnel', () => {
  it('initiated, pending, completed, cancelled, failed, expired, unallocated per day of creation', async () => {
    const res = await get('payment-funnel', RANGE);
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      {
        day: '2026-11-10',
        initiated: 2,
        pending: 0,
        completed: 2,
        cancelled: 0,
        failed: 0,
        expired: 0,
        unallocated: 1,
        refunded: 0,
        completed_amount: 23000,
      },
      {
        day: '2026-11-11',
        initiated: 6,
        pending: 1,
        completed: 2,
        cancelled: 1,
        failed: 1,
        expired: 1,
        unallocated: 0,
        refunded: 1,
        completed_amount: 10000,
      },
    ]);
    const byChannel = await get('payment-funnel', { ...RANGE, groupBy: 'channel' });
    expect(byChannel.body.rows.map((r: Record<string, unknown>) => [r.channel, r.initiated, r.completed])).toEqual([
      ['c2b', 2, 2],
      ['manual', 1, 1],
      ['stk', 5, 1],
    ]);
  });
});

describe('voucher stock', () => {
  it('per batch: in stock, sold, revoked before use, and what the sold ones brought in', async () => {
    const res = await get('voucher-stock', {});
    expect(res.status).toBe(200);
    expect(res.body.rows).toHaveLength(1);
    expect(res.body.rows[0]).toMatchObject({
      batch_id: batchId,
      plan_name: 'Day pass',
      price: 1000,
      quantity: 4,
      in_stock: 1,
      sold: 2,
      revoked_unused: 1,
      expired_unused: 0,
      sold_amount: 2000,
      first_sold_at: '2026-11-11T10:00:00.000Z',
      note: 'Mama Njeri shop',
    });
  });
});

describe('bad input', () => {
  it.each([
    ['revenue', { from: '2026-11-30', to: '2026-11-01' }, 'from'],
    ['revenue', { from: '2024-01-01', to: '2026-11-01' }, 'to'],
    ['revenue', { from: '2026-02-29', to: '2026-03-01' }, 'from'],
    ['revenue', { to: 'tomorrow' }, 'to'],
    ['revenue', { groupBy: 'user' }, 'groupBy'],
    ['payment-funnel', { from: '2026-11-12', to: '2026-11-10' }, 'from'],
    ['payment-funnel', { from: '2000-01-01', to: '2026-01-01' }, 'to'],
    ['payment-funnel', { from: '2026-11-1' }, 'from'],
    ['voucher-stock', { from: '2026-11-01' }, 'from'],
    ['voucher-stock', { groupBy: 'day' }, 'groupBy'],
  ])('%s %j: 400 naming %s', async (name, query, field) => {
    const res = await get(name, query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body.error.details)).toContain(field);
  });
});

describe('a report role', () => {
  let role: { role: string; password: string };
  let c: Client;
  beforeAll(async () => {
    role = await createReportRole(db, { tenant: a.slug });
    c = new Client({ connectionString: withRole(tdb.url, { name: role.role, password: role.password }) });
    await c.connect();
  });
  afterAll(async () => {
    await c.end();
    await dropReportRole(db, role.role);
  });

  it("reads its tenant's revenue, funnel and stock, and nothing of another tenant's, even by hand", async () => {
    const mine = await c.query(
      `SELECT channel, sum(net_amount)::int AS net FROM revenue_daily WHERE day BETWEEN '2026-11-10' AND '2026-11-12' GROUP BY channel ORDER BY channel`,
    );
    expect(mine.rows).toEqual([
      { channel: 'c2b', net: 23000 },
      { channel: 'manual', net: 0 },
      { channel: 'stk', net: 5000 },
      { channel: 'voucher', net: 2000 },
    ]);
    for (const view of ['sales', 'revenue_daily', 'payment_funnel', 'voucher_stock']) {
      const other = await c.query(`SELECT count(*)::int AS n FROM reports.${view} WHERE tenant_id <> $1`, [a.id]);
      expect([view, other.rows[0].n]).toEqual([view, 0]);
      const named = await c.query(`SELECT count(*)::int AS n FROM reports.${view} WHERE tenant_id = $1`, [b.id]);
      expect([view, named.rows[0].n]).toEqual([view, 0]);
    }
    // The ledger itself is not readable.
    await expect(c.query('SELECT * FROM public.ledger_entries LIMIT 1')).rejects.toMatchObject({ code: '42501' });
    await expect(c.query('SELECT * FROM public.payments LIMIT 1')).rejects.toMatchObject({ code: '42501' });
    await expect(c.query('SELECT * FROM public.vouchers LIMIT 1')).rejects.toMatchObject({ code: '42501' });
  });
});
