/**
 * Issue 8 end to end: an STK Push asked through the API goes to Lango's Daraja simulator
 * (src/simulate/daraja-simulator.ts, speaking Daraja's shapes), whose callback comes back over
 * HTTP to the callbacks surface; the ledger credits it and the subscription it buys lets the
 * buyer in through a real FreeRADIUS (radclient Access-Accept with the plan's attributes). The
 * worker settles a payment whose callback never comes by STK Query, also after a restart; a
 * payment while the buyer is online reaches the NAS simulator as a CoA; C2B payments come from
 * the simulator with a hashed MSISDN.
 */
import http from 'node:http';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { startTestFreeRadius, type FreeRadiusHandle } from '../helpers/freeradius';
import { radclient, q } from '../helpers/radclient';
import { freeTcpPort } from '../helpers/ports';
import { eventually } from '../helpers/wait';
import { createLogger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import { startWorker, type Worker } from '../../src/jobs/worker';
import { startDarajaSimulator, SIMULATOR_APP, type DarajaSimulator } from '../../src/simulate/daraja-simulator';
import { startNasSimulator, type NasSimulator } from '../../src/simulate/nas-simulator';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../src/mpesa/daraja-client';
import { getString } from '../../src/radius';

jest.setTimeout(90000);

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let daraja: DarajaSimulator;
let server: http.Server;
let t: TestTenant;
let plan: any;
let fastPlan: any;
let account: any;
let worker: Worker | undefined;
const sims: NasSimulator[] = [];
const NAS_SECRET = 'payments-nas-secret';

function startPaymentsWorker(): Worker {
  return startWorker({
    db: tdb.appDb,
    databaseUrl: tdb.appUrl,
    logger: createLogger('silent'),
    options: {
      targets: loadConfig({ LANGO_ENV: 'test' }).enforcementTargets,
      schedule: { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 },
      sender: { retryDelaysMs: [200], pollMs: 200 },
      sweepMs: 0,
      quotaMs: 0,
      staleMs: 0,
    },
    payments: { stk: api.services.stk, settleMs: 200 },
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  daraja = await startDarajaSimulator({ answerDelayMs: 100 });
  const port = await freeTcpPort();
  api = await createTestApi(tdb, undefined, {
    env: {
      LANGO_PUBLIC_URL: `http://127.0.0.1:${port}`,
      LANGO_DARAJA_SANDBOX_URL: daraja.url,
      LANGO_STK_FIRST_QUERY_SECONDS: '1',
      LANGO_STK_QUERY_BASE_SECONDS: '1',
      LANGO_STK_QUERY_CAP_SECONDS: '1',
    },
  });
  server = http.createServer(api.app);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  fr = await startTestFreeRadius(tdb.radiusUrl);
  t = await api.newTenant();
  plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Daily 5M', durationSeconds: 86400, price: 5000, rateLimit: '5M/5M' })
  ).body;
  fastPlan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Daily 10M', durationSeconds: 86400, price: 8000, rateLimit: '10M/10M' })
  ).body;
  const res = await request(api.app).post('/api/v1/mpesa-accounts').set(t.auth).send({
    name: 'Sandbox',
    kind: 'paybill',
    shortcode: SANDBOX_SHORTCODE,
    environment: 'sandbox',
    consumerKey: SIMULATOR_APP.consumerKey,
    consumerSecret: SIMULATOR_APP.consumerSecret,
    passkey: SANDBOX_PASSKEY,
  });
  expect(res.status).toBe(201);
  account = res.body;
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(t.auth)
        .send({ name: 'radclient', address: '127.0.0.1', secret: NAS_SECRET })
    ).status,
  ).toBe(201);
  worker = startPaymentsWorker();
  await worker.ready;
});

afterAll(async () => {
  await worker?.stop();
  for (const s of sims) await s.close();
  await daraja?.close();
  await fr?.stop();
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  await api?.close();
  await tdb?.drop();
});

const auth = (user: string, password: string) =>
  radclient({
    port: fr.authPort,
    secret: NAS_SECRET,
    type: 'auth',
    attrs: [`User-Name = ${q(user)}`, `User-Password = ${q(password)}`, 'NAS-IP-Address = 127.0.0.1'],
  });

async function buyer(phone: string, planId = plan.id) {
  const res = await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ username: `buyer-${suffix()}`, password: 'pw-1', planId, phone, startSubscription: false });
  expect(res.status).toBe(201);
  return res.body;
}

