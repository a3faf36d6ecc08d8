/**
 * The portal's "already paid" (phone + M-Pesa receipt) and free trial, against PostgreSQL:
 * unallocated money claimed once and turned into the package it pays for; a running package
 * restored on a new (randomised) MAC with the oldest device giving way; a wrong pair changes
 * nothing and is throttled per device and per phone; the phone matched by Daraja's SHA-256;
 * the trial once per device and per phone per period, decided by the database under a race.
 * The browser side (the login at the router) is tests/e2e/portal-browser.test.ts.
 */
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { FakeClock } from '../helpers/clock';
import { c2bBody, receiptCode } from '../helpers/mpesa';
import { hashPhone } from '../../src/mpesa/phone';
import type { RouterContext } from '../../src/modules/portal/portal.schemas';
import { AppError } from '../../src/lib/errors';

let tdb: TestDatabase;
let api: TestApi;
let A: TestTenant;
let B: TestTenant;
let account: any;
let nasId: string;
let hourPlan: any;
let dayPlan: any;
let trialPlan: any;
const clock = new FakeClock(Date.now());

const device = (mac: string): RouterContext => ({
  loginUrl: 'http://127.0.0.1/login',
  mac,
  ip: '10.5.50.7',
  chapId: '\\001',
  chapChallenge: '\\002'.repeat(16),
  dst: null,
});

/** Money in by paybill that names nobody (a mistyped account): unallocated, as Daraja sends it now (hashed MSISDN). */
async function strayPayment(phone: string, amountKes: number, billRef = 'TYPO'): Promise<string> {
  const transId = receiptCode();
  const res = await request(api.app)
    .post(account.callbackPaths.c2bConfirmation)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(c2bBody({ transId, amountKes, shortcode: '600100', billRef, msisdn: hashPhone(phone) })));
  expect(res.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
  const p = await tdb.db('payments').where({ mpesa_receipt: transId }).first();
  expect(p).toMatchObject({ allocation: 'unallocated', phone: null, phone_hash: hashPhone(phone) });
  return transId;
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const credits = async (receipt: string) =>
  Number(
    (
      await tdb
        .db('ledger_entries as l')
        .join('payments as p', 'p.id', 'l.payment_id')
        .where({ 'p.mpesa_receipt': receipt, 'l.kind': 'credit' })
        .count({ n: '*' })
    )[0]!.n,
  );

async function openSession(username: string, mac: string, startedMinutesAgo: number): Promise<number> {
  const uid = receiptCode();
  const [r] = await tdb
    .db('radacct')
    .insert({
      tenant_id: A.id,
      nas_id: nasId,
      acctsessionid: uid,
      acctuniqueid: uid,
      username,
      nasipaddress: '127.0.0.1',
      callingstationid: mac,
      acctstarttime: new Date(clock.now() - startedMinutesAgo * 60_000),
      acctupdatetime: new Date(clock.now()),
    })
    .returning('radacctid');
  return Number(r.radacctid);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb, undefined, { clock });
  A = await api.newTenant();
  B = await api.newTenant();
  const plan = async (t: TestTenant, body: Record<string, unknown>) => {
    const res = await request(api.app).post('/api/v1/plans').set(t.auth).send(body);
    expect(res.status).toBe(201);
    return res.body;
  };
  hourPlan = await plan(A, { name: '1 hour', price: 2000, durationSeconds: 3600 });
  dayPlan = await plan(A, { name: 'Day', price: 5000, durationSeconds: 86400, simultaneousUse: 2 });
  await plan(A, { name: 'Staff', price: 1000, durationSeconds: 30 * 86400, sellable: false });
  trialPlan = await plan(A, { name: 'Trial 30 min', price: 0, durationSeconds: 1800, sellable: false });
  const acc = await request(api.app).post('/api/v1/mpesa-accounts').set(A.auth).send({
    name: 'Paybill',
    kind: 'paybill',
    shortcode: '600100',
    environment: 'sandbox',
    consumerKey: 'k',
    consumerSecret: 's',
    passkey: 'p',
  });
  expect(acc.status).toBe(201);
  account = acc.body;
  const nas = await request(api.app)
    .post('/api/v1/nas')
    .set(A.auth)
    .send({ name: 'hs', address: '127.0.0.1', secret: 'nas-secret-1' });
  expect(nas.status).toBe(201);
  nasId = nas.body.id;
});
afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

