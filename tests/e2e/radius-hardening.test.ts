/**
 * The RADIUS side of the security review, through a real FreeRADIUS connected as its
 * least-privilege role, with radclient (FreeRADIUS's own client) and Lango's client as NAS:
 *  - passwords, secrets and reply values are taken literally (no xlat, no unquoting, no
 *    unescaping), with PAP, CHAP, MS-CHAP and MS-CHAPv2;
 *  - Message-Authenticator is required per NAS;
 *  - failed password checks are throttled per user name and NAS;
 *  - a suspended tenant's subscribers are rejected;
 *  - NAS addresses are admitted only once approved;
 *  - accounting numbers at the edges of their range are stored.
 */
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { ANY_TARGET, createTestApi, testServices, TestApi, TestTenant } from '../helpers/api';
import { accountingWritten, startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { radclient, q } from '../helpers/radclient';
import { eventually } from '../integration/enforcement-fixtures';
import { RadiusClient, PacketCode, getString } from '../../src/radius';
import { SYSTEM } from '../../src/modules/audit/actor';

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let A: TestTenant;
let plan: { id: string };
const SECRET = 'hardening-secret';
const clients: RadiusClient[] = [];

function lango(bindAddress: string, secret: string, port = fr.authPort): RadiusClient {
  const c = new RadiusClient({ host: '127.0.0.1', port, secret, bindAddress, timeoutMs: 800, retries: 1 });
  clients.push(c);
  return c;
}

async function subscriber(t: TestTenant, body: Record<string, unknown>) {
  const res = await request(api.app).post('/api/v1/subscribers').set(t.auth).send(body);
  if (res.status !== 201) throw new Error(`create subscriber: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * radclient PAP, CHAP or MS-CHAPv1; radclient computes CHAP and MS-CHAP from the clear text it
 * is given. CHAP-Password is an octets attribute, which radclient's input format does not
 * unescape, so its clear text goes in as hex.
 */
function radAuth(
  user: string,
  password: string,
  method: 'pap' | 'chap' | 'mschap',
  opts: { secret?: string; ma?: boolean } = {},
) {
  const pw = {
    pap: `User-Password = ${q(password)}`,
    chap: `CHAP-Password = 0x${Buffer.from(password, 'utf8').toString('hex')}`,
    mschap: `MS-CHAP-Password = ${q(password)}`,
  }[method];
  return radclient({
    port: fr.authPort,
    secret: opts.secret ?? SECRET,
    type: 'auth',
    attrs: [`User-Name = ${q(user)}`, pw, 'NAS-IP-Address = 127.0.0.1'],
    ...(opts.ma === false ? { messageAuthenticator: false } : {}),
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  fr = await startTestFreeRadius(tdb.radiusUrl);
  A = await api.newTenant();
  plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(A.auth)
      .send({ name: 'Day', durationSeconds: 86400, rateLimit: '1M/2M' })
  ).body;
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(A.auth)
        .send({ name: 'router', address: '127.0.0.1', secret: SECRET })
    ).status,
  ).toBe(201);
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

describe('values from SQL are taken literally', () => {
  // What rlm_sql used to make of each (xlat, unquoting, unescaping), tried as a wrong password.
  const cases: Array<[string, string]> = [
    ['`%{User-Name}`', 'lit-0'],
    ['`%{sql:SELECT 1}`', '1'],
    ["`%{sql:UPDATE tenants SET name = 'pwned'}`", ''],
    ["'a'", 'a'],
    ['"a"', 'a'],
    ['`', ''],
    ['\\', ''],
    ['\\\\', '\\'],
    ['a\\n\\047b', "a'b"],
    ['%{User-Name}', 'lit-9'],
    ['`' + 'x'.repeat(126) + '`', 'x'.repeat(126)],
    ['\\'.repeat(128), '\\'.repeat(64)],
    // 128 printable bytes with every quote character and backslash in them
    [Array.from({ length: 128 }, (_, i) => String.fromCharCode(33 + ((i * 7) % 94))).join(''), 'z'],
  ];

  beforeAll(async () => {
    for (const [i, [password]] of cases.entries())
      await subscriber(A, { username: `lit-${i}`, password, planId: plan.id });
  });

  it.each(cases.map(([pw, wrong], i) => [i, JSON.stringify(pw), pw, wrong] as const))(
    'password %d %s: accepted only as stored, with PAP, CHAP, MS-CHAP and MS-CHAPv2',
    async (i, _shown, password, wrong) => {
      const user = `lit-${i}`;
      // radclient's input format unescapes backslashes in string values in its own way, so
      // radclient sends PAP and MS-CHAP only for passwords without one; CHAP goes as hex.
      const methods = password.includes('\\') ? (['chap'] as const) : (['pap', 'chap', 'mschap'] as const);
      for (const method of methods) {
        expect([method, (await radAuth(user, password, method)).code]).toEqual([method, 'Access-Accept']);
        if (wrong !== '')
          expect([method, 'wrong', (await radAuth(user, wrong, method)).code]).toEqual([
            method,
            'wrong',
            'Access-Reject',
          ]);
      }
      const c = lango('127.0.0.1', SECRET);
      const ms = await c.accessRequestMschapv2(user, password);
      expect(ms.packet.code).toBe(PacketCode.AccessAccept);
      expect(ms.mschapv2Verified).toBe(true);
      expect((await c.accessRequestPap(user, password)).packet.code).toBe(PacketCode.AccessAccept);
      expect((await c.accessRequestChap(user, password)).packet.code).toBe(PacketCode.AccessAccept);
      if (wrong !== '') {
        expect((await c.accessRequestPap(user, wrong)).packet.code).toBe(PacketCode.AccessReject);
        expect((await c.accessRequestMschapv2(user, wrong)).packet.code).toBe(PacketCode.AccessReject);
      }
    },
  );

  it('nothing was expanded: no SQL ran', async () => {
    expect(await tdb.db('tenants').where({ name: 'pwned' }).count()).toEqual([{ count: '0' }]);
  });

  it('reply attributes an operator stores are sent literally', async () => {
    await subscriber(A, { username: 'replies', password: 'replies-pw', planId: plan.id });
    await tdb.db('radreply').insert([
      {
        tenant_id: A.id,
        username: 'replies',
        attribute: 'Reply-Message',
        op: ':=',
        value: "`%{sql:SELECT 'expanded'}`",
      },
    ]);
    await tdb
      .db('radgroupreply')
      .where({ tenant_id: A.id, attribute: 'Mikrotik-Rate-Limit' })
      .update({ value: `'1M/2M'` });
    const r = await radAuth('replies', 'replies-pw', 'pap');
    expect(r.code).toBe('Access-Accept');
    expect(r.attrs['Reply-Message']).toEqual(["`%{sql:SELECT 'expanded'}`"]);
    expect(r.attrs['Mikrotik-Rate-Limit']).toEqual([`'1M/2M'`]);
    await tdb
      .db('radgroupreply')
      .where({ tenant_id: A.id, attribute: 'Mikrotik-Rate-Limit' })
      .update({ value: '1M/2M' });
  });

  it('a NAS secret with quotes, backticks and backslashes works as given', async () => {
    const secret = '`%{User-Name}`\'\\"x';
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(A.auth)
          .send({ name: 'odd-secret', address: '127.0.0.3', secret })
      ).status,
    ).toBe(201);
    await subscriber(A, { username: 'oddsecret', password: 'pw-odd', planId: plan.id });
    const res = await lango('127.0.0.3', secret).accessRequestPap('oddsecret', 'pw-odd');
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
  });
});

