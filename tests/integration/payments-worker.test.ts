/**
 * The payments worker's passes on a fake clock (tests/helpers/clock.ts): STK Query on its
 * backoff schedule against the Daraja simulator, expiry after LANGO_STK_EXPIRY_SECONDS, a
 * success that comes after the expiry still credited; the SMS outbox sent to the Africa's
 * Talking simulator after commit, retried, its outcome recorded; expiry reminders by the
 * plan's lead time, in the tenant's language.
 */
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { FakeClock } from '../helpers/clock';
import { stkSuccess } from '../helpers/mpesa';
import { startDarajaSimulator, SIMULATOR_APP, type DarajaSimulator } from '../../src/simulate/daraja-simulator';
import { startSmsSimulator, type SmsSimulator } from '../../src/simulate/sms-simulator';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../src/mpesa/daraja-client';
import { SmsSender } from '../../src/modules/payments/sms';

let tdb: TestDatabase;
let api: TestApi;
let daraja: DarajaSimulator;
let smsSim: SmsSimulator;
let clock: FakeClock;
let t: TestTenant;
let plan: any;
let account: any;
let sms: SmsSender;

beforeAll(async () => {
  tdb = await createTestDatabase();
  clock = new FakeClock(Date.now());
  daraja = await startDarajaSimulator({ answerDelayMs: 0 });
  smsSim = await startSmsSimulator({ apiKey: 'at-key' });
  api = await createTestApi(tdb, undefined, {
    clock,
    env: {
      LANGO_PUBLIC_URL: 'http://127.0.0.1:9',
      LANGO_DARAJA_SANDBOX_URL: daraja.url,
      LANGO_STK_EXPIRY_SECONDS: '120',
      LANGO_STK_FIRST_QUERY_SECONDS: '10',
      LANGO_STK_QUERY_BASE_SECONDS: '15',
      LANGO_STK_QUERY_CAP_SECONDS: '60',
    },
  });
  t = await api.newTenant();
  plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Hourly', durationSeconds: 7200, price: 2000, reminderLeadSeconds: 900 })
  ).body;
  account = (
    await request(api.app).post('/api/v1/mpesa-accounts').set(t.auth).send({
      name: 'Sandbox',
      kind: 'paybill',
      shortcode: SANDBOX_SHORTCODE,
      environment: 'sandbox',
      consumerKey: SIMULATOR_APP.consumerKey,
      consumerSecret: SIMULATOR_APP.consumerSecret,
      passkey: SANDBOX_PASSKEY,
    })
  ).body;
  sms = new SmsSender({
    db: tdb.appDb,
    clock,
    options: { apiKey: 'at-key', username: 'sandbox', baseUrl: smsSim.url, senderId: undefined, maxAttempts: 3 },
  });
});

afterAll(async () => {
  await daraja?.close();
  await smsSim?.close();
  await api?.close();
  await tdb?.drop();
});

async function buyer(phone: string) {
  const res = await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ username: `w-${suffix()}`, password: 'pw-1', planId: plan.id, phone, startSubscription: false });
  expect(res.status).toBe(201);
  return res.body;
}
const row = (id: string) => tdb.db('payments').where({ id }).first();

describe('settlement by STK Query', () => {
  it('queries on the backoff schedule, expires after the documented time, and still credits a late success', async () => {
    const s = await buyer('0708374201');
    daraja.addScenario({ phone: '0708374201', copies: 0, query: 'pending', times: 1 });
    const asked = (await request(api.app).post('/api/v1/payments/stk-push').set(t.auth).send({ subscriberId: s.id }))
      .body;
    expect(asked.state).toBe('pending');
    const t0 = clock.now();
    expect(new Date((await row(asked.id)).next_query_at).getTime()).toBe(t0 + 10_000);

    // Not due yet: nothing is asked.
    expect((await api.services.stk.settleDue()).claimed).toBe(0);
    await clock.advance(10_000);
    expect(await api.services.stk.settleDue()).toMatchObject({ claimed: 1, settled: 0, expired: 0 });
    let p = await row(asked.id);
    expect(p.query_attempts).toBe(1);
    expect(p.claimed_until).toBeNull();
    // retryDelay(1, base 15 s) = 30 s
    expect(new Date(p.next_query_at).getTime()).toBe(clock.now() + 30_000);
    await clock.advance(30_000);
    await api.services.stk.settleDue();
    p = await row(asked.id);
    expect(p.query_attempts).toBe(2);
    // capped at 60 s
    expect(new Date(p.next_query_at).getTime()).toBe(clock.now() + 60_000);

    await clock.advance(81_000); // past expires_at (120 s after the push)
    expect(await api.services.stk.settleDue()).toMatchObject({ claimed: 1, expired: 1 });
    p = await row(asked.id);
    expect(p).toMatchObject({ state: 'expired', settled_by: 'expiry', allocation: null });
    expect((await api.services.stk.settleDue()).claimed).toBe(0);

    // The buyer had paid after all: the success callback is the truth about the money.
    const receipt = `LATE${suffix().toUpperCase()}`;
    const res = await request(api.app)
      .post(account.callbackPaths.stk)
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify(
          stkSuccess({
            checkoutRequestId: asked.checkoutRequestId,
            merchantRequestId: p.merchant_request_id,
            amountKes: 20,
            receipt,
            phone: '254708374201',
          }),
        ),
      );
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: 'Accepted' });
    p = await row(asked.id);
    expect(p).toMatchObject({
      state: 'completed',
      allocation: 'allocated',
      mpesa_receipt: receipt,
      settled_by: 'callback',
    });
    expect(await tdb.db('ledger_entries').where({ payment_id: asked.id })).toHaveLength(1);
  });

  it('a failure callback after the expiry changes nothing', async () => {
    const s = await buyer('0708374202');
    daraja.addScenario({ phone: '0708374202', copies: 0, query: 'pending', times: 1 });
    const asked = (await request(api.app).post('/api/v1/payments/stk-push').set(t.auth).send({ subscriberId: s.id }))
      .body;
    await clock.advance(121_000);
    await api.services.stk.settleDue();
    expect((await row(asked.id)).state).toBe('expired');
    await request(api.app)
      .post(account.callbackPaths.stk)
      .set('Content-Type', 'application/json')
      .send(
        JSON.stringify({
          Body: {
            stkCallback: {
              MerchantRequestID: (await row(asked.id)).merchant_request_id,
              CheckoutRequestID: asked.checkoutRequestId,
              ResultCode: 1032,
              ResultDesc: 'Request cancelled by user',
            },
          },
        }),
      )
      .expect(200);
    expect((await row(asked.id)).state).toBe('expired');
  });
});

