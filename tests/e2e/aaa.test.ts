/**
 * Issue 2 end to end: subscribers created through the REST API are authenticated by a real
 * FreeRADIUS running the project's freeradius/ config, scoped to the tenant that owns the NAS.
 * radclient/radtest are the independent client; Lango's RadiusClient plays NAS on other
 * loopback addresses (radclient always sends from 127.0.0.1).
 */
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi, TestTenant } from '../helpers/api';
import { accountingWritten, startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { radclient, radtest, q } from '../helpers/radclient';
import { RadiusClient, PacketCode, getString, getNumber, getAttributes, RadiusTimeoutError } from '../../src/radius';
import { sqlObject } from '../../src/db/sql-objects';

const GiB = 1024 ** 3;
let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let A: TestTenant;
let B: TestTenant;
let planA: any;
let planB: any;
const SECRET_A = 'secret-of-tenant-a';
const SECRET_B = 'secret-of-tenant-b';
const clients: RadiusClient[] = [];

function nas(bindAddress: string, secret: string): RadiusClient {
  const c = new RadiusClient({
    host: '127.0.0.1',
    port: fr.authPort,
    secret,
    bindAddress,
    timeoutMs: 1200,
    retries: 2,
  });
  clients.push(c);
  return c;
}
function acctClient(bindAddress: string, secret: string): RadiusClient {
  const c = new RadiusClient({
    host: '127.0.0.1',
    port: fr.acctPort,
    secret,
    bindAddress,
    timeoutMs: 1200,
    retries: 2,
  });
  clients.push(c);
  return c;
}

async function subscriber(t: TestTenant, body: Record<string, unknown>) {
  const res = await request(api.app).post('/api/v1/subscribers').set(t.auth).send(body);
  if (res.status !== 201) throw new Error(`create subscriber: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const auth = (user: string, password: string, extra: string[] = []) =>
  radclient({
    port: fr.authPort,
    secret: SECRET_A,
    type: 'auth',
    attrs: [`User-Name = ${q(user)}`, `User-Password = ${q(password)}`, 'NAS-IP-Address = 127.0.0.1', ...extra],
  });
// Accounting is answered from the spool (docs/accounting-spool.md): wait until it is in radacct.
const acct = async (attrs: string[]) => {
  const res = await radclient({ port: fr.acctPort, secret: SECRET_A, type: 'acct', attrs });
  await accountingWritten(fr);
  return res;
};

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
        name: 'Monthly 6 GB',
        durationSeconds: 30 * 86400,
        dataQuotaBytes: 6 * GiB,
        rateLimit: '2M/5M',
        simultaneousUse: 1,
        interimIntervalSeconds: 120,
      })
  ).body;
  planB = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(B.auth)
      .send({ name: 'Daily', durationSeconds: 86400, rateLimit: '10M/10M', simultaneousUse: 2 })
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

describe('authentication and reply attributes', () => {
  it('PAP: Access-Accept with rate limit, time left, data left (6 GiB split into gigawords) and interim interval', async () => {
    await subscriber(A, { username: 'alice', password: 'alice-pw', planId: planA.id, staticIp: '10.5.50.20' });
    const r = await auth('alice', 'alice-pw');
    expect(r.code).toBe('Access-Accept');
    expect(r.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
    expect(r.attrs['WISPr-Bandwidth-Max-Down']).toEqual(['5000000']);
    expect(r.attrs['Acct-Interim-Interval']).toEqual(['120']);
    expect(r.attrs['Framed-IP-Address']).toEqual(['10.5.50.20']);
    // 6 GiB = 1 x 2^32 + 2 GiB
    expect(r.attrs['Mikrotik-Total-Limit']).toEqual(['2147483648']);
    expect(r.attrs['Mikrotik-Total-Limit-Gigawords']).toEqual(['1']);
    const timeout = Number(r.attrs['Session-Timeout']![0]);
    expect(timeout).toBeGreaterThan(30 * 86400 - 120);
    expect(timeout).toBeLessThanOrEqual(30 * 86400);
    // Replies are signed (RouterOS >= 7.15 requires it by default).
    expect(r.attrs['Message-Authenticator']).toHaveLength(1);
  });

  it('a wrong password is rejected without revealing anything', async () => {
    await subscriber(A, { username: 'wrongpw', password: 'right', planId: planA.id });
    const r = await auth('wrongpw', 'wrong');
    expect(r.code).toBe('Access-Reject');
    expect(r.attrs['Reply-Message']).toBeUndefined();
    expect(r.attrs['Mikrotik-Rate-Limit']).toBeUndefined();
  });

  it('CHAP and MS-CHAPv2 (radtest) and MS-CHAPv2 with a verified authenticator response (Lango client)', async () => {
    await subscriber(A, { username: 'carol', password: 'carol-pw', planId: planA.id });
    expect(
      (await radtest({ user: 'carol', password: 'carol-pw', port: fr.authPort, secret: SECRET_A, method: 'chap' }))
        .code,
    ).toBe('Access-Accept');
    expect(
      (await radtest({ user: 'carol', password: 'nope', port: fr.authPort, secret: SECRET_A, method: 'chap' })).code,
    ).toBe('Access-Reject');
    const ms = await radtest({
      user: 'carol',
      password: 'carol-pw',
      port: fr.authPort,
      secret: SECRET_A,
      method: 'mschap',
    });
    expect(ms.code).toBe('Access-Accept');
    expect(ms.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
    const c = nas('127.0.0.1', SECRET_A);
    const res = await c.accessRequestMschapv2('carol', 'carol-pw');
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(res.mschapv2Verified).toBe(true);
    const bad = await c.accessRequestMschapv2('carol', 'carol-px');
    expect(bad.packet.code).toBe(PacketCode.AccessReject);
    const chap = await c.accessRequestChap('carol', 'carol-pw');
    expect(chap.packet.code).toBe(PacketCode.AccessAccept);
  });

  it('usernames with quotes, spaces, unicode and 253 bytes authenticate and are accounted exactly', async () => {
    const names = [`o'brien x@isp`, 'Wanjiru "Shiro" Kamau', 'mtumiaji-ñandú-😀', 'b'.repeat(253)];
    for (const u of names) await subscriber(A, { username: u, password: 'pw-1', planId: planA.id });
    const c = nas('127.0.0.1', SECRET_A);
    for (const u of names) {
      expect([u, (await auth(u, 'pw-1')).code]).toEqual([u, 'Access-Accept']);
      expect([u, (await c.accessRequestPap(u, 'pw-1')).packet.code]).toEqual([u, PacketCode.AccessAccept]);
    }
    const a = acctClient('127.0.0.1', SECRET_A);
    await a.accounting([
      { name: 'User-Name', value: names[0]! },
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'Acct-Session-Id', value: `q'uote-1` },
    ]);
    await accountingWritten(fr);
    const row = await tdb.db('radacct').where({ acctsessionid: `q'uote-1` }).first();
    expect(row.username).toBe(names[0]);
    await a.accounting([
      { name: 'User-Name', value: names[0]! },
      { name: 'Acct-Status-Type', value: 'Stop' },
      { name: 'Acct-Session-Id', value: `q'uote-1` },
    ]);
    await accountingWritten(fr);
  });

  it('every reply row an operator adds (radgroupreply and radreply, any attribute, vendor or not) reaches the NAS, literally', async () => {
    await subscriber(A, { username: 'pool-user', password: 'pw-1', planId: planA.id });
    await subscriber(A, { username: 'pool-other', password: 'pw-1', planId: planA.id });
    const { groupname } = await tdb
      .db('radusergroup')
      .where({ tenant_id: A.id, username: 'pool-user' })
      .first('groupname');
    const hostile = `a'b"c\`d\\e %{exec:/bin/false} \`x\``;
    await tdb.db('radgroupreply').insert([
      { tenant_id: A.id, groupname, attribute: 'Framed-Pool', op: ':=', value: 'plan-pool' },
      { tenant_id: A.id, groupname, attribute: 'Mikrotik-Address-List', op: '+=', value: 'plan-list' },
      { tenant_id: A.id, groupname, attribute: 'Cisco-AVPair', op: '+=', value: 'ip:addr-pool=a' },
      { tenant_id: A.id, groupname, attribute: 'Cisco-AVPair', op: '+=', value: 'ip:dns-servers=10.0.0.1' },
    ]);
    await tdb.db('radreply').insert([
      // The user's own rows come after the plan's, so := overrides and += adds.
      { tenant_id: A.id, username: 'pool-user', attribute: 'Framed-Pool', op: ':=', value: 'vip-pool' },
      { tenant_id: A.id, username: 'pool-user', attribute: 'Mikrotik-Address-List', op: '+=', value: 'vip-list' },
      // = adds only what is not there yet.
      { tenant_id: A.id, username: 'pool-user', attribute: 'Mikrotik-Rate-Limit', op: '=', value: '1M/1M' },
      { tenant_id: A.id, username: 'pool-user', attribute: 'Filter-Id', op: ':=', value: hostile },
      { tenant_id: A.id, username: 'pool-user', attribute: 'Mikrotik-Group', op: ':=', value: 'hotspot-vip' },
    ]);
    try {
      const r = await auth('pool-user', 'pw-1');
      expect(r.code).toBe('Access-Accept');
      expect(r.attrs['Framed-Pool']).toEqual(['vip-pool']);
      expect(r.attrs['Mikrotik-Address-List']).toEqual(['plan-list', 'vip-list']);
      expect(r.attrs['Cisco-AVPair']).toEqual(['ip:addr-pool=a', 'ip:dns-servers=10.0.0.1']);
      expect(r.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
      expect(r.attrs['Mikrotik-Group']).toEqual(['hotspot-vip']);
      // Lango's own reply attributes are still there.
      expect(r.attrs['Acct-Interim-Interval']).toEqual(['120']);
      expect(r.attrs['Mikrotik-Total-Limit-Gigawords']).toEqual(['1']);
      // The value exactly as stored (the Lango client shows the bytes, radclient escapes them).
      const c = nas('127.0.0.1', SECRET_A);
      const res = await c.accessRequestPap('pool-user', 'pw-1');
      expect(res.packet.code).toBe(PacketCode.AccessAccept);
      expect(getString(res.packet, 'Filter-Id')).toBe(hostile);
      // Another subscriber of the plan gets the plan's rows, not pool-user's.
      const o = await auth('pool-other', 'pw-1');
      expect(o.code).toBe('Access-Accept');
      expect(o.attrs['Framed-Pool']).toEqual(['plan-pool']);
      expect(o.attrs['Mikrotik-Address-List']).toEqual(['plan-list']);
      expect(o.attrs['Filter-Id']).toBeUndefined();
      // A wrong password still reveals none of them.
      const bad = await auth('pool-user', 'pw-2');
      expect(bad.code).toBe('Access-Reject');
      expect(bad.attrs['Framed-Pool']).toBeUndefined();
    } finally {
      await tdb
        .db('radgroupreply')
        .where({ tenant_id: A.id, groupname })
        .whereIn('attribute', ['Framed-Pool', 'Mikrotik-Address-List', 'Cisco-AVPair'])
        .del();
    }
  });

  it('a reply row naming another list is refused (the login fails); one naming an unknown attribute is left out', async () => {
    await subscriber(A, { username: 'bad-reply', password: 'pw-1', planId: planA.id });
    const row = (attribute: string) => ({
      tenant_id: A.id,
      username: 'bad-reply',
      attribute,
      op: ':=',
      value: 'Accept',
    });
    await tdb.db('radreply').insert([row('control:Auth-Type'), row('Framed-Pool')]);
    expect((await auth('bad-reply', 'wrong')).code).toBe('Access-Reject');
    const refused = await auth('bad-reply', 'pw-1');
    expect(refused.code).toBe('Access-Reject');
    expect(refused.attrs['Reply-Message']).toEqual(['Account configuration error']);
    await tdb.db('radreply').where({ tenant_id: A.id, username: 'bad-reply', attribute: 'control:Auth-Type' }).del();
    await tdb.db('radreply').insert(row('No-Such-Attribute'));
    const r = await auth('bad-reply', 'pw-1');
    expect(r.code).toBe('Access-Accept');
    expect(r.attrs['Framed-Pool']).toEqual(['Accept']);
    expect(r.attrs['Mikrotik-Rate-Limit']).toEqual(['2M/5M']);
  });
  it('the plan-reply fast path: the same Accept as the generic path (lango_authorize v3), user overrides and extra rows included, hostile values inert', async () => {
    const plan = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(A.auth)
        .send({
          name: 'All five',
          durationSeconds: 30 * 86400,
          rateLimit: '3M/6M',
          idleTimeoutSeconds: 600,
          interimIntervalSeconds: 180,
          simultaneousUse: 3,
        })
    ).body;
    for (const u of ['fp-plain', 'fp-override', 'fp-mixed', 'fp-hostile', 'fp-escapes'])
      await subscriber(A, { username: u, password: 'pw-1', planId: plan.id });
    const { groupname } = await tdb
      .db('radusergroup')
      .where({ tenant_id: A.id, username: 'fp-plain' })
      .first('groupname');
    const hostile = `1M'/"2M" %{exec:/bin/false} %{User-Name} \`id\` '%{control:Cleartext-Password}'`;
    // Backslash sequences that FreeRADIUS unescapes (\n, \047, \\): the fast path keeps them exactly.
    const escapes = `2M/4M \\n\\047\\\\ "\\"`;
    const reply = (username: string, attribute: string, op: string, value: string) => ({
      tenant_id: A.id,
      username,
      attribute,
      op,
      value,
    });
    // Operators' extra rows: one on the plan's group (every member), others per user.
    await tdb
      .db('radgroupreply')
      .insert({ tenant_id: A.id, groupname, attribute: 'Mikrotik-Address-List', op: '+=', value: 'plan-list' });
    await tdb.db('radreply').insert([
      reply('fp-plain', 'Framed-Pool', ':=', 'op-pool'),
      // The user's := wins over the plan's, in either path.
      reply('fp-override', 'Mikrotik-Rate-Limit', ':=', '9M/9M'),
      reply('fp-override', 'idle-timeout', ':=', '60'),
      // Not all := for these: they keep the generic path (+= adds, = adds nothing here).
      reply('fp-mixed', 'Mikrotik-Rate-Limit', '+=', '1M/1M'),
      reply('fp-mixed', 'Acct-Interim-Interval', '=', '999'),
      reply('fp-mixed', 'Idle-Timeout', ':=', '4294967296'),
      reply('fp-hostile', 'Mikrotik-Rate-Limit', ':=', hostile),
      reply('fp-escapes', 'Mikrotik-Rate-Limit', ':=', escapes),
      reply('fp-escapes', 'Filter-Id', ':=', `${escapes} \\`),
    ]);
    // What lango_authorize returns for a user: the typed control attributes and the Lango-Reply rows.
    const rows = async (user: string) =>
      (
        await tdb.db.raw<{ rows: Array<{ attribute: string; value: string }> }>(
          `SELECT attribute, value FROM lango_authorize('127.0.0.1', '', encode(convert_to(?, 'UTF8'), 'hex'), '')
           WHERE attribute LIKE 'Lango-Reply%'`,
          [user],
        )
      ).rows;
    const users = ['fp-plain', 'fp-override', 'fp-mixed', 'fp-hostile'];
    // Session-Timeout counts down and Message-Authenticator is a MAC: everything else must match.
    const accept = async (user: string) => {
      const r = await auth(user, 'pw-1');
      expect(r.code).toBe('Access-Accept');
      const { ['Session-Timeout']: _t, ['Message-Authenticator']: _m, ...rest } = r.attrs;
      return rest;
    };
    try {
      expect(await rows('fp-plain')).toEqual([
        { attribute: 'Lango-Reply-Interim-Interval', value: '180' },
        { attribute: 'Lango-Reply-Rate-Limit', value: '3M/6M' },
        { attribute: 'Lango-Reply-Max-Up', value: '3000000' },
        { attribute: 'Lango-Reply-Max-Down', value: '6000000' },
        { attribute: 'Lango-Reply-Idle-Timeout', value: '600' },
        { attribute: 'Lango-Reply', value: 'Mikrotik-Address-List += plan-list' },
        { attribute: 'Lango-Reply', value: 'Framed-Pool := op-pool' },
      ]);
      // (Each typed attribute comes at its last row's place; the order among them does not matter.)
      const typed = (await rows('fp-override')).filter((r) => r.attribute !== 'Lango-Reply');
      expect(typed.sort((a, b) => a.attribute.localeCompare(b.attribute))).toEqual([
        { attribute: 'Lango-Reply-Idle-Timeout', value: '60' },
        { attribute: 'Lango-Reply-Interim-Interval', value: '180' },
        { attribute: 'Lango-Reply-Max-Down', value: '6000000' },
        { attribute: 'Lango-Reply-Max-Up', value: '3000000' },
        { attribute: 'Lango-Reply-Rate-Limit', value: '9M/9M' },
      ]);
      expect((await rows('fp-mixed')).map((r) => r.attribute).sort()).toEqual([
        ...Array(7).fill('Lango-Reply'),
        'Lango-Reply-Max-Down',
        'Lango-Reply-Max-Up',
      ]);
      expect((await rows('fp-hostile')).map((r) => r.attribute)).toContain('Lango-Reply-Rate-Limit');

      const fast: Record<string, Record<string, string[]>> = {};
      for (const u of users) fast[u] = await accept(u);
      expect(fast['fp-plain']).toEqual({
        'Acct-Interim-Interval': ['180'],
        'Mikrotik-Rate-Limit': ['3M/6M'],
        'WISPr-Bandwidth-Max-Up': ['3000000'],
        'WISPr-Bandwidth-Max-Down': ['6000000'],
        'Idle-Timeout': ['600'],
        'Mikrotik-Address-List': ['plan-list'],
        'Framed-Pool': ['op-pool'],
      });
      expect(fast['fp-override']!['Mikrotik-Rate-Limit']).toEqual(['9M/9M']);
      expect(fast['fp-override']!['Idle-Timeout']).toEqual(['60']);
      expect(fast['fp-mixed']!['Mikrotik-Rate-Limit']).toEqual(['3M/6M', '1M/1M']);
      expect(fast['fp-mixed']!['Acct-Interim-Interval']).toEqual(['180']);
      // The exact bytes (radclient escapes them): nothing expanded, no quote lost.
      const c = nas('127.0.0.1', SECRET_A);
      const res = await c.accessRequestPap('fp-hostile', 'pw-1');
      expect(res.packet.code).toBe(PacketCode.AccessAccept);
      expect(getString(res.packet, 'Mikrotik-Rate-Limit')).toBe(hostile);
      const esc = await c.accessRequestPap('fp-escapes', 'pw-1');
      expect(getString(esc.packet, 'Mikrotik-Rate-Limit')).toBe(escapes);
      // And through the generic path (v4 encodes its values three times: v3's twice let \n become a newline).
      expect(getString(esc.packet, 'Filter-Id')).toBe(`${escapes} \\`);

      // The same logins with every row through the foreach (v3, the function before the fast path).
      await tdb.db.raw(sqlObject('functions/lango_authorize', 3));
      expect((await rows('fp-plain')).map((r) => r.attribute)).toEqual(Array(7).fill('Lango-Reply'));
      for (const u of users) expect({ [u]: await accept(u) }).toEqual({ [u]: fast[u] });
      const before = await c.accessRequestPap('fp-hostile', 'pw-1');
      expect(getString(before.packet, 'Mikrotik-Rate-Limit')).toBe(hostile);
    } finally {
      await tdb.db.raw(sqlObject('functions/lango_authorize', 4));
      await tdb.db('radgroupreply').where({ tenant_id: A.id, groupname, attribute: 'Mikrotik-Address-List' }).del();
    }
  });
});

