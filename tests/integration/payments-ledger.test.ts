/**
 * The ledger through its HTTP surfaces (issue 8): Daraja's callbacks are posted as Daraja posts
 * them, payments and money are read back through the API and the tables. Exactly once, never
 * credited on a mismatch, every body stored, money that matches nothing left unallocated and
 * assigned by staff.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { c2bBody, checkoutId, receiptCode, stkFailure, stkSuccess } from '../helpers/mpesa';

let tdb: TestDatabase;
let api: TestApi;
let A: TestTenant;
let B: TestTenant;
let planA: any;
let accountA: any;
let accountA2: any;
let accountB: any;

const SECRET_VALUES = ['consumer-key-aaaa', 'consumer-secret-bbbb', 'passkey-cccc'];

async function newAccount(t: TestTenant, shortcode: string, extra: Record<string, unknown> = {}) {
  const res = await request(api.app)
    .post('/api/v1/mpesa-accounts')
    .set(t.auth)
    .send({
      name: `Paybill ${shortcode}`,
      kind: 'paybill',
      shortcode,
      environment: 'sandbox',
      consumerKey: SECRET_VALUES[0],
      consumerSecret: SECRET_VALUES[1],
      passkey: SECRET_VALUES[2],
      ...extra,
    });
  expect(res.status).toBe(201);
  return res.body;
}

async function subscriber(t: TestTenant, body: Record<string, unknown>) {
  const res = await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ password: 'pw-123456', ...body });
  if (res.status !== 201) throw new Error(`subscriber: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A pending STK payment as StkService.initiate leaves it after Daraja accepted the push. */
async function pendingStk(t: TestTenant, account: any, sub: any, plan: any, phone = '254708374149') {
  const id = checkoutId();
  const [row] = await tdb
    .db('payments')
    .insert({
      tenant_id: t.id,
      account_id: account.id,
      channel: 'stk',
      checkout_request_id: id,
      merchant_request_id: '29115-34620561-1',
      phone,
      amount: plan.price,
      plan_id: plan.id,
      subscriber_id: sub.id,
      account_ref: 'X',
      expires_at: new Date(Date.now() + 600_000),
      next_query_at: new Date(Date.now() + 600_000),
    })
    .returning('*');
  return { checkoutRequestId: id, payment: row };
}

const post = (path: string, body: unknown, type = 'application/json') =>
  request(api.app)
    .post(path)
    .set('Content-Type', type)
    .send(typeof body === 'string' ? body : JSON.stringify(body));

/** Bytes exactly as given (superagent would serialize a Buffer sent as JSON). */
async function postBytes(path: string, bytes: Buffer, type: string): Promise<{ status: number; body: any }> {
  const server = http.createServer(api.app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': type },
      body: bytes,
    });
    return { status: res.status, body: await res.json() };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const credits = async (paymentId: string) =>
  Number(
    (
      await tdb.db('ledger_entries').where({ payment_id: paymentId, kind: 'credit' }).count<{ n: string }[]>({ n: '*' })
    )[0]!.n,
  );
const subscriptionsOf = async (subscriberId: string) =>
  tdb.db('subscriptions').where({ subscriber_id: subscriberId, status: 'active' }).orderBy('starts_at');

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  A = await api.newTenant();
  B = await api.newTenant();
  planA = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(A.auth)
      .send({ name: 'Daily', durationSeconds: 86400, price: 5000, rateLimit: '2M/2M' })
  ).body;
  expect(planA.id).toBeDefined();
  accountA = await newAccount(A, '600100');
  accountA2 = await newAccount(A, '600200');
  accountB = await newAccount(B, '600300');
});

afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