describe('the portal entry', () => {
  it('is rate-limited per phone (Daraja refuses repeats within 2 minutes: code 17)', async () => {
    const s = await buyer('0708374220');
    const initiate = () =>
      api.services.stk.initiate({ type: 'system', id: null }, t.id, { subscriberId: s.id }, { portal: true });
    await initiate();
    await initiate();
    await expect(initiate()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await clock.advance(121_000);
    await expect(initiate()).resolves.toMatchObject({ state: 'pending' });
  });
});

describe('SMS outbox', () => {
  it('sends the receipt after commit to the provider, records the message id', async () => {
    const r = await sms.sendDue();
    expect(r.sent).toBeGreaterThanOrEqual(1);
    const sent = await tdb.db('sms_outbox').where({ tenant_id: t.id, status: 'sent' });
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent[0].provider_message_id).toMatch(/^ATXid_/);
    const m = smsSim.messages.find((x) => x.to === '+254708374201');
    expect(m?.message).toMatch(/We received KES 20 \(LATE/);
    expect(m?.username).toBe('sandbox');
    expect((await sms.sendDue()).claimed).toBe(0);
  });

  it('retries after a provider failure with backoff, fails after maxAttempts', async () => {
    await tdb.db('sms_outbox').insert({
      tenant_id: t.id,
      kind: 'receipt',
      dedupe_key: `t-${suffix()}`,
      phone: '0708374299',
      body: 'hello',
      next_attempt_at: clock.date(),
    });
    smsSim.failNext(1);
    expect(await sms.sendDue()).toMatchObject({ claimed: 1, sent: 0 });
    const pending = await tdb.db('sms_outbox').where({ phone: '0708374299' }).first();
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, last_error: 'HTTP 500' });
    expect(new Date(pending.next_attempt_at).getTime()).toBe(clock.now() + 60_000);
    expect((await sms.sendDue()).claimed).toBe(0);
    await clock.advance(60_000);
    expect(await sms.sendDue()).toMatchObject({ claimed: 1, sent: 1 });

    await tdb.db('sms_outbox').insert({
      tenant_id: t.id,
      kind: 'receipt',
      dedupe_key: `t-${suffix()}`,
      phone: '0708374298',
      body: 'never',
      next_attempt_at: clock.date(),
    });
    smsSim.failNext(10);
    for (let i = 0; i < 3; i++) {
      await sms.sendDue();
      await clock.advance(3_600_000);
    }
    smsSim.failNext(0);
    expect(await tdb.db('sms_outbox').where({ phone: '0708374298' }).first()).toMatchObject({
      status: 'failed',
      attempts: 3,
    });
  });

  it('queues one expiry reminder per subscription by the plan lead time, in the tenant language', async () => {
    await tdb.db('tenants').where({ id: t.id }).update({ language: 'sw' });
    const res = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: `r-${suffix()}`, password: 'pw-1', planId: plan.id, phone: '0708374210' });
    expect(res.status).toBe(201);
    expect(await sms.queueReminders()).toBe(0);
    await clock.advance(7200_000 - 900_000 + 1000);
    expect(await sms.queueReminders()).toBeGreaterThanOrEqual(1);
    const before = await tdb.db('sms_outbox').where({ tenant_id: t.id, kind: 'reminder', phone: '0708374210' });
    expect(before).toHaveLength(1);
    expect(before[0].body).toMatch(/inaisha/);
    expect(before[0].body).toContain(res.body.accountNumber);
    await sms.queueReminders();
    expect(await tdb.db('sms_outbox').where({ tenant_id: t.id, kind: 'reminder', phone: '0708374210' })).toHaveLength(
      1,
    );
  });
});