describe('Message-Authenticator per NAS', () => {
  it('is required by default: an Access-Request without it is dropped', async () => {
    await subscriber(A, { username: 'ma-user', password: 'ma-pw', planId: plan.id });
    expect((await radAuth('ma-user', 'ma-pw', 'chap', { ma: false })).code).toBeNull();
    expect((await radAuth('ma-user', 'ma-pw', 'chap')).code).toBe('Access-Accept');
  });

  it('can be turned off for an old NAS, and the API says what that means', async () => {
    const res = await request(api.app)
      .post('/api/v1/nas')
      .set(A.auth)
      .send({ name: 'old-router', address: '127.0.0.4', secret: 'old-secret', requireMessageAuthenticator: false });
    expect(res.status).toBe(201);
    expect(res.body.requireMessageAuthenticator).toBe(false);
    expect(res.body.warnings.join(' ')).toMatch(/Message-Authenticator/);
    const c = lango('127.0.0.4', 'old-secret');
    const r = await c.accessRequestChap('ma-user', 'ma-pw', [], { addMessageAuthenticator: false });
    expect(r.packet.code).toBe(PacketCode.AccessAccept);
  });
});

describe('failed-login throttle', () => {
  it('after N failures in the window, rejects without checking the password, for known and unknown names alike', async () => {
    await tdb.db('tenants').where({ id: A.id }).update({ auth_fail_limit: 3, auth_fail_window_seconds: 300 });
    await subscriber(A, { username: 'guessed', password: 'the-right-one', planId: plan.id });
    for (let i = 0; i < 3; i++) expect((await radAuth('guessed', `guess-${i}`, 'chap')).code).toBe('Access-Reject');
    const right = await radAuth('guessed', 'the-right-one', 'chap');
    expect(right.code).toBe('Access-Reject');
    expect(right.attrs['Reply-Message']).toEqual(['Too many failed logins, try again later']);
    for (let i = 0; i < 3; i++) await radAuth('nobody-here', `guess-${i}`, 'pap');
    expect((await radAuth('nobody-here', 'x', 'pap')).attrs['Reply-Message']).toEqual([
      'Too many failed logins, try again later',
    ]);

    // Visible in radpostauth with its reason.
    const rows = await tdb
      .db('radpostauth')
      .where({ tenant_id: A.id, username: 'guessed' })
      .orderBy('id')
      .select('reply', 'reason');
    expect(rows.map((r) => r.reason)).toEqual([null, null, null, 'Too many failed logins, try again later']);

    // Another NAS is counted apart; once the window has passed (moved back in time here) the
    // right password works again.
    await tdb
      .db('radpostauth')
      .where({ tenant_id: A.id, username: 'guessed' })
      .update({ authdate: tdb.db.raw(`authdate - interval '301 seconds'`) });
    expect((await radAuth('guessed', 'the-right-one', 'chap')).code).toBe('Access-Accept');
    await tdb.db('tenants').where({ id: A.id }).update({ auth_fail_limit: 10, auth_fail_window_seconds: 900 });
  });
});