describe('already paid: unallocated money', () => {
  it('is claimed by phone + receipt into the dearest sellable package it covers, once; a replay restores, credits nothing', async () => {
    const receipt = await strayPayment('0712000001', 60);
    const r = await api.services.portal.restorePaid(
      A.id,
      { phone: '+254 712 000 001', receipt: receipt.toLowerCase() },
      device('AA:00:00:00:00:01'),
    );
    expect(r).toMatchObject({ outcome: 'claimed', username: expect.stringMatching(/^hs-[0-9a-f]{12}$/), displaced: 0 });
    const p = await tdb.db('payments').where({ mpesa_receipt: receipt }).first();
    expect(p).toMatchObject({ allocation: 'allocated', plan_id: dayPlan.id });
    const buyer = await tdb.db('subscribers').where({ id: p.subscriber_id }).first();
    expect(buyer).toMatchObject({ username: r.username, phone_hash: hashPhone('0712000001') });
    const subs = await tdb.db('subscriptions').where({ subscriber_id: buyer.id });
    expect(subs).toHaveLength(1);
    expect(subs[0].plan_id).toBe(dayPlan.id);
    expect(await credits(receipt)).toBe(1);

    // The same receipt again (a reload, another device): the same account, nothing credited twice.
    const again = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000001', receipt },
      device('AA:00:00:00:00:02'),
    );
    expect(again).toMatchObject({ outcome: 'restored', username: r.username, password: r.password });
    expect(await tdb.db('subscriptions').where({ subscriber_id: buyer.id })).toHaveLength(1);
    expect(await credits(receipt)).toBe(1);
  });

  it('another phone with the receipt, or the receipt at another tenant, is "not found" and changes nothing', async () => {
    const receipt = await strayPayment('0712000002', 20);
    const e1 = await failure(
      api.services.portal.restorePaid(A.id, { phone: '0712000099', receipt }, device('AA:00:00:00:00:03')),
    );
    expect(e1.code).toBe('PAYMENT_NOT_FOUND');
    const e2 = await failure(
      api.services.portal.restorePaid(B.id, { phone: '0712000002', receipt }, device('AA:00:00:00:00:03')),
    );
    expect(e2.code).toBe('PAYMENT_NOT_FOUND');
    const p = await tdb.db('payments').where({ mpesa_receipt: receipt }).first();
    expect(p).toMatchObject({ allocation: 'unallocated', subscriber_id: null });
    // The rightful payer still can.
    const ok = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000002', receipt },
      device('AA:00:00:00:00:03'),
    );
    expect(ok.outcome).toBe('claimed');
    expect((await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).plan_id).toBe(hourPlan.id);
  });

  it('too little for any package, or malformed input: a clear error, nothing allocated', async () => {
    const receipt = await strayPayment('0712000003', 5);
    const e = await failure(
      api.services.portal.restorePaid(A.id, { phone: '0712000003', receipt }, device('AA:00:00:00:00:04')),
    );
    expect([e.code, e.message]).toEqual(['INVALID_STATE', expect.stringContaining('too little')]);
    expect((await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).allocation).toBe('unallocated');
    for (const input of [
      { phone: 'call me', receipt },
      { phone: '0712000003', receipt: "QJK3'; --" },
      { phone: '0712000003', receipt: 'X'.repeat(11) },
    ]) {
      expect((await failure(api.services.portal.restorePaid(A.id, input, device('AA:00:00:00:00:04')))).code).toBe(
        'VALIDATION_FAILED',
      );
    }
  });

  it('two claims of one receipt at once credit it once', async () => {
    const receipt = await strayPayment('0712000004', 20);
    const rs = await Promise.all(
      ['AA:00:00:00:00:05', 'AA:00:00:00:00:06'].map((mac) =>
        api.services.portal.restorePaid(A.id, { phone: '0712000004', receipt }, device(mac)),
      ),
    );
    expect(rs.map((r) => r.outcome).sort()).toEqual(['claimed', 'restored']);
    expect(await credits(receipt)).toBe(1);
    const p = await tdb.db('payments').where({ mpesa_receipt: receipt }).first();
    expect(await tdb.db('subscriptions').where({ subscriber_id: p.subscriber_id })).toHaveLength(1);
  });
});

describe('already paid: a running package on a new MAC', () => {
  it('within the device limit the oldest other device gives way (Disconnect queued); an ended package is refused', async () => {
    const receipt = await strayPayment('0712000010', 20);
    const first = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000010', receipt },
      device('AA:00:00:00:01:01'),
    );
    // The 1-hour plan allows one device; the phone's old (randomised) MAC is still online.
    const old = await openSession(first.username, 'AA-00-00-00-01-01', 10);
    const moved = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000010', receipt },
      device('AA:00:00:00:01:02'),
    );
    expect(moved).toMatchObject({ outcome: 'restored', displaced: 1, username: first.username });
    const actions = await tdb.db('enforcement_actions').where({ tenant_id: A.id, radacct_id: old });
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ kind: 'disconnect', status: 'pending' });
    // Already online on this device: nothing to move.
    await openSession(first.username, 'AA:00:00:00:01:02', 0);
    const here = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000010', receipt },
      device('AA:00:00:00:01:02'),
    );
    expect(here.displaced).toBe(0);

    // An hour later the package has ended.
    await clock.advance(3601_000);
    const e = await failure(
      api.services.portal.restorePaid(A.id, { phone: '0712000010', receipt }, device('AA:00:00:00:01:03')),
    );
    expect([e.code, e.message]).toEqual(['INVALID_STATE', expect.stringContaining('has ended')]);
  });

  it('a two-device plan keeps two: the third device moves the oldest only', async () => {
    const receipt = await strayPayment('0712000011', 50);
    const r = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000011', receipt },
      device('AA:00:00:00:02:01'),
    );
    const s1 = await openSession(r.username, 'AA:00:00:00:02:01', 30);
    const s2 = await openSession(r.username, 'AA:00:00:00:02:02', 20);
    const third = await api.services.portal.restorePaid(
      A.id,
      { phone: '0712000011', receipt },
      device('AA:00:00:00:02:03'),
    );
    expect(third.displaced).toBe(1);
    expect((await tdb.db('enforcement_actions').whereIn('radacct_id', [s1, s2])).map((a) => a.radacct_id)).toEqual([
      String(s1),
    ]);
  });
});