const push = async (subscriberId: string, extra: Record<string, unknown> = {}) => {
  const res = await request(api.app)
    .post('/api/v1/payments/stk-push')
    .set(t.auth)
    .send({ subscriberId, ...extra });
  if (res.status !== 201) throw new Error(`stk push: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
};

const final = (id: string) =>
  eventually(
    async () => {
      const p = (await request(api.app).get(`/api/v1/payments/${id}`).set(t.auth)).body;
      return p.state === 'pending' ? undefined : p;
    },
    `payment ${id} settled`,
    30000,
  );

describe('STK Push through the simulator, FreeRADIUS and the worker', () => {
  it('STK -> callback -> ledger -> subscription -> Access-Accept with the plan attributes', async () => {
    const s = await buyer('0708374101');
    expect((await auth(s.username, 'pw-1')).code).toBe('Access-Reject');
    const asked = await push(s.id);
    expect(asked).toMatchObject({
      state: 'pending',
      amount: 5000,
      phone: '254708374101',
      checkoutRequestId: expect.stringMatching(/^ws_CO_/),
    });
    const p = await final(asked.id);
    expect(p).toMatchObject({
      state: 'completed',
      allocation: 'allocated',
      settledBy: 'callback',
      mpesaReceipt: expect.stringMatching(/^[A-Z0-9]{10}$/),
    });
    const r = await auth(s.username, 'pw-1');
    expect(r.code).toBe('Access-Accept');
    expect(r.attrs['Mikrotik-Rate-Limit']).toEqual(['5M/5M']);
    expect(Number(r.attrs['Session-Timeout']![0])).toBeGreaterThan(86400 - 120);
    expect(await tdb.db('ledger_entries').where({ payment_id: p.id })).toHaveLength(1);
  });

  it('duplicate callbacks from the simulator credit once', async () => {
    const s = await buyer('0708374102');
    daraja.addScenario({ phone: '0708374102', copies: 5, times: 1 });
    const asked = await push(s.id);
    await final(asked.id);
    await eventually(
      async () => daraja.transactions.get(asked.checkoutRequestId)?.deliveries.length === 5,
      'five deliveries',
    );
    await daraja.idle();
    expect(await tdb.db('ledger_entries').where({ payment_id: asked.id })).toHaveLength(1);
    expect(await tdb.db('subscriptions').where({ subscriber_id: s.id })).toHaveLength(1);
    const outcomes = (await tdb.db('mpesa_callbacks').where({ checkout_request_id: asked.checkoutRequestId }))
      .map((c) => c.outcome)
      .sort();
    expect(outcomes).toEqual(['credited', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
  });

  it('1032 (cancelled) never activates', async () => {
    const s = await buyer('0708374103');
    daraja.addScenario({ phone: '0708374103', result: 'cancelled', times: 1 });
    const p = await final((await push(s.id)).id);
    expect(p.state).toBe('cancelled');
    expect((await auth(s.username, 'pw-1')).code).toBe('Access-Reject');
    expect(await tdb.db('ledger_entries').where({ payment_id: p.id })).toHaveLength(0);
  });

  it('a callback that never comes is settled by STK Query', async () => {
    const s = await buyer('0708374104');
    daraja.addScenario({ phone: '0708374104', copies: 0, times: 1 });
    const p = await final((await push(s.id)).id);
    expect(p).toMatchObject({ state: 'completed', settledBy: 'query', allocation: 'allocated' });
    expect(p.queryAttempts).toBeGreaterThanOrEqual(1);
    expect((await auth(s.username, 'pw-1')).code).toBe('Access-Accept');
  });

  it('a worker restarted in the middle of settlement loses nothing', async () => {
    await worker!.stop();
    worker = undefined;
    const s = await buyer('0708374105');
    daraja.addScenario({ phone: '0708374105', copies: 0, times: 1 });
    const asked = await push(s.id);
    // The stopped worker had claimed it and died: its lease is still on the row.
    await tdb
      .db('payments')
      .where({ id: asked.id })
      .update({ claimed_until: tdb.db.raw(`now() + interval '1 second'`), next_query_at: tdb.db.raw('now()') });
    expect((await tdb.db('payments').where({ id: asked.id }).first()).state).toBe('pending');
    worker = startPaymentsWorker();
    await worker.ready;
    const p = await final(asked.id);
    expect(p).toMatchObject({ state: 'completed', settledBy: 'query', allocation: 'allocated' });
    expect(await tdb.db('ledger_entries').where({ payment_id: asked.id })).toHaveLength(1);
  });

  it('Daraja busy: the buyer gets a clear message and nothing is left pending', async () => {
    const s = await buyer('0708374106');
    daraja.addScenario({ phone: '0708374106', reject: 'busy', times: 1 });
    const res = await request(api.app).post('/api/v1/payments/stk-push').set(t.auth).send({ subscriberId: s.id });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_BUSY');
    const rows = await tdb.db('payments').where({ subscriber_id: s.id });
    expect(rows.map((r) => r.state)).toEqual(['failed']);
  });

  it('a payment while the buyer is online changes the live session (the NAS simulator sees the CoA)', async () => {
    const address = '127.0.0.61';
    const secret = `nas-${suffix()}`;
    const sim = await startNasSimulator({
      radius: { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret },
      coa: { host: address },
      bindAddress: address,
    });
    sims.push(sim);
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(t.auth)
          .send({ name: 'sim', address, secret, coaPort: sim.coaPort })
      ).status,
    ).toBe(201);
    const s = (
      await request(api.app)
        .post('/api/v1/subscribers')
        .set(t.auth)
        .send({ username: `online-${suffix()}`, password: 'pw-1', planId: plan.id, phone: '0708374107' })
    ).body;
    const login = await eventually(async () => {
      const l = await sim.login(s.username, 'pw-1');
      return l.accepted ? l : undefined;
    }, 'login');
    const acctSessionId = login.session!.acctSessionId;
    await eventually(
      async () => (await tdb.db('radacct').where({ acctsessionid: acctSessionId }).first())?.acctstoptime === null,
      'accounting start',
    );
    const p = await final((await push(s.id, { planId: fastPlan.id })).id);
    expect(p).toMatchObject({ state: 'completed', allocation: 'allocated', planId: fastPlan.id });
    const coa = await eventually(async () => sim.received.find((r) => r.codeName === 'CoA-Request'), 'CoA at the NAS');
    expect(coa.answer?.codeName).toBe('CoA-ACK');
    expect(getString(coa.attributes, 'Mikrotik-Rate-Limit')).toBe('10M/10M');
    expect(sim.session(acctSessionId)).toMatchObject({ rateLimit: '10M/10M' });
  });
});

describe('C2B through the simulator', () => {
  beforeAll(async () => {
    const reg = await request(api.app).post(`/api/v1/mpesa-accounts/${account.id}/register-c2b`).set(t.auth).send({});
    expect(reg.status).toBe(200);
  });

  it('by account reference, by hashed phone, and unmatched then assigned', async () => {
    const byRef = await buyer('0708374111');
    const byPhone = await buyer('0708374112');
    const nobody = await buyer('0708374113');
    const r1 = await daraja.c2bPayment({
      amount: 50,
      phone: '0700000001',
      billRefNumber: byRef.accountNumber,
      msisdn: 'hashed',
    });
    const r2 = await daraja.c2bPayment({ amount: 50, phone: '0708374112', msisdn: 'hashed' });
    const r3 = await daraja.c2bPayment({ amount: 50, phone: '0700000003', billRefNumber: 'WRONG', msisdn: 'masked' });
    for (const r of [r1, r2, r3]) expect(r.confirmation?.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    const get = (transId: string) => tdb.db('payments').where({ mpesa_receipt: transId }).first();
    expect(await get(r1.transId)).toMatchObject({ allocation: 'allocated', subscriber_id: byRef.id });
    expect(await get(r2.transId)).toMatchObject({ allocation: 'allocated', subscriber_id: byPhone.id });
    const p3 = await get(r3.transId);
    expect(p3).toMatchObject({ allocation: 'unallocated' });
    expect((await auth(byRef.username, 'pw-1')).code).toBe('Access-Accept');
    expect((await auth(byPhone.username, 'pw-1')).code).toBe('Access-Accept');
    expect((await auth(nobody.username, 'pw-1')).code).toBe('Access-Reject');
    expect(
      (await request(api.app).post(`/api/v1/payments/${p3.id}/assign`).set(t.auth).send({ subscriberId: nobody.id }))
        .status,
    ).toBe(200);
    expect((await auth(nobody.username, 'pw-1')).code).toBe('Access-Accept');
  });
});