describe('tenant suspension', () => {
  it("rejects a suspended tenant's subscribers with a Reply-Message, only after the password matched", async () => {
    const T = await api.newTenant();
    const p = (await request(api.app).post('/api/v1/plans').set(T.auth).send({ name: 'Day', durationSeconds: 86400 }))
      .body;
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(T.auth)
          .send({ name: 'r', address: '127.0.0.5', secret: 'susp-secret' })
      ).status,
    ).toBe(201);
    await subscriber(T, { username: 'cust', password: 'cust-pw', planId: p.id });
    const c = lango('127.0.0.5', 'susp-secret');
    expect((await c.accessRequestPap('cust', 'cust-pw')).packet.code).toBe(PacketCode.AccessAccept);
    await tdb.db('tenants').where({ id: T.id }).update({ status: 'suspended' });
    const r = await c.accessRequestPap('cust', 'cust-pw');
    expect(r.packet.code).toBe(PacketCode.AccessReject);
    expect(getString(r.packet, 'Reply-Message')).toBe('Service suspended');
    const wrong = await c.accessRequestPap('cust', 'wrong');
    expect(wrong.packet.code).toBe(PacketCode.AccessReject);
    expect(getString(wrong.packet, 'Reply-Message')).toBeUndefined();
    await tdb.db('tenants').where({ id: T.id }).update({ status: 'active' });
    expect((await c.accessRequestPap('cust', 'cust-pw')).packet.code).toBe(PacketCode.AccessAccept);
  });
});