describe('M-Pesa accounts', () => {
  it('never return the credentials, and store them sealed', async () => {
    const list = await request(api.app).get('/api/v1/mpesa-accounts').set(A.auth);
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.body);
    for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    const row = await tdb.db('mpesa_accounts').where({ id: accountA.id }).first();
    for (const v of SECRET_VALUES) expect(JSON.stringify(row)).not.toContain(v);
    expect(accountA.callbackPaths.stk).toMatch(/^\/callbacks\/pay\/[0-9a-f]{64}\/stk$/);
  });

  it('open only where they were sealed (a value copied to another tenant does not open)', async () => {
    const a = await tdb.db('mpesa_accounts').where({ id: accountA.id }).first();
    expect(api.services.mpesaAccounts.darajaAccount(a)).toMatchObject({
      consumerKey: SECRET_VALUES[0],
      consumerSecret: SECRET_VALUES[1],
      passkey: SECRET_VALUES[2],
    });
    const b = await tdb.db('mpesa_accounts').where({ id: accountB.id }).first();
    expect(() => api.services.mpesaAccounts.darajaAccount({ ...b, passkey_sealed: a.passkey_sealed })).toThrow();
  });

  it('are per tenant', async () => {
    expect((await request(api.app).get(`/api/v1/mpesa-accounts/${accountA.id}`).set(B.auth)).status).toBe(404);
    const dup = await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
      name: 'again',
      kind: 'paybill',
      shortcode: '600100',
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('MPESA_ACCOUNT_EXISTS');
  });

  it('a till needs its store number', async () => {
    const res = await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
      name: 'till',
      kind: 'till',
      shortcode: '5000111',
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    });
    expect(res.status).toBe(400);
  });

  it('rotating the token retires the old callback URLs', async () => {
    const acc = await newAccount(A, '600900');
    const rotated = (await request(api.app).post(`/api/v1/mpesa-accounts/${acc.id}/rotate-token`).set(A.auth).send({}))
      .body;
    expect(rotated.callbackPaths.stk).not.toBe(acc.callbackPaths.stk);
    const old = await post(acc.callbackPaths.stk, stkFailure({ checkoutRequestId: 'ws_CO_x', code: 1032 }));
    expect(old.status).toBe(404);
  });
});

