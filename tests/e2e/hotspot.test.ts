/**
 * The NAS simulator's hotspot login (src/simulate/hotspot.ts) against a real FreeRADIUS: phones
 * (HTTP clients bound to 127.0.0.x) open the router's login page, whose own script computes the
 * CHAP response, and log in with vouchers; the router starts accounting, refuses a second
 * device with FreeRADIUS's Reply-Message, and ends sessions itself at Session-Timeout and at
 * the data limit.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi, TestTenant } from '../helpers/api';
import { startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { FakeClock } from '../helpers/clock';
import { eventually } from '../helpers/wait';
import { startNasSimulator, type NasSimulator } from '../../src/simulate/nas-simulator';
import { octalUnescape, startHotspot, type Hotspot } from '../../src/simulate/hotspot';

jest.setTimeout(60000);

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let T: TestTenant;
let sim: NasSimulator;
let hs: Hotspot;
let portalHs: Hotspot;
const clock = new FakeClock(Date.now());
const SECRET = 'hotspot-sim-secret';
let dayPlan: any;
let tinyPlan: any;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A phone at `from` (a loopback address) asking the router. */
function phone(from: string, method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<Res> {
  return new Promise((resolve, reject) => {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const req = httpRequest(
      url,
      {
        method,
        localAddress: from,
        headers: body
          ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What the browser does on the router's login page: run the page's own script to hash the password, then post the form. */
async function pageLogin(
  from: string,
  user: string,
  password: string,
  dst = 'http://news.example/today',
): Promise<Res> {
  const page = await phone(from, 'GET', `${hs.loginUrl}?dst=${encodeURIComponent(dst)}`);
  expect(page.status).toBe(200);
  const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)![1]!;
  const form = { password: { value: password } };
  runInNewContext(`${script}\ndoLogin();`, { document: { forms: { login: form } } });
  expect(form.password.value).toMatch(/^[0-9a-f]{32}$/);
  return phone(from, 'POST', hs.loginUrl, { username: user, password: form.password.value, dst, popup: 'false' });
}

async function voucher(planId: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request(api.app)
    .post('/api/v1/voucher-batches')
    .set(T.auth)
    .send({ planId, quantity: 1, ...body });
  expect(res.status).toBe(201);
  return res.body.codes[0];
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  fr = await startTestFreeRadius(tdb.radiusUrl);
  T = await api.newTenant();
  dayPlan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(T.auth)
      .send({ name: 'Hour', durationSeconds: 3600, rateLimit: '2M/4M', interimIntervalSeconds: 60 })
  ).body;
  tinyPlan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(T.auth)
      .send({ name: 'Tiny', durationSeconds: 86400, dataQuotaBytes: 1_000_000 })
  ).body;
  sim = await startNasSimulator({
    radius: { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret: SECRET },
    bindAddress: '127.0.0.1',
  });
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(T.auth)
        .send({ name: 'hotspot-sim', address: '127.0.0.1', secret: SECRET, coaPort: sim.coaPort })
    ).status,
  ).toBe(201);
  hs = await startHotspot({ nas: sim, clock });
  portalHs = await startHotspot({ nas: sim, clock, portalUrl: 'http://portal.example/portal/t/hotspot' });
});