describe('tenancy through RADIUS', () => {
  it('the same username in two tenants: each NAS sees only its own tenant', async () => {
    await subscriber(A, { username: 'shared', password: 'a-pass', planId: planA.id });
    await subscriber(B, { username: 'shared', password: 'b-pass', planId: planB.id });
    expect((await auth('shared', 'a-pass')).code).toBe('Access-Accept');
    expect((await auth('shared', 'b-pass')).code).toBe('Access-Reject');
    const bNas = nas('127.0.0.2', SECRET_B);
    const viaB = await bNas.accessRequestPap('shared', 'b-pass');
    expect(viaB.packet.code).toBe(PacketCode.AccessAccept);
    expect(getString(viaB.packet, 'Mikrotik-Rate-Limit')).toBe('10M/10M');
    expect((await bNas.accessRequestPap('shared', 'a-pass')).packet.code).toBe(PacketCode.AccessReject);
  });

  it("a tenant-A user through tenant-B's NAS is rejected", async () => {
    await subscriber(A, { username: 'only-in-a', password: 'pw', planId: planA.id });
    const bNas = nas('127.0.0.2', SECRET_B);
    expect((await bNas.accessRequestPap('only-in-a', 'pw')).packet.code).toBe(PacketCode.AccessReject);
    const rows = await tdb.db('radpostauth').where({ username: 'only-in-a' }).select('tenant_id', 'reply');
    expect(rows).toEqual([{ tenant_id: B.id, reply: 'Access-Reject' }]);
  });

  it('a NAS added through the API at run time authenticates with its own secret, no restart', async () => {
    await subscriber(B, { username: 'late', password: 'pw', planId: planB.id });
    const fresh = nas('127.0.0.3', 'brand-new-secret');
    // Unknown address: FreeRADIUS ignores it.
    await expect(fresh.accessRequestPap('late', 'pw', [], { retransmit: [400] })).rejects.toBeInstanceOf(
      RadiusTimeoutError,
    );
    expect(
      (
        await request(api.app)
          .post('/api/v1/nas')
          .set(B.auth)
          .send({ name: 'new', address: '127.0.0.3', secret: 'brand-new-secret' })
      ).status,
    ).toBe(201);
    // FreeRADIUS admits at most one new dynamic client per second: the client retransmits.
    const res = await fresh.accessRequestPap('late', 'pw', [], { retransmit: [1000, 1000, 1000, 1000] });
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    // The wrong secret from that address gets nothing usable back.
    const wrong = nas('127.0.0.3', 'not-the-secret');
    await expect(wrong.accessRequestPap('late', 'pw', [], { retransmit: [500] })).rejects.toBeInstanceOf(
      RadiusTimeoutError,
    );
  });
});

