/**
 * /metrics' database figures beyond authentication (src/http/metrics.ts): payments of the last
 * 24 hours by tenant, channel and state, the settlement lag of STK payments settled in the last
 * hour, SMS of the last 24 hours by status and the SMS queue. Rows are seeded directly; older
 * rows and other windows must not count.
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let tdb: TestDatabase;
let api: TestApi;
let a: TestTenant;
let b: TestTenant;
let db: Knex;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  db = tdb.db;
  a = await api.newTenant();
  b = await api.newTenant();
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);

async function payment(
  tenantId: string,
  channel: 'stk' | 'c2b' | 'manual',
  state: string,
  createdSecondsAgo: number,
  settle?: { afterSeconds: number; by: string },
) {
  const created = ago(createdSecondsAgo);
  await db('payments').insert({
    tenant_id: tenantId,
    channel,
    state,
    amount: 50,
    checkout_request_id: channel === 'stk' ? `ws_CO_${suffix()}${suffix()}` : null,
    mpesa_receipt: channel === 'c2b' ? `R${suffix()}`.toUpperCase() : null,
    created_at: created,
    settled_at: settle ? new Date(created.getTime() + settle.afterSeconds * 1000) : null,
    settled_by: settle?.by ?? null,
  });
}

async function sms(tenantId: string, status: string, createdSecondsAgo: number, nextAttemptSecondsAgo = 0) {
  await db('sms_outbox').insert({
    tenant_id: tenantId,
    kind: 'receipt',
    dedupe_key: `test:${suffix()}`,
    phone: '+254712345678',
    body: 'Thank you',
    status,
    created_at: ago(createdSecondsAgo),
    next_attempt_at: ago(nextAttemptSecondsAgo),
  });
}

describe('/metrics: payments, settlement lag, SMS', () => {
  it('counts the last 24 hours from the database and ranks recent settlements', async () => {
    // Tenant a: STK settled by callback after 2, 4, 6, 8 and 100 s, one by query after 10 s; one
    // expired (not a settlement), one pending; one C2B completed; one STK of two days ago.
    for (const s of [2, 4, 6, 8, 100])
      await payment(a.id, 'stk', 'completed', 600, { afterSeconds: s, by: 'callback' });
    await payment(a.id, 'stk', 'failed', 600, { afterSeconds: 10, by: 'query' });
    await payment(a.id, 'stk', 'expired', 1200, { afterSeconds: 900, by: 'expiry' });
    await payment(a.id, 'stk', 'pending', 30);
    await payment(a.id, 'c2b', 'completed', 60, { afterSeconds: 0, by: 'c2b' });
    await payment(a.id, 'stk', 'completed', 2 * 86400, { afterSeconds: 3, by: 'callback' });
    // Settled two hours ago: outside the lag window, inside the 24 hours.
    await payment(b.id, 'stk', 'completed', 7300, { afterSeconds: 500, by: 'callback' });
    await payment(b.id, 'manual', 'completed', 100);

    await sms(a.id, 'sent', 100);
    await sms(a.id, 'sent', 200);
    await sms(a.id, 'failed', 300);
    await sms(a.id, 'pending', 50, 40);
    await sms(b.id, 'pending', 10, -600); // retry later: queued, not due
    await sms(b.id, 'sent', 3 * 86400);

    const res = await request(api.app).get('/metrics');
    expect(res.status).toBe(200);
    const t = res.text;
    expect(t).toContain(`lango_payments_24h{tenant="${a.slug}",channel="stk",state="completed"} 5`);
    expect(t).toContain(`lango_payments_24h{tenant="${a.slug}",channel="stk",state="failed"} 1`);
    expect(t).toContain(`lango_payments_24h{tenant="${a.slug}",channel="stk",state="expired"} 1`);
    expect(t).toContain(`lango_payments_24h{tenant="${a.slug}",channel="stk",state="pending"} 1`);
    expect(t).toContain(`lango_payments_24h{tenant="${a.slug}",channel="c2b",state="completed"} 1`);
    expect(t).toContain(`lango_payments_24h{tenant="${b.slug}",channel="stk",state="completed"} 1`);
    expect(t).toContain(`lango_payments_24h{tenant="${b.slug}",channel="manual",state="completed"} 1`);

    // Lags 2, 4, 6, 8, 10, 100: median 7; p95 at rank 0.95 * 5 = 4.75, so 10 + 0.75 * 90; max 100.
    expect(t).toContain('lango_payment_settlement_lag_samples 6');
    expect(t).toContain('lango_payment_settlement_lag_seconds{quantile="0.5"} 7');
    expect(t).toContain('lango_payment_settlement_lag_seconds{quantile="0.95"} 77.5');
    expect(t).toContain('lango_payment_settlement_lag_seconds{quantile="1"} 100');

    expect(t).toContain(`lango_sms_24h{tenant="${a.slug}",status="sent"} 2`);
    expect(t).toContain(`lango_sms_24h{tenant="${a.slug}",status="failed"} 1`);
    expect(t).toContain(`lango_sms_24h{tenant="${a.slug}",status="pending"} 1`);
    expect(t).toContain(`lango_sms_24h{tenant="${b.slug}",status="pending"} 1`);
    expect(t).not.toContain(`lango_sms_24h{tenant="${b.slug}",status="sent"}`);
    expect(t).toContain('lango_sms_queue_depth 1');
    expect(t).toMatch(/lango_sms_queue_oldest_due_seconds (3\d|4\d)(\.\d+)?\n/);
  });

  it('reads the windows through their indexes, not by scanning the tables', async () => {
    const plan = async (sql: string) =>
      JSON.stringify((await db.raw(`SET enable_seqscan = off; EXPLAIN (FORMAT JSON) ${sql}`))[1].rows);
    expect(await plan(`SELECT count(*) FROM payments WHERE created_at >= now() - interval '24 hours'`)).toContain(
      'payments_created_idx',
    );
    expect(
      await plan(
        `SELECT created_at FROM payments WHERE channel = 'stk' AND settled_at IS NOT NULL AND settled_at >= now() - interval '1 hour' ORDER BY settled_at DESC LIMIT 10`,
      ),
    ).toContain('payments_stk_settled_idx');
    expect(await plan(`SELECT count(*) FROM sms_outbox WHERE created_at >= now() - interval '24 hours'`)).toContain(
      'sms_outbox_created_idx',
    );
  });
});
