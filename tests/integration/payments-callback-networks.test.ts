/**
 * LANGO_MPESA_CALLBACK_NETWORKS: a callback from outside the allowed networks is stored (with
 * its source) and answered 403, never applied; from inside it is handled.
 */
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { checkoutId, receiptCode, stkSuccess } from '../helpers/mpesa';

let tdb: TestDatabase;
let api: TestApi;
let open: TestApi;
let t: TestTenant;
let account: any;

beforeAll(async () => {
  tdb = await createTestDatabase();
  // Safaricom's callback addresses (reference/protocols.md 3.6): supertest comes from loopback.
  api = await createTestApi(tdb, undefined, {
    env: { LANGO_MPESA_CALLBACK_NETWORKS: '196.201.214.0/24,196.201.213.0/24,196.201.212.0/24' },
  });
  open = await createTestApi(tdb, undefined, {
    env: { LANGO_MPESA_CALLBACK_NETWORKS: '196.201.214.0/24,127.0.0.0/8' },
  });
  t = await api.newTenant();
  account = (
    await request(api.app).post('/api/v1/mpesa-accounts').set(t.auth).send({
      name: 'pb',
      kind: 'paybill',
      shortcode: '600500',
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    })
  ).body;
});
afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

it('refuses callbacks from outside the allowed networks, keeping them', async () => {
  const id = checkoutId();
  const body = JSON.stringify(
    stkSuccess({ checkoutRequestId: id, amountKes: 50, receipt: receiptCode(), phone: '254708374149' }),
  );
  const res = await request(api.app).post(account.callbackPaths.stk).set('Content-Type', 'application/json').send(body);
  expect(res.status).toBe(403);
  const stored = await tdb.db('mpesa_callbacks').where({ tenant_id: t.id }).orderBy('id', 'desc').first();
  expect(stored).toMatchObject({ outcome: 'source_refused', account_id: account.id });
  expect(stored.source_address).toMatch(/127\.0\.0\.1/);

  const ok = await request(open.app).post(account.callbackPaths.stk).set('Content-Type', 'application/json').send(body);
  expect(ok.status).toBe(200);
  expect((await tdb.db('mpesa_callbacks').where({ tenant_id: t.id }).orderBy('id', 'desc').first()).outcome).toBe(
    'unknown_request',
  );
});