describe('policy at authorize time', () => {
  it('rejects a suspended subscriber with a Reply-Message, only after the password matched', async () => {
    const s = await subscriber(A, { username: 'sus', password: 'pw', planId: planA.id });
    await request(api.app)
      .post(`/api/v1/subscribers/${s.id}/suspend`)
      .set(A.auth)
      .send({ reason: 'unpaid' })
      .expect(200);
    const r = await auth('sus', 'pw');
    expect(r.code).toBe('Access-Reject');
    expect(r.attrs['Reply-Message']).toEqual(['Account suspended']);
    expect(r.attrs['Mikrotik-Rate-Limit']).toBeUndefined();
    expect((await auth('sus', 'bad')).attrs['Reply-Message']).toBeUndefined();
    await request(api.app).post(`/api/v1/subscribers/${s.id}/activate`).set(A.auth).send({}).expect(200);
    expect((await auth('sus', 'pw')).code).toBe('Access-Accept');
  });

  it('rejects an expired subscriber and one without a subscription, accepts again after renewal', async () => {
    const s = await subscriber(A, { username: 'exp', password: 'pw', planId: planA.id });
    // Time passes: the period ended a minute ago.
    await tdb
      .db('subscriptions')
      .where({ subscriber_id: s.id })
      .update({ starts_at: new Date(Date.now() - 31 * 86400_000), ends_at: new Date(Date.now() - 60_000) });
    const r = await auth('exp', 'pw');
    expect(r.code).toBe('Access-Reject');
    expect(r.attrs['Reply-Message']).toEqual(['Subscription expired']);
    await request(api.app).post(`/api/v1/subscribers/${s.id}/renew`).set(A.auth).send({}).expect(200);
    expect((await auth('exp', 'pw')).code).toBe('Access-Accept');
    await subscriber(A, { username: 'never', password: 'pw' });
    expect((await auth('never', 'pw')).attrs['Reply-Message']).toEqual(['No active subscription']);
  });

  it('Session-Timeout is the time left in the subscription', async () => {
    const s = await subscriber(A, { username: 'soon', password: 'pw', planId: planA.id });
    await tdb
      .db('subscriptions')
      .where({ subscriber_id: s.id })
      .update({ ends_at: new Date(Date.now() + 600_000) });
    const t = Number((await auth('soon', 'pw')).attrs['Session-Timeout']![0]);
    expect(t).toBeGreaterThan(590);
    expect(t).toBeLessThanOrEqual(600);
  });

  it('counts data used since the period started and rejects when the quota is gone', async () => {
    await subscriber(A, { username: 'heavy', password: 'pw', planId: planA.id });
    // 5 GiB + 100 bytes used in a finished session
    await acct([
      'User-Name = "heavy"',
      'Acct-Status-Type = Stop',
      'Acct-Session-Id = "heavy-1"',
      'Acct-Session-Time = 600',
      'Acct-Input-Octets = 100',
      'Acct-Output-Octets = 1073741824',
      'Acct-Output-Gigawords = 1',
    ]);
    const left = await auth('heavy', 'pw');
    expect(left.code).toBe('Access-Accept');
    const remaining =
      Number(left.attrs['Mikrotik-Total-Limit-Gigawords']![0]) * 2 ** 32 +
      Number(left.attrs['Mikrotik-Total-Limit']![0]);
    expect(remaining).toBe(6 * GiB - (5 * GiB + 100));
    await acct([
      'User-Name = "heavy"',
      'Acct-Status-Type = Stop',
      'Acct-Session-Id = "heavy-2"',
      'Acct-Session-Time = 60',
      'Acct-Input-Octets = 1073741824',
    ]);
    const gone = await auth('heavy', 'pw');
    expect(gone.code).toBe('Access-Reject');
    expect(gone.attrs['Reply-Message']).toEqual(['Data quota exhausted']);
  });

  it('MAC binding: only the bound device gets in', async () => {
    await subscriber(A, { username: 'bound', password: 'pw', planId: planA.id, macAddress: '00:11:22:aa:bb:cc' });
    expect((await auth('bound', 'pw', ['Calling-Station-Id = "00-11-22-AA-BB-CC"'])).code).toBe('Access-Accept');
    const other = await auth('bound', 'pw', ['Calling-Station-Id = "00:11:22:AA:BB:CD"']);
    expect(other.code).toBe('Access-Reject');
    expect(other.attrs['Reply-Message']).toEqual(['Device not allowed']);
    expect((await auth('bound', 'pw')).attrs['Reply-Message']).toEqual(['Device not allowed']);
  });

  it('Simultaneous-Use per plan, counted within the tenant only', async () => {
    await subscriber(A, { username: 'simul', password: 'pw', planId: planA.id });
    await subscriber(B, { username: 'simul', password: 'pw', planId: planB.id });
    // Tenant B's user has an open session; it must not count against tenant A's "simul".
    const bAcct = acctClient('127.0.0.2', SECRET_B);
    await bAcct.accounting([
      { name: 'User-Name', value: 'simul' },
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'Acct-Session-Id', value: 'b-simul-1' },
    ]);
    await accountingWritten(fr);
    expect((await auth('simul', 'pw')).code).toBe('Access-Accept');
    await acct(['User-Name = "simul"', 'Acct-Status-Type = Start', 'Acct-Session-Id = "a-simul-1"']);
    const second = await auth('simul', 'pw');
    expect(second.code).toBe('Access-Reject');
    expect(second.attrs['Reply-Message']![0]).toMatch(/already logged in/);
    await acct([
      'User-Name = "simul"',
      'Acct-Status-Type = Stop',
      'Acct-Session-Id = "a-simul-1"',
      'Acct-Session-Time = 30',
    ]);
    expect((await auth('simul', 'pw')).code).toBe('Access-Accept');
  });

  it('radpostauth records the outcome and the reason, never a password', async () => {
    const cols = (
      await tdb.db.raw(`SELECT column_name FROM information_schema.columns WHERE table_name = 'radpostauth'`)
    ).rows.map((r: { column_name: string }) => r.column_name);
    expect(cols).not.toContain('pass');
    const rows = await tdb
      .db('radpostauth')
      .where({ username: 'sus' })
      .orderBy('id')
      .select('tenant_id', 'reply', 'reason');
    expect(rows[0]).toEqual({ tenant_id: A.id, reply: 'Access-Reject', reason: 'Account suspended' });
    const all = JSON.stringify(await tdb.db('radpostauth').select('*'));
    expect(all).not.toContain('alice-pw');
  });

  it('radpostauth gets the name, NAS-Identifier and station ids exactly (hex-encoded once per request)', async () => {
    await subscriber(A, { username: `o'hara "%{User-Name}" é`, password: 'pw-1', planId: planA.id });
    const c = nas('127.0.0.1', SECRET_A);
    const calling = `AA:BB'"%{Called-Station-Id}\\n`;
    const called = `hs'1 "%{exec:/bin/false}"`;
    for (const [user, code] of [
      [`o'hara "%{User-Name}" é`, PacketCode.AccessAccept],
      [`nobody'"%{Calling-Station-Id}"`, PacketCode.AccessReject],
    ] as const) {
      const res = await c.accessRequestPap(user, 'pw-1', [
        { name: 'Calling-Station-Id', value: calling },
        { name: 'Called-Station-Id', value: called },
        { name: 'NAS-Identifier', value: `a-router` },
      ]);
      expect(res.packet.code).toBe(code);
      const row = await tdb
        .db('radpostauth')
        .where({ tenant_id: A.id, username: user })
        .orderBy('id', 'desc')
        .first('callingstationid', 'calledstationid', 'reply');
      expect(row).toEqual({
        callingstationid: calling,
        calledstationid: called,
        reply: code === PacketCode.AccessAccept ? 'Access-Accept' : 'Access-Reject',
      });
    }
  });
});