afterAll(async () => {
  await hs?.close();
  await portalHs?.close();
  await sim?.close();
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

it('CHAP from the login page: Access-Accept, Accounting Start, redirect to link-orig, status page; interims on the clock', async () => {
  const code = await voucher(dayPlan.id);
  const res = await pageLogin('127.0.0.11', code, code);
  expect(res.status).toBe(302);
  expect(res.headers.location).toBe('http://news.example/today');
  const d = hs.device('127.0.0.11')!;
  expect(d.user).toBe(code);
  const row = await eventually(() => tdb.db('radacct').where({ tenant_id: T.id, username: code }).first(), 'the Start');
  expect(row.acctstoptime).toBeNull();
  expect(row.callingstationid).toBe(d.mac);
  expect(row.framedipaddress).toBe('127.0.0.11');
  const status = await phone('127.0.0.11', 'GET', `${hs.url}/status`);
  expect(status.body).toContain(`<span id="username">${code}</span>`);
  expect(status.body).toContain('<span id="session-time-left">3600</span>');
  // The voucher is bound to this phone and its clock runs.
  const v = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(T.auth)).body.data[0];
  expect(v).toMatchObject({ status: 'active', devicesBound: 1 });
  await hs.traffic('127.0.0.11', { inputOctets: 1000, outputOctets: 5000 });
  await clock.advance(60_000);
  await eventually(
    async () => Number((await tdb.db('radacct').where({ radacctid: row.radacctid }).first()).acctoutputoctets) === 5000,
    'the interim',
  );

  // Session-Timeout (the hour the voucher bought) ends it with a Stop.
  await clock.advance(3600_000);
  const stopped = await eventually(async () => {
    const r = await tdb.db('radacct').where({ radacctid: row.radacctid }).first();
    return r.acctstoptime ? r : undefined;
  }, 'the Stop');
  expect(stopped.acctterminatecause).toBe('Session-Timeout');
  expect(hs.ended.at(-1)).toMatchObject({ user: code, reason: 'session-timeout', cause: 'Session-Timeout' });
  expect(hs.device('127.0.0.11')!.user).toBeUndefined();
  expect((await phone('127.0.0.11', 'GET', `${hs.url}/status`)).status).toBe(302);
});

it('a second phone on a one-device voucher gets the router error page with the Reply-Message', async () => {
  const code = await voucher(dayPlan.id);
  expect((await pageLogin('127.0.0.21', code, code)).status).toBe(302);
  const second = await pageLogin('127.0.0.22', code, code);
  expect(second.status).toBe(200);
  expect(second.body).toContain('<p class="error" id="error">Voucher already in use on another device</p>');
  expect(hs.device('127.0.0.22')!.user).toBeUndefined();
  const wrong = await pageLogin('127.0.0.23', code, 'WRONG');
  expect(wrong.body).toContain('id="error">invalid username or password<');
  // A replayed CHAP answer (the challenge was used up) is refused too.
  const page = await phone('127.0.0.24', 'GET', hs.loginUrl);
  const [, id, challenge] = /hexMD5\('([^']*)'\+f\.password\.value\+'([^']*)'\)/.exec(page.body)!;
  const fresh = await voucher(dayPlan.id);
  const ok = createHash('md5')
    .update(Buffer.concat([octalUnescape(id!), Buffer.from(fresh), octalUnescape(challenge!)]))
    .digest('hex');
  expect((await phone('127.0.0.24', 'POST', hs.loginUrl, { username: fresh, password: ok })).status).toBe(302);
  await phone('127.0.0.24', 'POST', `${hs.url}/logout`);
  const replay = await phone('127.0.0.24', 'POST', hs.loginUrl, { username: fresh, password: ok });
  expect(replay.status).toBe(200);
  expect(replay.body).toContain('id="error"');
  expect(hs.ended.at(-1)).toMatchObject({ user: fresh, reason: 'logout', cause: 'User-Request' });
});

it('one CHAP challenge per phone, as on RouterOS: kept over other requests until a login uses it or it expires', async () => {
  const challengeOf = async (from: string): Promise<string> => {
    const page = await phone(from, 'GET', hs.loginUrl);
    return /hexMD5\('([^']*)'\+f\.password\.value\+'([^']*)'\)/.exec(page.body)!.slice(1).join('|');
  };
  const first = await challengeOf('127.0.0.26');
  // The browser's favicon (any other page) and a reload of the login page keep it.
  expect((await phone('127.0.0.26', 'GET', `${hs.url}/favicon.ico`)).status).toBe(302);
  expect(await challengeOf('127.0.0.26')).toBe(first);
  // Another phone has its own.
  expect(await challengeOf('127.0.0.27')).not.toBe(first);
  // The login answers it (used up): the next page has a new one.
  const code = await voucher(dayPlan.id);
  const [id, challenge] = first.split('|');
  const answer = createHash('md5')
    .update(Buffer.concat([octalUnescape(id!), Buffer.from(code), octalUnescape(challenge!)]))
    .digest('hex');
  expect((await phone('127.0.0.26', 'POST', hs.loginUrl, { username: code, password: answer })).status).toBe(302);
  await phone('127.0.0.26', 'POST', `${hs.url}/logout`);
  const second = await challengeOf('127.0.0.26');
  expect(second).not.toBe(first);
  // Unused for five minutes, it expires: the next page has a new one.
  await clock.advance(5 * 60_000 + 1000);
  expect(await challengeOf('127.0.0.26')).not.toBe(second);
});

it('PAP (a page without script): plain password accepted; a revoked voucher is refused with its message', async () => {
  const code = await voucher(dayPlan.id);
  await phone('127.0.0.31', 'GET', hs.loginUrl);
  const res = await phone('127.0.0.31', 'POST', hs.loginUrl, { username: code, password: code });
  expect(res.status).toBe(302);
  expect(res.headers.location).toBe(`${hs.url}/status`);
  await phone('127.0.0.31', 'POST', `${hs.url}/logout`);
  const v = (await request(api.app).get('/api/v1/vouchers').query({ code }).set(T.auth)).body.data[0];
  await request(api.app).post(`/api/v1/vouchers/${v.id}/revoke`).set(T.auth).send({});
  const again = await phone('127.0.0.31', 'POST', hs.loginUrl, { username: code, password: code });
  expect(again.body).toContain('id="error">Voucher revoked<');
});

it('the data limit (Mikrotik-Total-Limit) ends the session with a Stop and the final counters', async () => {
  const code = await voucher(tinyPlan.id);
  expect((await pageLogin('127.0.0.41', code, code)).status).toBe(302);
  const row = await eventually(() => tdb.db('radacct').where({ tenant_id: T.id, username: code }).first(), 'the Start');
  await hs.traffic('127.0.0.41', { inputOctets: 100_000, outputOctets: 400_000 });
  expect(hs.device('127.0.0.41')!.user).toBe(code);
  await hs.traffic('127.0.0.41', { inputOctets: 200_000, outputOctets: 800_000 });
  expect(hs.device('127.0.0.41')!.user).toBeUndefined();
  const stopped = await eventually(async () => {
    const r = await tdb.db('radacct').where({ radacctid: row.radacctid }).first();
    return r.acctstoptime ? r : undefined;
  }, 'the Stop');
  expect(stopped.acctterminatecause).toBe('Session-Timeout');
  expect(Number(stopped.acctinputoctets) + Number(stopped.acctoutputoctets)).toBe(1_000_000);
  expect(hs.ended.at(-1)).toMatchObject({ user: code, reason: 'traffic-limit' });
  // The allowance is used up: the next login is refused by FreeRADIUS.
  const next = await pageLogin('127.0.0.41', code, code);
  expect(next.body).toContain('id="error">Data quota exhausted<');
});

it('with an external portal, /login is mikrotik/hotspot/login.html redirecting there with the login parameters; a reject carries error', async () => {
  const page = await phone('127.0.0.51', 'GET', `${portalHs.loginUrl}?dst=${encodeURIComponent('http://x.example/')}`);
  const url = new URL(/url=([^"]+)"/.exec(page.body)![1]!.replaceAll('&amp;', '&'));
  expect(url.origin + url.pathname).toBe('http://portal.example/portal/t/hotspot');
  const p = Object.fromEntries(url.searchParams);
  expect(p).toMatchObject({
    'link-login-only': portalHs.loginUrl,
    ip: '127.0.0.51',
    mac: portalHs.device('127.0.0.51')!.mac,
    'link-orig': 'http://x.example/',
    error: '',
  });
  // What the portal page does: decode chap-id/chap-challenge, hash, post to link-login-only.
  const code = await voucher(dayPlan.id);
  const hash = createHash('md5')
    .update(Buffer.concat([octalUnescape(p['chap-id']!), Buffer.from(code), octalUnescape(p['chap-challenge']!)]))
    .digest('hex');
  const res = await phone('127.0.0.51', 'POST', p['link-login-only']!, {
    username: code,
    password: hash,
    dst: p['link-orig']!,
  });
  expect(res.status).toBe(302);
  expect(res.headers.location).toBe('http://x.example/');
  const bad = await phone('127.0.0.52', 'POST', portalHs.loginUrl, { username: code, password: code });
  const back = new URL(/url=([^"]+)"/.exec(bad.body)![1]!.replaceAll('&amp;', '&'));
  expect(back.searchParams.get('error')).toBe('Voucher already in use on another device');
});

it('odd input: huge forms, wrong content type and javascript: destinations change nothing', async () => {
  expect((await phone('127.0.0.61', 'POST', hs.loginUrl, { username: 'x'.repeat(20000), password: 'y' })).status).toBe(
    413,
  );
  expect((await phone('127.0.0.61', 'POST', hs.loginUrl)).status).toBe(415);
  expect(hs.device('127.0.0.61')?.user).toBeUndefined();
  const code = await voucher(dayPlan.id);
  const res = await phone('127.0.0.61', 'POST', hs.loginUrl, {
    username: code,
    password: code,
    dst: 'javascript:alert(1)',
  });
  expect(res.headers.location).toBe(`${hs.url}/status`);
});