describe('already paid: guessing', () => {
  it('wrong pairs cost the device and the phone; past the limit even the right pair waits', async () => {
    const receipt = await strayPayment('0712000020', 20);
    const guesser = device('AA:00:00:00:03:01');
    for (let i = 0; i < 5; i++) {
      const e = await failure(
        api.services.portal.restorePaid(A.id, { phone: '0712000020', receipt: receiptCode() }, guesser),
      );
      expect(e.code).toBe('PAYMENT_NOT_FOUND');
    }
    const limited = await failure(api.services.portal.restorePaid(A.id, { phone: '0712000020', receipt }, guesser));
    expect([limited.code, limited.details?.retryAfterSeconds]).toEqual(['RATE_LIMITED', expect.any(Number)]);
    // The phone is spent too: another device gets no fresh guesses for it.
    const other = await failure(
      api.services.portal.restorePaid(A.id, { phone: '0712000020', receipt }, device('AA:00:00:00:03:02')),
    );
    expect(other.code).toBe('RATE_LIMITED');
    expect((await tdb.db('payments').where({ mpesa_receipt: receipt }).first()).allocation).toBe('unallocated');
  });
});

describe('free trial', () => {
  it('is off by default; the plan must be one of the tenant', async () => {
    const e = await failure(api.services.portal.freeTrial(A.id, '0712000030', device('AA:00:00:00:04:01')));
    expect([e.code, e.message]).toEqual(['INVALID_STATE', 'this network offers no free trial']);
    expect(await api.services.portal.trialPlan(A.id)).toBeUndefined();
    const foreign = await request(api.app)
      .patch('/api/v1/portal-settings')
      .set(B.auth)
      .send({ trialPlanId: trialPlan.id });
    expect([foreign.status, foreign.body.error?.code]).toEqual([404, 'PLAN_NOT_FOUND']);
    const bad = await request(api.app)
      .patch('/api/v1/portal-settings')
      .set(A.auth)
      .send({ trialPlanId: trialPlan.id, trialPeriodHours: 0 });
    expect(bad.status).toBe(400);
  });

  it('once per device and once per phone per period, race-safe', async () => {
    const set = await request(api.app)
      .patch('/api/v1/portal-settings')
      .set(A.auth)
      .send({ trialPlanId: trialPlan.id, trialPeriodHours: 24 });
    expect([set.status, set.body.trialPlanId, set.body.trialPeriodHours]).toEqual([200, trialPlan.id, 24]);
    const t = await api.services.portal.freeTrial(A.id, '0712000031', device('AA:00:00:00:04:02'));
    expect(t.username).toMatch(/^hs-/);
    const sub = await tdb.db('subscriptions').where({ source: 'trial', plan_id: trialPlan.id }).first();
    expect(sub).toBeDefined();
    // The same device with another phone.
    const again = await failure(api.services.portal.freeTrial(A.id, '0712000032', device('AA:00:00:00:04:02')));
    expect(again.message).toBe('this device has had its free trial; choose a package');
    // The trial is running for this phone: a new MAC is pointed to "Already paid".
    const running = await failure(api.services.portal.freeTrial(A.id, '0712000031', device('AA:00:00:00:04:03')));
    expect(running.message).toContain('has a package running');
    // After the trial plan's 30 minutes, within the 24 h period: the phone had its trial.
    await clock.advance(31 * 60_000);
    const phone = await failure(api.services.portal.freeTrial(A.id, '0712000031', device('AA:00:00:00:04:03')));
    expect(phone.message).toBe('this phone has had its free trial; choose a package');

    // Two phones on one new device at once: one trial.
    const both = await Promise.allSettled(
      ['0712000033', '0712000034'].map((p) => api.services.portal.freeTrial(A.id, p, device('AA:00:00:00:04:04'))),
    );
    expect(both.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await tdb.db('portal_trials').where({ tenant_id: A.id, mac_address: 'AA:00:00:00:04:04' })).toHaveLength(1);

    // A day later the device may try again.
    await clock.advance(24 * 3600_000);
    await expect(api.services.portal.freeTrial(A.id, '0712000035', device('AA:00:00:00:04:02'))).resolves.toMatchObject(
      { username: expect.stringMatching(/^hs-/) },
    );
  });
});