describe('NAS approval', () => {
  it('a NAS waiting for approval is ignored by FreeRADIUS; approved, it works; another tenant cannot take its address', async () => {
    const services = testServices(tdb.appDb, { nasApproval: 'platform' });
    const T = await api.newTenant();
    const U = await api.newTenant();
    const nas = await services.nas.create(SYSTEM, T.id, {
      name: 'pending',
      address: '127.0.0.6',
      secret: 'pending-secret',
    });
    expect(nas.status).toBe('pending_approval');
    const p = (await request(api.app).post('/api/v1/plans').set(T.auth).send({ name: 'Day', durationSeconds: 86400 }))
      .body;
    await subscriber(T, { username: 'waiting', password: 'waiting-pw', planId: p.id });
    const c = lango('127.0.0.6', 'pending-secret');
    await expect(c.accessRequestPap('waiting', 'waiting-pw')).rejects.toThrow(/no valid RADIUS reply/);

    // Another tenant claims the same address: not refused (that would tell it the address is
    // used), just pending; the platform admin sees the conflict when approving.
    const squatter = await services.nas.create(SYSTEM, U.id, {
      name: 'squat',
      address: '127.0.0.6',
      secret: 'squat-secret',
    });
    expect(squatter.status).toBe('pending_approval');

    const approved = await request(api.app).post(`/api/v1/nas/${nas.id}/approve`).set(api.adminAuth);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('active');
    // FreeRADIUS remembers an unknown client for the client lifetime (1 s in tests).
    const c2 = lango('127.0.0.6', 'pending-secret');
    const accepted = await eventually(
      async () =>
        (await c2.accessRequestPap('waiting', 'waiting-pw').catch(() => null))?.packet.code === PacketCode.AccessAccept,
      'the approved NAS to be admitted',
    );
    expect(accepted).toBe(true);

    const conflict = await request(api.app).post(`/api/v1/nas/${squatter.id}/approve`).set(api.adminAuth);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('NAS_ADDRESS_IN_USE');
    const pending = await request(api.app).get('/api/v1/nas-approvals').set(api.adminAuth);
    expect(pending.body.data.map((n: { id: string }) => n.id)).toContain(squatter.id);
    expect((await request(api.app).get('/api/v1/nas-approvals').set(T.auth)).status).toBe(403);
  });
});

describe('accounting numbers at the edges', () => {
  // Answered from the spool: wait until the reader has written it to radacct.
  const acct = async (attrs: string[]) => {
    const res = await radclient({ port: fr.acctPort, secret: SECRET, type: 'acct', attrs });
    await accountingWritten(fr);
    return res;
  };

  it('Acct-Delay-Time of 2^31 and more is stored (clamped to a week)', async () => {
    for (const delay of ['2147483648', '4294967295']) {
      const r = await acct([
        'User-Name = "edge"',
        'Acct-Status-Type = Start',
        `Acct-Session-Id = "delay-${delay}"`,
        `Acct-Delay-Time = ${delay}`,
      ]);
      expect(r.code).toBe('Accounting-Response');
      const row = await tdb
        .db('radacct')
        .where({ acctsessionid: `delay-${delay}` })
        .first();
      expect(row).toBeDefined();
      const ageDays = (Date.now() - new Date(row.acctstarttime).getTime()) / 86_400_000;
      expect(ageDays).toBeGreaterThan(6.9);
      expect(ageDays).toBeLessThan(7.1);
    }
  });

  it('Gigawords of 2^31 and more never make a negative counter', async () => {
    await acct(['User-Name = "edge"', 'Acct-Status-Type = Start', 'Acct-Session-Id = "gw-1"']);
    const r = await acct([
      'User-Name = "edge"',
      'Acct-Status-Type = Interim-Update',
      'Acct-Session-Id = "gw-1"',
      'Acct-Input-Gigawords = 2147483647',
      'Acct-Input-Octets = 5',
      'Acct-Output-Gigawords = 4294967295',
      'Acct-Output-Octets = 4294967295',
    ]);
    expect(r.code).toBe('Accounting-Response');
    const row = await tdb.db('radacct').where({ acctsessionid: 'gw-1' }).first();
    expect(BigInt(row.acctinputoctets)).toBe(2147483647n * 4294967296n + 5n);
    expect(BigInt(row.acctoutputoctets)).toBe(9223372036854775807n);
  });
});