describe('accounting', () => {
  it('Start / Interim / Stop write one radacct row with tenant, NAS, gigawords and cause; repeats change nothing', async () => {
    await subscriber(A, { username: 'acc', password: 'pw', planId: planA.id });
    const base = [
      'User-Name = "acc"',
      'Acct-Session-Id = "acc-1"',
      'NAS-IP-Address = 192.168.88.1',
      'Framed-IP-Address = 10.5.50.7',
      'Calling-Station-Id = "AA:BB:CC:00:11:22"',
    ];
    expect((await acct([...base, 'Acct-Status-Type = Start'])).code).toBe('Accounting-Response');
    let row = await tdb.db('radacct').where({ acctsessionid: 'acc-1' }).first();
    expect(row).toMatchObject({
      tenant_id: A.id,
      username: 'acc',
      nasipaddress: '192.168.88.1',
      framedipaddress: '10.5.50.7',
      callingstationid: 'AA:BB:CC:00:11:22',
      acctstoptime: null,
    });
    expect(row.nas_id).toBeTruthy();
    await acct([
      ...base,
      'Acct-Status-Type = Interim-Update',
      'Acct-Session-Time = 120',
      'Acct-Input-Octets = 1000',
      'Acct-Input-Gigawords = 2',
      'Acct-Output-Octets = 5000',
    ]);
    row = await tdb.db('radacct').where({ acctsessionid: 'acc-1' }).first();
    expect(Number(row.acctinputoctets)).toBe(2 * 2 ** 32 + 1000);
    expect(Number(row.acctsessiontime)).toBe(120);
    expect(row.acctupdatetime).not.toBeNull();
    const stop = [
      ...base,
      'Acct-Status-Type = Stop',
      'Acct-Session-Time = 240',
      'Acct-Input-Octets = 2000',
      'Acct-Input-Gigawords = 2',
      'Acct-Output-Octets = 9000',
      'Acct-Terminate-Cause = User-Request',
    ];
    await acct(stop);
    row = await tdb.db('radacct').where({ acctsessionid: 'acc-1' }).first();
    expect(row.acctstoptime).not.toBeNull();
    expect(row.acctterminatecause).toBe('User-Request');
    expect(Number(row.acctoutputoctets)).toBe(9000);
    // A duplicate Stop and a late Interim change nothing.
    await acct(stop);
    await acct([...base, 'Acct-Status-Type = Interim-Update', 'Acct-Session-Time = 180', 'Acct-Input-Octets = 1500']);
    const again = await tdb.db('radacct').where({ acctsessionid: 'acc-1' });
    expect(again).toHaveLength(1);
    expect(again[0].acctstoptime).toEqual(row.acctstoptime);
    expect(Number(again[0].acctinputoctets)).toBe(2 * 2 ** 32 + 2000);
  });

  it('the reports rollup follows what FreeRADIUS accounts, and Accounting-On is counted per NAS', async () => {
    const base = ['User-Name = "rollup"', 'Acct-Session-Id = "rollup-1"', 'NAS-IP-Address = 127.0.0.1'];
    await acct([...base, 'Acct-Status-Type = Start']);
    await acct([
      ...base,
      'Acct-Status-Type = Interim-Update',
      'Acct-Session-Time = 60',
      'Acct-Input-Octets = 700',
      'Acct-Output-Octets = 7000',
      'Acct-Output-Gigawords = 1',
    ]);
    await acct([
      ...base,
      'Acct-Status-Type = Stop',
      'Acct-Session-Time = 90',
      'Acct-Input-Octets = 900',
      'Acct-Output-Octets = 9000',
      'Acct-Output-Gigawords = 1',
    ]);
    const direct = (
      await tdb.db.raw(
        `SELECT sum(acctinputoctets)::float8 AS i, sum(acctoutputoctets)::float8 AS o, sum(acctsessiontime)::float8 AS s, count(*)::int AS n FROM radacct WHERE tenant_id = ? AND username = 'rollup'`,
        [A.id],
      )
    ).rows[0];
    expect(direct).toEqual({ i: 900, o: 2 ** 32 + 9000, s: 90, n: 1 });
    const rolled = (
      await tdb.db.raw(
        `SELECT sum(input_octets)::float8 AS i, sum(output_octets)::float8 AS o, sum(session_seconds)::float8 AS s, sum(sessions)::int AS n FROM usage_daily WHERE tenant_id = ? AND username = 'rollup'`,
        [A.id],
      )
    ).rows[0];
    expect(rolled).toEqual(direct);
    const nasId = (await tdb.db('radacct').where({ acctsessionid: 'rollup-1' }).first()).nas_id;
    const ons = async () =>
      Number((await tdb.db('nas_acct_state').where({ nas_id: nasId }).first())?.accounting_on_count ?? 0);
    const before = await ons();
    expect((await acct(['Acct-Status-Type = Accounting-On', 'NAS-IP-Address = 127.0.0.1'])).code).toBe(
      'Accounting-Response',
    );
    expect(await ons()).toBe(before + 1);
  });

  it('an Interim without a Start (lost packet) still creates the session', async () => {
    await acct([
      'User-Name = "acc"',
      'Acct-Session-Id = "acc-lost-start"',
      'Acct-Status-Type = Interim-Update',
      'Acct-Session-Time = 300',
      'Acct-Input-Octets = 42',
    ]);
    const row = await tdb.db('radacct').where({ acctsessionid: 'acc-lost-start' }).first();
    expect(row).toMatchObject({ tenant_id: A.id, acctstoptime: null });
    expect(Number(row.acctinputoctets)).toBe(42);
    expect(new Date(row.acctstarttime).getTime()).toBeLessThan(Date.now() - 290_000);
  });

  it("Accounting-On closes the sending NAS's open sessions, and only those, and is always answered", async () => {
    await acct(['User-Name = "acc"', 'Acct-Session-Id = "on-a-1"', 'Acct-Status-Type = Start']);
    const bAcct = acctClient('127.0.0.2', SECRET_B);
    await bAcct.accounting([
      { name: 'User-Name', value: 'shared' },
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'Acct-Session-Id', value: 'on-b-1' },
    ]);
    await accountingWritten(fr);
    const on = await acct(['Acct-Status-Type = Accounting-On', 'NAS-IP-Address = 127.0.0.1']);
    expect(on.code).toBe('Accounting-Response');
    const a = await tdb.db('radacct').where({ acctsessionid: 'on-a-1' }).first();
    expect(a.acctterminatecause).toBe('NAS-Reboot');
    expect(a.acctstoptime).not.toBeNull();
    const b = await tdb.db('radacct').where({ acctsessionid: 'on-b-1' }).first();
    expect(b.acctstoptime).toBeNull();
    // Nothing left open: still answered (a silent server would make the NAS retransmit forever).
    expect((await acct(['Acct-Status-Type = Accounting-On', 'NAS-IP-Address = 127.0.0.1'])).code).toBe(
      'Accounting-Response',
    );
    // Rows are closed, never deleted.
    expect(await tdb.db('radacct').where({ acctsessionid: 'on-a-1' }).count()).toEqual([{ count: '1' }]);
  });

  it('bytes that are not UTF-8 are still accounted and answered (never a stalled NAS)', async () => {
    const a = acctClient('127.0.0.1', SECRET_A);
    const odd = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
    const res = await a.accounting([
      { name: 'User-Name', value: odd },
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'Acct-Session-Id', value: 'odd-bytes-1' },
      { name: 'Calling-Station-Id', value: Buffer.from([0xc3, 0x28]) },
    ]);
    await accountingWritten(fr);
    expect(res.packet.code).toBe(PacketCode.AccountingResponse);
    const row = await tdb.db('radacct').where({ acctsessionid: 'odd-bytes-1' }).first();
    expect(row.username).toContain('invalid:61fffe62');
    expect(row.tenant_id).toBe(A.id);
    // Authentication with such a name is simply rejected (no stored name can contain it).
    const c = nas('127.0.0.1', SECRET_A);
    expect((await c.accessRequestPap(odd as unknown as string, 'pw')).packet.code).toBe(PacketCode.AccessReject);
  });

  it('Lango client accounting: two tenants with identical session ids and NAS-IP stay apart', async () => {
    const attrs = (user: string) => [
      { name: 'User-Name', value: user },
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'Acct-Session-Id', value: '81a00001' },
      { name: 'NAS-IP-Address', value: '192.168.88.1' },
    ];
    await acctClient('127.0.0.1', SECRET_A).accounting(attrs('shared'));
    await accountingWritten(fr);
    await acctClient('127.0.0.2', SECRET_B).accounting(attrs('shared'));
    await accountingWritten(fr);
    const rows = await tdb.db('radacct').where({ acctsessionid: '81a00001' }).orderBy('tenant_id');
    expect(rows.map((r) => r.tenant_id).sort()).toEqual([A.id, B.id].sort());
    expect(getNumber([], 'x')).toBeUndefined();
    expect(getAttributes([], 'x')).toEqual([]);
  });
});
