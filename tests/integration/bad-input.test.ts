/**
 * Odd input never gives a 500 (security review item 9). Each input class is sent to every route
 * it can reach, found from the route registry, so a new route is covered without editing this
 * file: the answer must be a 4xx with the usual {"error": {"code", "message"}} shape, a code of
 * the catalogue with its status, and nothing of a stack trace.
 */
import request from 'supertest';
import { gzipSync } from 'node:zlib';
import { createTestApi, suffix, TestApi, TestTenant } from '../helpers/api';
import { ERRORS, ErrorCode } from '../../src/lib/errors';
import { mapDbError } from '../../src/db/errors';
import type { RouteSpec } from '../../src/http/registry';

let api: TestApi;
let t: TestTenant;
const ids: Record<string, string> = {};

const randomIp = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

beforeAll(async () => {
  api = await createTestApi();
  t = await api.newTenant();
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await request(api.app).post(`/api/v1${path}`).set(t.auth).send(body);
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${res.text}`);
    return res.body;
  };
  ids.plan = (await post('/plans', { name: `P ${suffix()}`, durationSeconds: 86400 })).id;
  ids.subscriber = (await post('/subscribers', { username: `s-${suffix()}`, password: 'pw', planId: ids.plan })).id;
  ids.nas = (await post('/nas', { name: 'r1', address: randomIp(), secret: 'sekret123' })).id;
  ids.user = (
    await post('/users', { email: `op-${suffix()}@lango.test`, password: 'operator-pw-1', role: 'tenant_operator' })
  ).id;
  ids.apiKey = (await post('/api-keys', { name: 'k', role: 'tenant_operator' })).id;
  ids.mpesaAccount = (
    await post('/mpesa-accounts', {
      name: 'pb',
      kind: 'paybill',
      shortcode: '600111',
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    })
  ).id;
  ids.buyer = (
    await post('/subscribers', {
      username: `b-${suffix()}`,
      password: 'pw',
      planId: ids.plan,
      startSubscription: false,
    })
  ).id;
  // Money that matched nobody (as a C2B confirmation leaves it): assign and refund act on it.
  ids.payment = (
    await api
      .db('payments')
      .insert({
        tenant_id: t.id,
        account_id: ids.mpesaAccount,
        channel: 'c2b',
        mpesa_receipt: `R${suffix()}`.toUpperCase(),
        amount: 100,
        state: 'completed',
        allocation: 'unallocated',
        unallocated_reason: 'no_subscriber',
      })
      .returning('id')
  )[0].id;
  const vb = await post('/voucher-batches', { planId: ids.plan, quantity: 2 });
  ids.voucherBatch = vb.batch.id;
  ids.voucher = (
    await request(api.app).get('/api/v1/vouchers').query({ batchId: vb.batch.id }).set(t.auth)
  ).body.data[0].id;
});
afterAll(async () => {
  await api.close();
});

const routes = (): RouteSpec[] => api.registry.routes.map((r) => r.spec);
const label = (s: RouteSpec) => `${s.method} ${s.path}`;

/** The route's path with :id naming an existing record of the tenant (or a well-formed id). */
function urlOf(s: RouteSpec, id?: string): string {
  const prefix = s.path.split('/')[1];
  const existing: Record<string, string> = {
    plans: ids.plan!,
    subscribers: ids.subscriber!,
    nas: ids.nas!,
    users: ids.user!,
    'api-keys': ids.apiKey!,
    tenants: t.id,
    sessions: '1',
    'mpesa-accounts': ids.mpesaAccount!,
    payments: ids.payment!,
    'voucher-batches': ids.voucherBatch!,
    vouchers: ids.voucher!,
  };
  // /reports/:name: a report that takes every query parameter (usage).
  return `/api/v1${s.path.replace(':id', id ?? existing[prefix!] ?? '00000000-0000-4000-8000-000000000000').replace(':name', 'usage')}`;
}

function authOf(s: RouteSpec): Record<string, string> {
  if (s.auth === 'public') return {};
  return s.auth.includes('tenant_admin') ? t.auth : api.adminAuth;
}

function send(s: RouteSpec, url: string) {
  return request(api.app)[s.method](url).set(authOf(s));
}

type Res = request.Response;

/**
 * Null when `res` is a well-formed client error; else what is wrong. `wantPath`: the answer must
 * be VALIDATION_FAILED naming this field. `code`: the exact code expected.
 */
function problem(what: string, res: Res, want: { path?: string; code?: ErrorCode } = {}): string | null {
  const e = res.body?.error;
  const wrong: string[] = [];
  if (res.status < 400 || res.status >= 500) wrong.push(`status ${res.status}`);
  if (typeof e?.code !== 'string' || typeof e?.message !== 'string' || Object.keys(res.body).length !== 1)
    wrong.push('not the error shape');
  else if (ERRORS[e.code as ErrorCode] !== res.status)
    wrong.push(`code ${e.code} is not a ${res.status} of the catalogue`);
  if (/\n\s+at |node_modules|\.[jt]s:\d+/.test(res.text ?? '')) wrong.push('stack trace in the body');
  if (want.code && e?.code !== want.code) wrong.push(`code ${e?.code}, want ${want.code}`);
  if (want.path && !(e?.details?.errors ?? []).some((x: { path: string }) => x.path === want.path))
    wrong.push(`does not name ${want.path}`);
  return wrong.length ? `${what}: ${wrong.join(', ')} -> ${(res.text ?? '').slice(0, 200)}` : null;
}

/** Runs the cases (a few at a time) and lists every failing one at once. */
async function expectAllRejected(cases: Array<() => Promise<string | null>>): Promise<void> {
  const problems: string[] = [];
  for (let i = 0; i < cases.length; i += 8) {
    for (const p of await Promise.all(cases.slice(i, i + 8).map((c) => c()))) if (p) problems.push(p);
  }
  expect(problems).toEqual([]);
}

type Schema = Record<string, any>;
const propsOf = (s: Schema | undefined): Array<[string, Schema]> =>
  Object.entries((s?.properties ?? {}) as Record<string, Schema>);
const alternatives = (s: Schema): Schema[] => [s, ...((s.anyOf as Schema[] | undefined) ?? [])];

/** Paths of every string field of a body schema, nested objects included (a.b). */
function stringFields(s: Schema | undefined, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, p] of propsOf(s)) {
    const alts = alternatives(p);
    if (alts.some((a) => a.type === 'string')) out.push(prefix + name);
    for (const a of alts) if (a.type === 'object') out.push(...stringFields(a, `${prefix}${name}.`));
  }
  return out;
}

function withField(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let o: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
  return copy;
}

describe('malformed percent-encoding in a path id', () => {
  it('is VALIDATION_FAILED on every route with an id', async () => {
    const withId = routes().filter((s) => s.path.includes(':id'));
    expect(withId.length).toBeGreaterThan(20);
    const cases = withId.flatMap((s) =>
      ['%E0%A4%A', '%', '%zz', '%C0%80', '%ED%A0%80'].map((raw) => async () => {
        const req = send(s, urlOf(s, raw));
        const res = s.body ? await req.send({}) : await req;
        return problem(`${label(s)} ${raw}`, res, { code: 'VALIDATION_FAILED', path: 'params' });
      }),
    );
    await expectAllRejected(cases);
  });
});

describe('Content-Encoding the body cannot be decoded with', () => {
  const json = Buffer.from(JSON.stringify({ name: 'x' }));
  const variants: Array<{ encoding: string; body: Buffer; code: ErrorCode }> = [
    { encoding: 'gzip', body: Buffer.from('definitely not gzip'), code: 'BAD_REQUEST' },
    { encoding: 'gzip', body: gzipSync(json).subarray(0, 12), code: 'BAD_REQUEST' },
    { encoding: 'deflate', body: Buffer.from('definitely not deflate'), code: 'BAD_REQUEST' },
    { encoding: 'br', body: Buffer.from('definitely not brotli'), code: 'BAD_REQUEST' },
    { encoding: 'br', body: Buffer.from([0, 1, 2]), code: 'BAD_REQUEST' },
    { encoding: 'GZIP', body: Buffer.from('upper-case name, still garbage'), code: 'BAD_REQUEST' },
    { encoding: 'gzip', body: gzipSync(Buffer.from('{"name": ')), code: 'BAD_JSON' },
    { encoding: 'gzip', body: gzipSync(Buffer.alloc(2 * 1024 * 1024, ' ')), code: 'PAYLOAD_TOO_LARGE' },
    { encoding: 'compress', body: Buffer.from('x'), code: 'UNSUPPORTED_MEDIA_TYPE' },
    { encoding: 'zstd', body: Buffer.from('x'), code: 'UNSUPPORTED_MEDIA_TYPE' },
    { encoding: 'gzip, br', body: Buffer.from('x'), code: 'UNSUPPORTED_MEDIA_TYPE' },
  ];

  it('is a 4xx on every route that takes a body', async () => {
    const withBody = routes().filter((s) => s.body);
    expect(withBody.length).toBeGreaterThan(15);
    const cases = withBody.flatMap((s) =>
      variants.map((v) => async () => {
        // write(), not send(): superagent would serialise a Buffer as JSON.
        const req = send(s, urlOf(s)).set('Content-Type', 'application/json').set('Content-Encoding', v.encoding);
        req.write(v.body);
        const res = await req;
        return problem(`${label(s)} ${v.encoding} (${v.code})`, res, { code: v.code });
      }),
    );
    await expectAllRejected(cases);
  });
});

/** Query and path parameters by kind, from the route schemas. */
function parameters(pred: (p: Schema) => boolean): Array<{ spec: RouteSpec; where: 'query' | 'params'; name: string }> {
  return routes().flatMap((spec) =>
    (['query', 'params'] as const).flatMap((where) =>
      propsOf(spec[where])
        .filter(([, p]) => pred(p))
        .map(([name]) => ({ spec, where, name })),
    ),
  );
}

/** Sends one query or path parameter with `value` (other path ids name existing records). */
function sendParam(spec: RouteSpec, where: 'query' | 'params', name: string, value: string) {
  const url = where === 'params' ? urlOf(spec, encodeURIComponent(value)) : urlOf(spec);
  const req = send(spec, url).query(where === 'query' ? { [name]: value } : {});
  return spec.body ? req.send({}) : req;
}

describe('control characters in query parameters', () => {
  it('are VALIDATION_FAILED naming the parameter, on every text parameter', async () => {
    const text = parameters((p) => alternatives(p).some((a) => a.type === 'string') || Array.isArray(p.enum)).filter(
      (x) => x.where === 'query',
    );
    expect(text.map((x) => x.name)).toEqual(expect.arrayContaining(['q', 'username', 'address', 'entity', 'entityId']));
    const cases = text.flatMap(({ spec, name }) =>
      ['a\u0000b', 'a\u0007b', '\u001b[31mred', 'a\u007fb'].map(
        (v) => async () =>
          problem(`${label(spec)} ?${name}=${JSON.stringify(v)}`, await sendParam(spec, 'query', name, v), {
            path: `query.${name}`,
          }),
      ),
    );
    await expectAllRejected(cases);
  });
});

describe('text the database cannot store in bodies', () => {
  /** A valid body per route with text fields; each case changes one field of it. */
  const bases: Record<string, () => Record<string, unknown>> = {
    'post /auth/login': () => ({ email: t.adminEmail, password: 'tenant-password-1' }),
    'post /tenants': () => ({
      name: 'T',
      slug: `t-${suffix()}`,
      timeZone: 'Africa/Nairobi',
      currency: 'KES',
      admin: { email: `a-${suffix()}@lango.test`, password: 'longenough1', name: 'A' },
    }),
    'patch /tenants/:id': () => ({}),
    'post /users': () => ({
      email: `u-${suffix()}@lango.test`,
      password: 'longenough1',
      name: 'U',
      role: 'tenant_operator',
    }),
    'patch /users/:id': () => ({}),
    'post /api-keys': () => ({ name: 'k', role: 'tenant_operator' }),
    'post /plans': () => ({ name: `P ${suffix()}`, durationSeconds: 3600, rateLimit: '1M/2M' }),
    'patch /plans/:id': () => ({}),
    'post /subscribers': () => ({
      username: `s-${suffix()}`,
      password: 'pw',
      fullName: 'F',
      phone: '+254700000000',
      email: 's@lango.test',
      notes: '',
    }),
    'patch /subscribers/:id': () => ({}),
    'post /subscribers/:id/suspend': () => ({ reason: 'late' }),
    'post /subscribers/:id/change-plan': () => ({ planId: ids.plan }),
    'post /subscribers/:id/reset-password': () => ({ password: 'new-pw' }),
    'post /nas': () => ({
      name: 'n',
      address: randomIp(),
      identifier: `id-${suffix()}`,
      secret: 'sekret123',
      kind: 'mikrotik',
      description: 'd',
      routerOsApi: { username: 'api', password: 'pw' },
    }),
    'patch /nas/:id': () => ({}),
    'patch /enforcement/settings': () => ({ softBlockRateLimit: '64k/64k' }),
    'post /mpesa-accounts': () => ({
      name: 'M',
      kind: 'paybill',
      shortcode: String(700000 + Math.floor(Math.random() * 99999)),
      environment: 'sandbox',
      consumerKey: 'k',
      consumerSecret: 's',
      passkey: 'p',
    }),
    'patch /mpesa-accounts/:id': () => ({}),
    'post /payments/stk-push': () => ({ subscriberId: ids.subscriber, phone: '0708374149' }),
    // Another subscriber: the base of /subscribers/:id/suspend suspends ids.subscriber.
    'post /payments/:id/assign': () => ({ subscriberId: ids.buyer }),
    'post /payments/:id/refund': () => ({ note: 'refunded in the org portal' }),
    'post /payments/statement': () => ({ csv: 'Receipt No.,Paid In\n' }),
    'post /voucher-batches': () => ({ planId: ids.plan, quantity: 1, note: 'Shop' }),
    'post /voucher-batches/:id/revoke': () => ({ reason: 'lost' }),
    'post /vouchers/:id/revoke': () => ({ reason: 'refund' }),
    'patch /portal-settings': () => ({ displayName: 'Mtaani WiFi', hotspotDnsNames: ['hotspot.example.net'] }),
    'patch /sms-settings': () => ({ enabled: true, senderId: 'MTAANI' }),
  };
  /** A valid body that still cannot succeed here: no Daraja in this test (LANGO_PUBLIC_URL unset). */
  const baseStatus: Record<string, number> = { 'post /payments/stk-push': 409 };
  // Compared with bcrypt, never stored: a wrong-password answer is a fine 4xx.
  const notStored = new Set(['post /auth/login password']);

  it('NUL and lone surrogates are VALIDATION_FAILED naming the field, and nothing is written', async () => {
    const withText = routes().filter((s) => stringFields(s.body).length > 0);
    expect(withText.map(label).filter((l) => !bases[l])).toEqual([]);
    // Each base body is valid on its own, so a rejection below is the changed field's doing.
    for (const s of withText) {
      const res = await send(s, urlOf(s)).send(bases[label(s)]!());
      expect([label(s), res.status]).toEqual([label(s), baseStatus[label(s)] ?? s.status ?? 200]);
    }
    const auditRows = Number((await api.db('audit_log').count<{ count: string }[]>({ count: '*' }))[0]!.count);
    const cases = withText.flatMap((s) =>
      stringFields(s.body).flatMap((field) =>
        ['a\u0000b', 'a\ud800b', '\udfffz'].map((v) => async () => {
          const res = await send(s, urlOf(s)).send(withField(bases[label(s)]!(), field, v));
          return problem(
            `${label(s)} ${field}=${JSON.stringify(v)}`,
            res,
            notStored.has(`${label(s)} ${field}`) ? {} : { path: `body.${field}` },
          );
        }),
      ),
    );
    await expectAllRejected(cases);
    expect(Number((await api.db('audit_log').count<{ count: string }[]>({ count: '*' }))[0]!.count)).toBe(auditRows);
  });
});

describe('numbers beyond what the database column holds', () => {
  it('integer parameters above 2^53 are VALIDATION_FAILED naming the parameter', async () => {
    const ints = parameters((p) => p.type === 'integer');
    expect(ints.map((x) => `${x.where}.${x.name}`)).toEqual(
      expect.arrayContaining(['query.sessionId', 'params.id', 'query.limit', 'query.offset']),
    );
    const cases = ints.flatMap(({ spec, where, name }) =>
      ['12345678901234567890', '9223372036854775808', '9007199254740993', '1e400'].map(
        (v) => async () =>
          problem(`${label(spec)} ${where}.${name}=${v}`, await sendParam(spec, where, name, v), {
            path: `${where}.${name}`,
          }),
      ),
    );
    await expectAllRejected(cases);
  });
});

describe('dates the database cannot store', () => {
  it('date-time parameters outside 1970..9999 or with impossible offsets are VALIDATION_FAILED', async () => {
    const dates = parameters((p) => p.format === 'date-time');
    expect(dates.map((x) => x.name)).toEqual(expect.arrayContaining(['from', 'to']));
    const cases = dates.flatMap(({ spec, where, name }) =>
      [
        '0000-01-01T00:00:00Z',
        '1969-12-31T23:59:59Z',
        '10000-01-01T00:00:00Z',
        '2024-01-01T00:00:00+23:00',
        '2024-01-01T00:00:00-16:00',
      ].map(
        (v) => async () =>
          problem(`${label(spec)} ${name}=${v}`, await sendParam(spec, where, name, v), { path: `${where}.${name}` }),
      ),
    );
    await expectAllRejected(cases);
  });
});

describe('IPv6 addresses with a zone id', () => {
  it('are VALIDATION_FAILED in NAS and subscriber address fields', async () => {
    const zoned = ['fe80::1%eth0', 'fe80::1%25eth0', 'fe80::1%1'];
    const nasCount = async () =>
      Number((await api.db('nas').where({ tenant_id: t.id }).count<{ count: string }[]>({ count: '*' }))[0]!.count);
    const before = await nasCount();
    const cases = zoned.flatMap((a) => [
      async () =>
        problem(
          `post /nas ${a}`,
          await request(api.app).post('/api/v1/nas').set(t.auth).send({ name: 'z', address: a, secret: 'sekret123' }),
          { path: 'body.address' },
        ),
      async () =>
        problem(
          `patch /nas/:id ${a}`,
          await request(api.app).patch(`/api/v1/nas/${ids.nas}`).set(t.auth).send({ address: a }),
          { path: 'body.address' },
        ),
      async () =>
        problem(`get /nas?address=${a}`, await request(api.app).get('/api/v1/nas').query({ address: a }).set(t.auth), {
          path: 'query.address',
        }),
      async () =>
        problem(
          `post /subscribers staticIp ${a}`,
          await request(api.app)
            .post('/api/v1/subscribers')
            .set(t.auth)
            .send({ username: `z-${suffix()}`, password: 'pw', staticIp: a }),
          { path: 'body.staticIp' },
        ),
      async () =>
        problem(
          `patch /subscribers/:id staticIp ${a}`,
          await request(api.app).patch(`/api/v1/subscribers/${ids.subscriber}`).set(t.auth).send({ staticIp: a }),
          { path: 'body.staticIp' },
        ),
    ]);
    await expectAllRejected(cases);
    expect(await nasCount()).toBe(before);
  });
});

describe('the bounds keep valid input working', () => {
  it('accepts the edges: 1970 and 9999, offsets to ±14:00, ids up to 2^53-1, text beyond ASCII, plain IPv6', async () => {
    const ok = async (res: Res) => {
      expect([res.status, res.body?.error]).toEqual([expect.any(Number), undefined]);
      expect(res.status).toBeLessThan(300);
    };
    const hist = `/api/v1/subscribers/${ids.subscriber}/sessions`;
    await ok(
      await request(api.app)
        .get(hist)
        .query({ from: '1970-01-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z' })
        .set(t.auth),
    );
    await ok(
      await request(api.app)
        .get(hist)
        .query({ from: '2024-01-01T00:00:00+14:00', to: '2024-01-01T00:00:00-12:00' })
        .set(t.auth),
    );
    await ok(
      await request(api.app).get('/api/v1/enforcement-actions').query({ sessionId: '9007199254740991' }).set(t.auth),
    );
    const missing = await request(api.app).get('/api/v1/sessions/9007199254740991').set(t.auth);
    expect([missing.status, missing.body.error.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    await ok(await request(api.app).get('/api/v1/subscribers').query({ q: 'Wanjirũ 😀' }).set(t.auth));
    const sub = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: `ü-${suffix()}-😀`, password: 'pässwörd\u0007', fullName: 'Wanjirũ 😀' });
    expect(sub.status).toBe(201);
    expect(sub.body.fullName).toBe('Wanjirũ 😀');
    // Not link-local: that is never a NAS address the worker may send to (decision 29).
    const v6 = await request(api.app)
      .post('/api/v1/nas')
      .set(t.auth)
      .send({ name: 'v6', address: `fd00::${Math.floor(Math.random() * 0xffff).toString(16)}`, secret: 'sekret123' });
    expect(v6.status).toBe(201);
  });
});

describe('mapDbError on the errors real queries raise', () => {
  it('turns data exceptions from bad values into VALIDATION_FAILED', async () => {
    const cases: Array<[string, Array<string | number>, string]> = [
      ['SELECT ?::timestamptz', ['0000-01-01T00:00:00Z'], '22008'],
      ['SELECT ?::timestamptz', ['2024-01-01T00:00:00+23:00'], '22009'],
      ['SELECT ?::timestamptz', ['yesterday-ish'], '22007'],
      ['SELECT ?::text', ['a\u0000b'], '22021'],
      ['SELECT ?::jsonb', ['{"a": "\\u0000"}'], '22P05'],
      ['SELECT ?::bigint', ['12345678901234567890'], '22003'],
      ['SELECT ?::integer', [3000000000], '22003'],
      ['SELECT ?::inet', ['fe80::1%eth0'], '22P02'],
    ];
    for (const [sql, bindings, sqlstate] of cases) {
      const err = await api.db.raw(sql, bindings).then(
        () => null,
        (e: unknown) => e,
      );
      expect([sql, (err as { code?: string } | null)?.code]).toEqual([sql, sqlstate]);
      const mapped = mapDbError(err) as { code?: string; status?: number; message?: string };
      expect([sqlstate, mapped.code, mapped.status]).toEqual([sqlstate, 'VALIDATION_FAILED', 400]);
      expect(mapped.message).not.toMatch(/SELECT|0x00|fe80/);
    }
  });
});
