/**
 * Vouchers through a real FreeRADIUS running freeradius/: PAP (radclient) and CHAP (radtest and
 * Lango's RADIUS client), the plan's attributes on the Accept, the device binding in post-auth,
 * expired and revoked vouchers, and the same code in two tenants.
 */
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi, TestTenant } from '../helpers/api';
import { startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { radclient, radtest, q } from '../helpers/radclient';
import { RadiusClient, PacketCode, getString } from '../../src/radius';

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let A: TestTenant;
let B: TestTenant;
let planA: any;
let planB: any;
const SECRET_A = 'voucher-secret-a';
const SECRET_B = 'voucher-secret-b';
const clients: RadiusClient[] = [];

async function batch(t: TestTenant, planId: string, body: Record<string, unknown> = {}): Promise<string[]> {
  const res = await request(api.app)
    .post('/api/v1/voucher-batches')
    .set(t.auth)
    .send({ planId, quantity: 1, ...body });
  if (res.status !== 201) throw new Error(`batch: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.codes;
}

const pap = (code: string, mac: string, password = code) =>
  radclient({
    port: fr.authPort,
    secret: SECRET_A,
    type: 'auth',
    attrs: [
      `User-Name = ${q(code)}`,
      `User-Password = ${q(password)}`,
      'NAS-IP-Address = 127.0.0.1',
      `Calling-Station-Id = ${q(mac)}`,
    ],
  });

function nas(bindAddress: string, secret: string): RadiusClient {
  const c = new RadiusClient({
    host: '127.0.0.1',
    port: fr.authPort,
    secret,
    bindAddress,
    timeoutMs: 1500,
    retries: 2,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  fr = await startTestFreeRadius(tdb.radiusUrl);
  A = await api.newTenant();
  B = await api.newTenant();
  planA = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(A.auth)
      .send({
        name: 'Day 2 GB',
        durationSeconds: 86400,
        dataQuotaBytes: 6 * 1024 ** 3,
        rateLimit: '2M/4M',
        interimIntervalSeconds: 120,
      })
  ).body;
  planB = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(B.auth)
      .send({ name: 'Hour', durationSeconds: 3600, rateLimit: '1M/1M' })
  ).body;
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(A.auth)
        .send({ name: 'a-router', address: '127.0.0.1', secret: SECRET_A })
    ).status,
  ).toBe(201);
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(B.auth)
        .send({ name: 'b-router', address: '127.0.0.2', secret: SECRET_B })
    ).status,
  ).toBe(201);
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

it('PAP: a voucher is accepted with its plan attributes and its first Accept starts the clock', async () => {
  const [code] = await batch(A, planA.id);
  const r = await pap(code!, 'AA-BB-CC-00-00-01');
  expect(r.code).toBe('Access-Accept');
  expect(r.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/4M']);
  expect(r.attrs['Session-Timeout']).toEqual(['86400']);
  expect(r.attrs['Mikrotik-Total-Limit']).toEqual([String(2 * 1024 ** 3)]);
  expect(r.attrs['Mikrotik-Total-Limit-Gigawords']).toEqual(['1']);
  expect(r.attrs['Acct-Interim-Interval']).toEqual(['120']);
  const v = await tdb.db('vouchers').where({ tenant_id: A.id, code }).first();
  expect(v.activated_at).not.toBeNull();
  expect(await tdb.db('voucher_devices').where({ voucher_id: v.id }).pluck('mac_address')).toEqual([
    'AA:BB:CC:00:00:01',
  ]);
  // Again from the same device: accepted, the period that started stays.
  const again = await pap(code!, 'aa:bb:cc:00:00:01');
  expect(again.code).toBe('Access-Accept');
  expect(Number(again.attrs['Session-Timeout']![0])).toBeLessThanOrEqual(86400);
  expect(
    await tdb.db('subscriptions').where({ tenant_id: A.id, source: 'voucher', subscriber_id: v.subscriber_id }).count(),
  ).toEqual([{ count: '1' }]);
});

it('a wrong password neither binds nor starts anything', async () => {
  const [code] = await batch(A, planA.id);
  const r = await pap(code!, 'AA-BB-CC-00-00-02', 'WRONG');
  expect(r.code).toBe('Access-Reject');
  expect(r.attrs['Reply-Message']).toBeUndefined();
  const v = await tdb.db('vouchers').where({ tenant_id: A.id, code }).first();
  expect(v.activated_at).toBeNull();
  expect(await tdb.db('voucher_devices').where({ voucher_id: v.id }).count()).toEqual([{ count: '0' }]);
});

it('CHAP (radtest and the Lango client): accepted; a second device on a one-device voucher is refused with its message', async () => {
  const [code] = await batch(A, planA.id);
  const c = nas('127.0.0.1', SECRET_A);
  const first = await c.accessRequestChap(code!, code!, [{ name: 'Calling-Station-Id', value: '02:11:22:33:44:01' }]);
  expect(first.packet.code).toBe(PacketCode.AccessAccept);
  expect(getString(first.packet, 'Mikrotik-Rate-Limit')).toBe('2M/4M');
  const second = await c.accessRequestChap(code!, code!, [{ name: 'Calling-Station-Id', value: '02:11:22:33:44:02' }]);
  expect(second.packet.code).toBe(PacketCode.AccessReject);
  expect(getString(second.packet, 'Reply-Message')).toBe('Voucher already in use on another device');
  const log = await tdb.db('radpostauth').where({ tenant_id: A.id, username: code }).orderBy('id');
  expect(log.map((l: any) => [l.reply, l.reason])).toEqual([
    ['Access-Accept', null],
    ['Access-Reject', 'Voucher already in use on another device'],
  ]);
  // radtest's CHAP (it sends no Calling-Station-Id): a device that cannot be told apart is refused.
  const [other] = await batch(A, planA.id);
  const rt = await radtest({ user: other!, password: other!, port: fr.authPort, secret: SECRET_A, method: 'chap' });
  expect(rt.code).toBe('Access-Reject');
  expect(rt.attrs['Reply-Message']).toEqual(['Device not identified']);
  const wrong = await c.accessRequestChap(other!, 'nope', [{ name: 'Calling-Station-Id', value: '02:11:22:33:44:03' }]);
  expect(wrong.packet.code).toBe(PacketCode.AccessReject);
  expect(getString(wrong.packet, 'Reply-Message')).toBeUndefined();
  const ok = await c.accessRequestChap(other!, other!, [{ name: 'Calling-Station-Id', value: '02:11:22:33:44:03' }]);
  expect(ok.packet.code).toBe(PacketCode.AccessAccept);
});

it('expired (unused past its use-by date) and revoked vouchers are refused with their messages', async () => {
  const [old] = await batch(A, planA.id, { expiresAt: new Date(Date.now() + 3600e3).toISOString() });
  const ov = await tdb.db('vouchers').where({ tenant_id: A.id, code: old }).first();
  await tdb
    .db('voucher_batches')
    .where({ id: ov.batch_id })
    .update({ expires_at: tdb.db.raw(`now() - interval '1 minute'`) });
  const e = await pap(old!, '02:00:00:00:00:e1');
  expect(e.code).toBe('Access-Reject');
  expect(e.attrs['Reply-Message']).toEqual(['Voucher expired']);

  const [code] = await batch(A, planA.id);
  expect((await pap(code!, '02:00:00:00:00:e2')).code).toBe('Access-Accept');
  const v = await tdb.db('vouchers').where({ tenant_id: A.id, code }).first();
  expect(
    (await request(api.app).post(`/api/v1/vouchers/${v.id}/revoke`).set(A.auth).send({ reason: 'lost' })).status,
  ).toBe(200);
  const r = await pap(code!, '02:00:00:00:00:e2');
  expect(r.code).toBe('Access-Reject');
  expect(r.attrs['Reply-Message']).toEqual(['Voucher revoked']);
});

it('tenant isolation: the same code in two tenants, each NAS sees its own tenant', async () => {
  const [code] = await batch(A, planA.id);
  // Tenant B gets the same code (as if drawn by chance): unique per tenant, not globally.
  const bBatch = (
    await request(api.app).post('/api/v1/voucher-batches').set(B.auth).send({ planId: planB.id, quantity: 1 })
  ).body;
  const bv = await tdb.db('vouchers').where({ tenant_id: B.id, batch_id: bBatch.batch.id }).first();
  await tdb.db('radcheck').where({ tenant_id: B.id, username: bv.code }).update({ username: code, value: code });
  await tdb.db('radusergroup').where({ tenant_id: B.id, username: bv.code }).update({ username: code });
  await tdb.db('subscribers').where({ tenant_id: B.id, username: bv.code }).update({ username: code });
  await tdb.db('vouchers').where({ id: bv.id }).update({ code });

  const viaB = nas('127.0.0.2', SECRET_B);
  const b1 = await viaB.accessRequestPap(code!, code!, [{ name: 'Calling-Station-Id', value: '02:bb:00:00:00:01' }]);
  expect(b1.packet.code).toBe(PacketCode.AccessAccept);
  expect(getString(b1.packet, 'Mikrotik-Rate-Limit')).toBe('1M/1M');
  // A's voucher is untouched by B's login: its first device binds through A's NAS.
  const a1 = await pap(code!, '02:aa:00:00:00:01');
  expect(a1.code).toBe('Access-Accept');
  expect(a1.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/4M']);
  const av = await tdb.db('vouchers').where({ tenant_id: A.id, code }).first();
  expect(await tdb.db('voucher_devices').where({ voucher_id: av.id }).pluck('mac_address')).toEqual([
    '02:AA:00:00:00:01',
  ]);
  expect(await tdb.db('voucher_devices').where({ voucher_id: bv.id }).pluck('mac_address')).toEqual([
    '02:BB:00:00:00:01',
  ]);
  // A voucher of tenant A is unknown through tenant B's NAS.
  const [onlyA] = await batch(A, planA.id);
  expect(
    (await viaB.accessRequestPap(onlyA!, onlyA!, [{ name: 'Calling-Station-Id', value: '02:bb:00:00:00:02' }])).packet
      .code,
  ).toBe(PacketCode.AccessReject);
});

it('guessing codes through a NAS: past the limit unknown names and vouchers are throttled alike there, accounts are not', async () => {
  await tdb.db('tenants').where({ id: A.id }).update({ voucher_guess_limit: 3 });
  // The failed logins of the tests above are out of the window.
  await tdb
    .db('radpostauth')
    .where({ tenant_id: A.id })
    .update({ authdate: tdb.db.raw(`authdate - interval '1 hour'`) });
  const [code] = await batch(A, planA.id);
  const sub = await request(api.app)
    .post('/api/v1/subscribers')
    .set(A.auth)
    .send({ username: 'regular-account', password: 'acct-pw', planId: planA.id });
  expect(sub.status).toBe(201);
  for (const guess of ['GUESS2345A', 'GUESS2345B', 'GUESS2345C']) {
    const r = await pap(guess, '02:66:00:00:00:01');
    expect(r.code).toBe('Access-Reject');
    expect(r.attrs['Reply-Message']).toBeUndefined();
  }
  const hit = await pap(code!, '02:66:00:00:00:01');
  const miss = await pap('GUESS2345D', '02:66:00:00:00:01');
  expect([hit.code, hit.attrs['Reply-Message']]).toEqual([
    'Access-Reject',
    ['Too many failed logins, try again later'],
  ]);
  expect([miss.code, miss.attrs['Reply-Message']]).toEqual([
    'Access-Reject',
    ['Too many failed logins, try again later'],
  ]);
  expect((await tdb.db('vouchers').where({ tenant_id: A.id, code }).first()).activated_at).toBeNull();
  const acct = await radclient({
    port: fr.authPort,
    secret: SECRET_A,
    type: 'auth',
    attrs: ['User-Name = "regular-account"', 'User-Password = "acct-pw"', 'NAS-IP-Address = 127.0.0.1'],
  });
  expect(acct.code).toBe('Access-Accept');
  // Another tenant's NAS is not slowed down by it.
  const [bCode] = await batch(B, planB.id);
  const viaB = nas('127.0.0.2', SECRET_B);
  expect(
    (await viaB.accessRequestPap(bCode!, bCode!, [{ name: 'Calling-Station-Id', value: '02:bb:00:00:00:09' }])).packet
      .code,
  ).toBe(PacketCode.AccessAccept);
  // The window slides: once the failures are older than it, the voucher works.
  await tdb
    .db('radpostauth')
    .where({ tenant_id: A.id })
    .update({ authdate: tdb.db.raw(`authdate - interval '1 hour'`) });
  expect((await pap(code!, '02:66:00:00:00:01')).code).toBe('Access-Accept');
});