describe('STK callbacks', () => {
  it('a success credits once and buys the plan from now', async () => {
    const sub = await subscriber(A, {
      username: 'stk-1',
      planId: planA.id,
      startSubscription: false,
      phone: '0708374149',
    });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    const before = Date.now();
    const res = await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: 'Accepted' });
    const p = (await request(api.app).get(`/api/v1/payments/${payment.id}`).set(A.auth)).body;
    expect(p).toMatchObject({ state: 'completed', allocation: 'allocated', settledBy: 'callback', amount: 5000 });
    expect(await credits(payment.id)).toBe(1);
    const subs = await subscriptionsOf(sub.id);
    expect(subs).toHaveLength(1);
    expect(new Date(subs[0].starts_at).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(subs[0].ends_at).getTime() - new Date(subs[0].starts_at).getTime()).toBe(86400_000);
    const sms = await tdb.db('sms_outbox').where({ tenant_id: A.id, dedupe_key: `receipt:${payment.id}` });
    expect(sms).toHaveLength(1);
    expect(sms[0].body).toContain('KES 50');
    expect(sms[0].body).toContain('Daily');
  });

  it('a second payment while the first is running extends from its end', async () => {
    const sub = await subscriber(A, { username: 'stk-extend', planId: planA.id, phone: '0708374150' });
    const [first] = await subscriptionsOf(sub.id);
    const { checkoutRequestId } = await pendingStk(A, accountA, sub, planA, '254708374150');
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374150' }),
    ).expect(200);
    const subs = await subscriptionsOf(sub.id);
    expect(subs).toHaveLength(2);
    expect(new Date(subs[1].starts_at).getTime()).toBe(new Date(first.ends_at).getTime());
  });

  it('the same callback 50 times in a row credits once', async () => {
    const sub = await subscriber(A, { username: 'stk-serial', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    const body = stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' });
    for (let i = 0; i < 50; i++)
      expect((await post(accountA.callbackPaths.stk, body)).body).toEqual({ ResultCode: 0, ResultDesc: 'Accepted' });
    expect(await credits(payment.id)).toBe(1);
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
    const outcomes = await tdb
      .db('mpesa_callbacks')
      .where({ checkout_request_id: checkoutRequestId })
      .select('outcome');
    expect(outcomes).toHaveLength(50);
    expect(outcomes.filter((o) => o.outcome === 'credited')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'duplicate')).toHaveLength(49);
  });

  it('the same callback 50 times at once credits once', async () => {
    const sub = await subscriber(A, { username: 'stk-burst', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    const body = stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' });
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(accountA.callbackPaths.stk, body)));
    for (const a of answers) expect(a.status).toBe(200);
    expect(await credits(payment.id)).toBe(1);
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
    expect(await tdb.db('ledger_entries').where({ tenant_id: A.id, payment_id: payment.id })).toHaveLength(1);
  });

  it('a wrong amount is not credited (the payment stays pending for the query to settle)', async () => {
    const sub = await subscriber(A, { username: 'stk-amount', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 1, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    const p = await tdb.db('payments').where({ id: payment.id }).first();
    expect(p.state).toBe('pending');
    expect(await credits(payment.id)).toBe(0);
    expect((await tdb.db('mpesa_callbacks').where({ checkout_request_id: checkoutRequestId }).first()).outcome).toBe(
      'amount_mismatch',
    );
  });

  it('a callback through another account (another shortcode) is not credited', async () => {
    const sub = await subscriber(A, { username: 'stk-shortcode', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await post(
      accountA2.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    // Another tenant's URL does not even find the payment.
    await post(
      accountB.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    expect((await tdb.db('payments').where({ id: payment.id }).first()).state).toBe('pending');
    expect(await credits(payment.id)).toBe(0);
    const outcomes = (
      await tdb.db('mpesa_callbacks').where({ checkout_request_id: checkoutRequestId }).orderBy('id')
    ).map((r) => r.outcome);
    expect(outcomes).toEqual(['account_mismatch', 'unknown_request']);
  });

  it('a wrong phone is not credited', async () => {
    const sub = await subscriber(A, { username: 'stk-phone', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254711000000' }),
    ).expect(200);
    expect(await credits(payment.id)).toBe(0);
  });

  it('a bad token is stored without a tenant, answered 404, never credited', async () => {
    const sub = await subscriber(A, { username: 'stk-token', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    const res = await post(
      `/callbacks/pay/${'0'.repeat(64)}/stk`,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    );
    expect(res.status).toBe(404);
    expect(await credits(payment.id)).toBe(0);
    const stored = await tdb.db('mpesa_callbacks').whereNull('tenant_id').orderBy('id', 'desc').first();
    expect(stored.outcome).toBe('bad_token');
    expect(Buffer.from(stored.body).toString()).toContain(checkoutRequestId);
  });

  it('1032 (cancelled) never activates, and a success after it changes nothing', async () => {
    const sub = await subscriber(A, { username: 'stk-1032', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await post(accountA.callbackPaths.stk, stkFailure({ checkoutRequestId, code: 1032 })).expect(200);
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    const p = (await request(api.app).get(`/api/v1/payments/${payment.id}`).set(A.auth)).body;
    expect(p.state).toBe('cancelled');
    expect(p.message).toMatch(/cancelled/);
    expect(await credits(payment.id)).toBe(0);
    expect(await subscriptionsOf(sub.id)).toHaveLength(0);
  });

  it('a string result code (SFC_IC0003) fails the payment', async () => {
    const sub = await subscriber(A, { username: 'stk-sfc', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await post(
      accountA.callbackPaths.stk,
      stkFailure({ checkoutRequestId, code: 'SFC_IC0003', desc: 'mismatch' }),
    ).expect(200);
    expect((await tdb.db('payments').where({ id: payment.id }).first()).state).toBe('failed');
  });

  it('an unknown CheckoutRequestID is kept for review, never credited', async () => {
    const id = checkoutId();
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId: id, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    const list = await request(api.app).get('/api/v1/payments/callbacks?outcome=unknown_request').set(A.auth);
    expect(list.status).toBe(200);
    expect(list.body.data.some((c: any) => c.checkoutRequestId === id)).toBe(true);
    expect(await tdb.db('payments').where({ checkout_request_id: id })).toHaveLength(0);
  });

  it('a payment for a suspended subscriber is credited and left unallocated', async () => {
    const sub = await subscriber(A, { username: 'stk-suspended', planId: planA.id, startSubscription: false });
    const { checkoutRequestId, payment } = await pendingStk(A, accountA, sub, planA);
    await request(api.app).post(`/api/v1/subscribers/${sub.id}/suspend`).set(A.auth).send({}).expect(200);
    await post(
      accountA.callbackPaths.stk,
      stkSuccess({ checkoutRequestId, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
    ).expect(200);
    const p = (await request(api.app).get(`/api/v1/payments/${payment.id}`).set(A.auth)).body;
    expect(p).toMatchObject({
      state: 'completed',
      allocation: 'unallocated',
      unallocatedReason: 'subscriber_suspended',
    });
    expect(await credits(payment.id)).toBe(1);
    expect(await subscriptionsOf(sub.id)).toHaveLength(0);
  });
});

describe('bad callback bodies: stored, answered as Daraja expects, never credited', () => {
  const cases: Array<[string, () => PromiseLike<{ status: number; body: any }>]> = [
    ['missing fields', () => post(accountA.callbackPaths.stk, { Body: { stkCallback: { ResultCode: 0 } } })],
    [
      'success without metadata',
      () =>
        post(accountA.callbackPaths.stk, {
          Body: {
            stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'ws_CO_none', ResultCode: 0, ResultDesc: 'ok' },
          },
        }),
    ],
    [
      'numbers as strings',
      () =>
        post(accountA.callbackPaths.stk, {
          Body: {
            stkCallback: {
              MerchantRequestID: 'm',
              CheckoutRequestID: 'ws_CO_str',
              ResultCode: '0',
              ResultDesc: 'ok',
              CallbackMetadata: {
                Item: [
                  { Name: 'Amount', Value: '50.00' },
                  { Name: 'MpesaReceiptNumber', Value: 'ABC' },
                ],
              },
            },
          },
        }),
    ],
    ['not JSON', () => post(accountA.callbackPaths.stk, '{"Body":', 'application/json')],
    ['wrong content type', () => post(accountA.callbackPaths.stk, '<xml/>', 'application/xml')],
    [
      'non-UTF-8',
      () => postBytes(accountA.callbackPaths.stk, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'application/json'),
    ],
    ['deep', () => post(accountA.callbackPaths.stk, '['.repeat(5000) + ']'.repeat(5000), 'application/json')],
    [
      'huge',
      () =>
        post(
          accountA.callbackPaths.stk,
          JSON.stringify({ Body: { stkCallback: { pad: 'x'.repeat(200_000) } } }),
          'application/json',
        ),
    ],
    ['an array', () => post(accountA.callbackPaths.stk, [1, 2, 3])],
    ['C2B garbage', () => post(accountA.callbackPaths.c2bConfirmation, { TransID: 12, TransAmount: 'lots' })],
  ];
  it.each(cases)('%s', async (_name, send) => {
    const before = Number((await tdb.db('ledger_entries').count<{ n: string }[]>({ n: '*' }))[0]!.n);
    const last = await tdb.db('mpesa_callbacks').max<{ m: string | null }[]>({ m: 'id' });
    const res = await send();
    expect(res.status).toBe(200);
    expect(res.body.ResultCode).toBe(0);
    const stored = await tdb
      .db('mpesa_callbacks')
      .where('id', '>', last[0]!.m ?? 0)
      .andWhere({ tenant_id: A.id });
    expect(stored).toHaveLength(1);
    expect(['invalid', 'unknown_request']).toContain(stored[0].outcome);
    expect(stored[0].body.length).toBeLessThanOrEqual(16384);
    expect(Number((await tdb.db('ledger_entries').count<{ n: string }[]>({ n: '*' }))[0]!.n)).toBe(before);
  });

  it('the raw events are listed with their bodies (base64 when not UTF-8)', async () => {
    const list = await request(api.app).get('/api/v1/payments/callbacks?kind=stk&limit=100').set(A.auth);
    expect(list.status).toBe(200);
    expect(list.body.data.some((c: any) => c.bodyEncoding === 'base64')).toBe(true);
    expect(
      (await request(api.app).get('/api/v1/payments/callbacks').set(B.auth)).body.data.every(
        (c: any) => c.accountId === accountB.id,
      ),
    ).toBe(true);
  });
});

describe('C2B', () => {
  it('validation rejects an unknown account when the account checks them', async () => {
    const checking = await newAccount(A, '600400', { validateAccounts: true });
    const sub = await subscriber(A, { username: 'c2b-valid', planId: planA.id, startSubscription: false });
    const ok = await post(
      checking.callbackPaths.c2bValidation,
      c2bBody({
        transId: receiptCode(),
        amountKes: 50,
        shortcode: '600400',
        billRef: sub.accountNumber,
        msisdn: '2547****149',
      }),
    );
    expect(ok.body).toEqual({ ResultCode: '0', ResultDesc: 'Accepted' });
    const bad = await post(
      checking.callbackPaths.c2bValidation,
      c2bBody({ transId: receiptCode(), amountKes: 50, shortcode: '600400', billRef: 'NOPE', msisdn: '2547****149' }),
    );
    expect(bad.body).toEqual({ ResultCode: 'C2B00012', ResultDesc: 'Rejected' });
    const wrongShortcode = await post(
      accountA.callbackPaths.c2bValidation,
      c2bBody({ transId: receiptCode(), amountKes: 50, shortcode: '999999', msisdn: '2547****149' }),
    );
    expect(wrongShortcode.body).toEqual({ ResultCode: 'C2B00015', ResultDesc: 'Rejected' });
  });

  it('confirmation credits by account reference', async () => {
    const sub = await subscriber(A, { username: 'c2b-ref', planId: planA.id, startSubscription: false });
    expect(sub.accountNumber).toMatch(/^A\d+$/);
    const transId = receiptCode();
    const res = await post(
      accountA.callbackPaths.c2bConfirmation,
      c2bBody({
        transId,
        amountKes: '50.00',
        shortcode: '600100',
        billRef: sub.accountNumber.toLowerCase(),
        msisdn: '2547****149',
      }),
    );
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    const p = await tdb.db('payments').where({ mpesa_receipt: transId }).first();
    expect(p).toMatchObject({ channel: 'c2b', state: 'completed', allocation: 'allocated', subscriber_id: sub.id });
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
    // Daraja sends it again: nothing changes.
    await post(
      accountA.callbackPaths.c2bConfirmation,
      c2bBody({ transId, amountKes: '50.00', shortcode: '600100', billRef: sub.accountNumber, msisdn: '2547****149' }),
    ).expect(200);
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
    expect(await credits(p.id)).toBe(1);
  });

  it('confirmation credits by the SHA-256 of the phone when there is no reference', async () => {
    const sub = await subscriber(A, {
      username: 'c2b-hash',
      planId: planA.id,
      startSubscription: false,
      phone: '+254 712 345 678',
    });
    const hash = createHash('sha256').update('254712345678').digest('hex');
    const transId = receiptCode();
    await post(
      accountA.callbackPaths.c2bConfirmation,
      c2bBody({ transId, amountKes: 50, shortcode: '600100', msisdn: hash }),
    ).expect(200);
    const p = await tdb.db('payments').where({ mpesa_receipt: transId }).first();
    expect(p).toMatchObject({ allocation: 'allocated', subscriber_id: sub.id, phone_hash: hash });
  });

  it('money that matches nothing is unallocated, then assigned by staff', async () => {
    const sub = await subscriber(A, { username: 'c2b-assign', planId: planA.id, startSubscription: false });
    const transId = receiptCode();
    await post(
      accountA.callbackPaths.c2bConfirmation,
      c2bBody({ transId, amountKes: 50, shortcode: '600100', billRef: 'TYPO', msisdn: '2547****999' }),
    ).expect(200);
    const list = await request(api.app).get('/api/v1/payments?allocation=unallocated').set(A.auth);
    const p = list.body.data.find((x: any) => x.mpesaReceipt === transId);
    expect(p).toMatchObject({ state: 'completed', allocation: 'unallocated', unallocatedReason: 'no_subscriber' });
    expect(await credits(p.id)).toBe(1);
    // Another tenant cannot touch it.
    expect(
      (await request(api.app).post(`/api/v1/payments/${p.id}/assign`).set(B.auth).send({ subscriberId: sub.id }))
        .status,
    ).toBe(404);
    const assigned = await request(api.app)
      .post(`/api/v1/payments/${p.id}/assign`)
      .set(A.auth)
      .send({ subscriberId: sub.id });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ allocation: 'allocated', subscriberId: sub.id });
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
    expect(await credits(p.id)).toBe(1);
    const again = await request(api.app)
      .post(`/api/v1/payments/${p.id}/assign`)
      .set(A.auth)
      .send({ subscriberId: sub.id });
    expect(again.status).toBe(409);
    expect(await subscriptionsOf(sub.id)).toHaveLength(1);
  });

  it('too little for the plan stays unallocated; refund marking is recorded once', async () => {
    const sub = await subscriber(A, { username: 'c2b-little', planId: planA.id, startSubscription: false });
    const transId = receiptCode();
    await post(
      accountA.callbackPaths.c2bConfirmation,
      c2bBody({ transId, amountKes: 10, shortcode: '600100', billRef: sub.accountNumber, msisdn: '2547****149' }),
    ).expect(200);
    const p = await tdb.db('payments').where({ mpesa_receipt: transId }).first();
    expect(p).toMatchObject({ allocation: 'unallocated', unallocated_reason: 'amount_below_price' });
    const r = await request(api.app)
      .post(`/api/v1/payments/${p.id}/refund`)
      .set(A.auth)
      .send({ note: 'sent back from the org portal' });
    expect(r.status).toBe(200);
    expect(r.body.allocation).toBe('refunded');
    expect(
      (await request(api.app).post(`/api/v1/payments/${p.id}/refund`).set(A.auth).send({ note: 'again' })).status,
    ).toBe(409);
    const entries = await tdb.db('ledger_entries').where({ payment_id: p.id }).orderBy('id');
    expect(entries.map((e) => [e.kind, Number(e.amount)])).toEqual([
      ['credit', 1000],
      ['refund', -1000],
    ]);
  });
});

describe('reconciliation and statements', () => {
  it('a day in the tenant time zone: expected, credited, unallocated', async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Africa/Nairobi' }).format(new Date());
    const r = await request(api.app).get(`/api/v1/payments/reconciliation?date=${today}`).set(A.auth);
    expect(r.status).toBe(200);
    expect(r.body.timeZone).toBe('Africa/Nairobi');
    expect(r.body.credited).toBeGreaterThan(0);
    expect(r.body.unallocated).toBeGreaterThan(0);
    expect(r.body.expectedCount).toBeGreaterThan(0);
    const rows = await tdb
      .db('payments')
      .where({ tenant_id: A.id, state: 'completed' })
      .sum<{ s: string }[]>({ s: 'amount' });
    expect(r.body.credited).toBe(Number(rows[0]!.s));
  });

  it('a statement import reports what the ledger is missing and has in excess', async () => {
    const known = await tdb
      .db('payments')
      .where({ tenant_id: A.id, state: 'completed', channel: 'c2b' })
      .orderBy('created_at')
      .first();
    const csv = [
      'Organization Name,Demo',
      'Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance',
      `${known.mpesa_receipt},2026-12-02 10:21:15,2026-12-02 10:21:15,Pay Bill,Completed,"${(Number(known.amount) / 100).toFixed(2)}",,1000.00`,
      'ZZZ9999999,2026-12-02 10:22:00,2026-12-02 10:22:00,Pay Bill,Completed,"1,200.00",,2200.00',
      'bad line,,,,Completed,12.00,,',
      'WWW1111111,2026-12-02 10:23:00,2026-12-02 10:23:00,Withdrawal,Completed,,500.00,1700.00',
    ].join('\n');
    const r = await request(api.app).post('/api/v1/payments/statement').set(A.auth).send({ csv });
    expect(r.status).toBe(200);
    expect(r.body.lines).toBe(2);
    expect(r.body.matched).toBe(1);
    expect(r.body.missing).toEqual([
      { receipt: 'ZZZ9999999', amount: 120000, completedAt: '2026-12-02T07:22:00.000Z' },
    ]);
    expect(r.body.unreadable).toHaveLength(1);
  });
});
