/**
 * Vouchers against a real PostgreSQL: the 10,000-code batch with its FreeRADIUS rows, the clock
 * that starts at the first Accept (lango_voucher_login, what post-auth calls), the device
 * binding race, revoke through the outbox, printing tokens and CSV.
 */
import { Client } from 'pg';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi, type TestTenant } from '../helpers/api';
import { addNas, openSession } from './enforcement-fixtures';
import { eventually } from '../helpers/wait';
import { ALPHABETS } from '../../src/modules/vouchers/codes';
import { tokenHash } from '../../src/modules/vouchers/vouchers.service';

let tdb: TestDatabase;
let api: TestApi;
let A: TestTenant;
let plan: any;
let nasId: string;

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

async function batch(t: TestTenant, body: Record<string, unknown>) {
  const res = await request(api.app)
    .post('/api/v1/voucher-batches')
    .set(t.auth)
    .send({ planId: plan.id, ...body });
  if (res.status !== 201) throw new Error(`batch: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { batch: any; codes: string[] };
}

async function voucherOf(code: string) {
  return tdb.db('vouchers').where({ tenant_id: A.id, code }).first();
}

/** What post-auth runs for a voucher (policy.d/lango-authorize), as FreeRADIUS's role. */
async function login(c: Client | null, voucherId: string, mac: string): Promise<string> {
  const sql = 'SELECT lango_voucher_login($1, $2, $3) AS r';
  const args = [A.id, voucherId, hex(mac)];
  if (c) return (await c.query(sql, args)).rows[0].r;
  return (await tdb.db.raw('SELECT lango_voucher_login(?, ?, ?) AS r', args)).rows[0].r;
}

async function authorize(code: string, mac: string): Promise<Record<string, string>> {
  const rows = (
    await tdb.db.raw(`SELECT attribute, value FROM lango_authorize('127.0.0.1', '', ?, ?)`, [hex(code), hex(mac)])
  ).rows as Array<{ attribute: string; value: string }>;
  return Object.fromEntries(rows.map((r) => [r.attribute, r.value]));
}

async function radiusClient(): Promise<Client> {
  const c = new Client({ connectionString: tdb.radiusUrl });
  await c.connect();
  return c;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  A = await api.newTenant();
  plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(A.auth)
      .send({ name: 'Day pass', price: 5000, durationSeconds: 86400, dataQuotaBytes: 2e9, rateLimit: '2M/4M' })
  ).body;
  nasId = await addNas(tdb.db, A.id, '127.0.0.1', 'nas-secret', 3799);
});

afterAll(async () => {
  await api?.close();
  await tdb?.drop();
});

describe('batches', () => {
  it('10,000 codes: distinct, from the alphabet, each with its subscriber, password and plan group, in one transaction', async () => {
    const { batch: b, codes } = await batch(A, {
      quantity: 10000,
      alphabet: 'alphanumeric',
      length: 10,
      note: 'Mama Njeri shop',
    });
    expect(codes).toHaveLength(10000);
    expect(new Set(codes).size).toBe(10000);
    const re = new RegExp(`^[${ALPHABETS.alphanumeric}]{10}$`);
    expect(codes.every((c) => re.test(c))).toBe(true);
    expect(codes.some((c) => /[01OIL]/.test(c))).toBe(false);
    expect(b).toMatchObject({
      quantity: 10000,
      codeLength: 10,
      deviceLimit: 1,
      price: 5000,
      note: 'Mama Njeri shop',
      planName: 'Day pass',
    });
    expect(b.keyspaceBits).toBeGreaterThan(49);
    const counts = await tdb.db.raw(
      `SELECT (SELECT count(*) FROM vouchers WHERE batch_id = ?) AS v,
              (SELECT count(*) FROM subscribers s JOIN vouchers v ON v.subscriber_id = s.id WHERE v.batch_id = ? AND s.kind = 'voucher' AND s.username = v.code) AS s,
              (SELECT count(*) FROM radcheck c JOIN vouchers v ON v.tenant_id = c.tenant_id AND v.code = c.username WHERE v.batch_id = ? AND c.attribute = 'Cleartext-Password' AND c.value = v.code) AS c,
              (SELECT count(*) FROM radusergroup g JOIN vouchers v ON v.tenant_id = g.tenant_id AND v.code = g.username WHERE v.batch_id = ? AND g.groupname = ?) AS g`,
      [b.id, b.id, b.id, b.id, plan.groupname],
    );
    expect(counts.rows[0]).toEqual({ v: '10000', s: '10000', c: '10000', g: '10000' });
    // Vouchers are not in the subscribers list.
    const subs = await request(api.app).get('/api/v1/subscribers').set(A.auth);
    expect(subs.body.page.total).toBe(0);
    const list = await request(api.app)
      .get('/api/v1/vouchers')
      .query({ batchId: b.id, status: 'unused', limit: 5 })
      .set(A.auth);
    expect(list.status).toBe(200);
    expect(list.body.page.total).toBe(10000);
  });

  it('numeric codes; too short for the keyspace, too many, an unknown plan or a past use-by date are refused', async () => {
    const { codes } = await batch(A, { quantity: 20, alphabet: 'numeric' });
    expect(codes.every((c) => /^[0-9]{14}$/.test(c))).toBe(true);
    const bad = async (body: Record<string, unknown>, status: number) => {
      const res = await request(api.app)
        .post('/api/v1/voucher-batches')
        .set(A.auth)
        .send({ planId: plan.id, quantity: 5, ...body });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), status]);
      return res.body;
    };
    expect((await bad({ alphabet: 'alphanumeric', length: 8 }, 400)).error.message).toMatch(/at least 9/);
    await bad({ alphabet: 'numeric', length: 12 }, 400);
    await bad({ quantity: 10001 }, 400);
    await bad({ planId: '00000000-0000-4000-8000-000000000000' }, 404);
    await bad({ expiresAt: '2001-01-01T00:00:00Z' }, 400);
    await bad({ alphabet: 'hex' }, 400);
    await bad({ note: 'x'.repeat(201) }, 400);
    expect(await tdb.db('voucher_batches').where({ tenant_id: A.id }).count()).toEqual([{ count: '2' }]);
  });
});

describe('first login and devices', () => {
  it('the clock starts at the first Accept, not at printing: the period runs from then for the plan duration', async () => {
    const { codes } = await batch(A, { quantity: 1 });
    const v = await voucherOf(codes[0]!);
    expect(v.activated_at).toBeNull();
    // Before the first login: the whole allowance, no subscription yet.
    const before = await authorize(codes[0]!, '02:00:00:00:00:0a');
    expect(before['Lango-Voucher-Id']).toBe(v.id);
    expect(before['Lango-Session-Timeout']).toBe('86400');
    expect(before['Lango-Total-Limit']).toBe('2000000000');
    expect(before['Lango-Reject-Reason']).toBeUndefined();
    expect(await tdb.db('subscriptions').where({ subscriber_id: v.subscriber_id }).count()).toEqual([{ count: '0' }]);

    expect(await login(null, v.id, '02-00-00-00-00-0A')).toBe('ok');
    const after = await voucherOf(codes[0]!);
    expect(after.activated_at).not.toBeNull();
    const [sub] = await tdb.db('subscriptions').where({ subscriber_id: v.subscriber_id });
    expect(sub.source).toBe('voucher');
    expect(new Date(sub.starts_at).getTime()).toBe(new Date(after.activated_at).getTime());
    expect(new Date(sub.ends_at).getTime() - new Date(sub.starts_at).getTime()).toBe(86400 * 1000);
    expect(sub.price).toBe(5000);
    // Later logins are covered by that period; the same device again changes nothing.
    expect(await login(null, v.id, '02:00:00:00:00:0a')).toBe('ok');
    expect(await tdb.db('subscriptions').where({ subscriber_id: v.subscriber_id }).count()).toEqual([{ count: '1' }]);
    expect((await voucherOf(codes[0]!)).activated_at).toEqual(after.activated_at);
    const again = await authorize(codes[0]!, '02:00:00:00:00:0a');
    expect(Number(again['Lango-Session-Timeout'])).toBeLessThanOrEqual(86400);
    const view = await request(api.app).get(`/api/v1/vouchers/${v.id}`).set(A.auth);
    expect(view.body).toMatchObject({
      status: 'active',
      devicesBound: 1,
      activatedAt: new Date(after.activated_at).toISOString(),
      validUntil: new Date(sub.ends_at).toISOString(),
    });

    // When the period is over the voucher is used up.
    await tdb
      .db('subscriptions')
      .where({ id: sub.id })
      .update({ starts_at: tdb.db.raw(`now() - interval '2 days'`), ends_at: tdb.db.raw(`now() - interval '1 day'`) });
    expect((await authorize(codes[0]!, '02:00:00:00:00:0a'))['Lango-Reject-Reason']).toBe('Voucher expired');
    expect((await request(api.app).get(`/api/v1/vouchers/${v.id}`).set(A.auth)).body.status).toBe('expired');
  });

  it('an unused voucher past its use-by date is refused', async () => {
    const { codes } = await batch(A, { quantity: 1, expiresAt: new Date(Date.now() + 3600e3).toISOString() });
    const v = await voucherOf(codes[0]!);
    await tdb
      .db('voucher_batches')
      .where({ id: v.batch_id })
      .update({ expires_at: tdb.db.raw(`now() - interval '1 second'`) });
    expect((await authorize(codes[0]!, '02:00:00:00:00:0b'))['Lango-Reject-Reason']).toBe('Voucher expired');
    expect(await login(null, v.id, '02:00:00:00:00:0b')).toBe('Voucher expired');
  });

  it('device binding race: two devices at once on a one-device voucher, exactly one wins', async () => {
    const { codes } = await batch(A, { quantity: 1 });
    const v = await voucherOf(codes[0]!);
    const c1 = await radiusClient();
    const c2 = await radiusClient();
    try {
      // Deterministic interleaving: the first holds the voucher's row lock, the second waits for it.
      await c1.query('BEGIN');
      expect(await login(c1, v.id, '02:00:00:00:00:01')).toBe('ok');
      await c2.query('BEGIN');
      const second = login(c2, v.id, '02:00:00:00:00:02');
      await eventually(async () => {
        const w = await tdb.db.raw(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return w.rows[0].n === 1;
      }, 'the second login to wait for the lock');
      await c1.query('COMMIT');
      expect(await second).toBe('Voucher already in use on another device');
      await c2.query('COMMIT');
    } finally {
      await c1.end();
      await c2.end();
    }
    // And without any coordination: many devices at once, one binding.
    const { codes: more } = await batch(A, { quantity: 1 });
    const w = await voucherOf(more[0]!);
    const clients = await Promise.all([1, 2, 3, 4].map(() => radiusClient()));
    try {
      const results = await Promise.all(clients.map((c, i) => login(c, w.id, `02:00:00:00:01:0${i}`)));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'Voucher already in use on another device')).toHaveLength(3);
    } finally {
      for (const c of clients) await c.end();
    }
    expect(await tdb.db('voucher_devices').where({ voucher_id: w.id }).count()).toEqual([{ count: '1' }]);
    expect(await tdb.db('subscriptions').where({ subscriber_id: w.subscriber_id }).count()).toEqual([{ count: '1' }]);
    // authorize refuses the second device before the password matters too.
    const bound = (await tdb.db('voucher_devices').where({ voucher_id: w.id }).first()).mac_address;
    expect((await authorize(more[0]!, bound))['Lango-Reject-Reason']).toBeUndefined();
    expect((await authorize(more[0]!, '02:00:00:00:09:09'))['Lango-Reject-Reason']).toBe(
      'Voucher already in use on another device',
    );
    expect((await authorize(more[0]!, ''))['Lango-Reject-Reason']).toBe('Device not identified');
  });

  it('a two-device voucher binds two and refuses the third', async () => {
    const { codes } = await batch(A, { quantity: 1, deviceLimit: 2 });
    const v = await voucherOf(codes[0]!);
    expect(await login(null, v.id, '02:00:00:00:02:01')).toBe('ok');
    expect(await login(null, v.id, '02:00:00:00:02:02')).toBe('ok');
    expect(await login(null, v.id, '02:00:00:00:02:03')).toBe('Voucher already in use on another device');
    const usage = await request(api.app).get(`/api/v1/vouchers/${v.id}/usage`).set(A.auth);
    expect(usage.body.devices.map((d: any) => d.macAddress)).toEqual(['02:00:00:00:02:01', '02:00:00:00:02:02']);
  });
});

describe('revoke', () => {
  it('revoking disconnects the live session through the outbox, RADIUS refuses it, a second revoke changes nothing', async () => {
    const { codes } = await batch(A, { quantity: 1 });
    const v = await voucherOf(codes[0]!);
    expect(await login(null, v.id, '02:00:00:00:03:01')).toBe('ok');
    const session = await openSession(tdb.db, { tenantId: A.id, nasId, username: codes[0]!, octets: 1234 });
    const res = await request(api.app).post(`/api/v1/vouchers/${v.id}/revoke`).set(A.auth).send({ reason: 'refunded' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'revoked', revokedReason: 'refunded' });
    const actions = await tdb.db('enforcement_actions').where({ radacct_id: session.id });
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      kind: 'disconnect',
      reason: 'suspended',
      status: 'pending',
      username: codes[0],
    });
    expect((await authorize(codes[0]!, '02:00:00:00:03:01'))['Lango-Reject-Reason']).toBe('Voucher revoked');
    expect(await login(null, v.id, '02:00:00:00:03:01')).toBe('Voucher revoked');
    const again = await request(api.app).post(`/api/v1/vouchers/${v.id}/revoke`).set(A.auth).send({});
    expect(again.body.revokedReason).toBe('refunded');
    expect(await tdb.db('enforcement_actions').where({ radacct_id: session.id }).count()).toEqual([{ count: '1' }]);
    const usage = (await request(api.app).get(`/api/v1/vouchers/${v.id}/usage`).set(A.auth)).body;
    expect(usage).toMatchObject({ sessions: 1, openSessions: 1, inputBytes: 1234 });
  });

  it('revoking a batch revokes each voucher once and disconnects only the live ones', async () => {
    const { batch: b, codes } = await batch(A, { quantity: 3 });
    const live = await voucherOf(codes[0]!);
    expect(await login(null, live.id, '02:00:00:00:04:01')).toBe('ok');
    const session = await openSession(tdb.db, { tenantId: A.id, nasId, username: codes[0]! });
    const single = await voucherOf(codes[1]!);
    await request(api.app).post(`/api/v1/vouchers/${single.id}/revoke`).set(A.auth).send({ reason: 'first' });
    const res = await request(api.app)
      .post(`/api/v1/voucher-batches/${b.id}/revoke`)
      .set(A.auth)
      .send({ reason: 'stolen' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revoked: 2, disconnecting: 1 });
    expect(await tdb.db('enforcement_actions').where({ radacct_id: session.id, kind: 'disconnect' }).count()).toEqual([
      { count: '1' },
    ]);
    const rows = await tdb.db('vouchers').where({ batch_id: b.id }).orderBy('code');
    expect(rows.every((r: any) => r.revoked_at !== null)).toBe(true);
    expect((await voucherOf(codes[1]!)).revoked_reason).toBe('first');
    expect((await request(api.app).post(`/api/v1/voucher-batches/${b.id}/revoke`).set(A.auth).send({})).body).toEqual({
      revoked: 0,
      disconnecting: 0,
    });
    const B = await api.newTenant();
    expect((await request(api.app).post(`/api/v1/voucher-batches/${b.id}/revoke`).set(B.auth).send({})).status).toBe(
      404,
    );
  });

  it('another tenant cannot see or revoke it', async () => {
    const B = await api.newTenant();
    const { codes } = await batch(A, { quantity: 1 });
    const v = await voucherOf(codes[0]!);
    expect((await request(api.app).get(`/api/v1/vouchers/${v.id}`).set(B.auth)).status).toBe(404);
    expect((await request(api.app).post(`/api/v1/vouchers/${v.id}/revoke`).set(B.auth).send({})).status).toBe(404);
    expect((await request(api.app).get('/api/v1/vouchers').set(B.auth)).body.page.total).toBe(0);
    expect((await voucherOf(codes[0]!)).revoked_at).toBeNull();
  });
});

describe('printing and export', () => {
  it('HTML and PDF sheets carry a one-time token per voucher (hash stored, code never in the URL); a reprint replaces them; a token works once', async () => {
    const { batch: b, codes } = await batch(A, { quantity: 3, note: '=HYPERLINK("http://evil")' });
    const html = await request(api.app)
      .post(`/api/v1/voucher-batches/${b.id}/print`)
      .query({ layout: 'a4' })
      .set(A.auth);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.headers['cache-control']).toBe('no-store');
    const urls = [...html.text.matchAll(/voucher\?token=([A-Za-z0-9_-]{43})/g)];
    // The QR codes are SVG paths: the URLs are in the tokens table, not the page. Count the cards instead.
    expect(urls).toHaveLength(0);
    expect(html.text.match(/class="card"/g)).toHaveLength(3);
    for (const c of codes) expect(html.text).toContain(c.slice(0, 5));
    expect(html.text).toContain('=HYPERLINK(&quot;http://evil&quot;)');
    const tokens = await tdb
      .db('voucher_login_tokens')
      .where({ tenant_id: A.id })
      .whereIn('voucher_id', tdb.db('vouchers').select('id').where({ batch_id: b.id }));
    expect(tokens).toHaveLength(3);
    expect(tokens.every((t: any) => t.token_hash.length === 32 && t.used_at === null)).toBe(true);

    const pdf = await request(api.app)
      .post(`/api/v1/voucher-batches/${b.id}/print`)
      .query({ format: 'pdf', layout: 'thermal' })
      .set(A.auth)
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(pdf.status).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect((pdf.body as Buffer).subarray(0, 5).toString()).toBe('%PDF-');
    // Three thermal pages, one voucher each.
    expect((pdf.body as Buffer).toString('latin1').match(/\/Type \/Page\b/g)).toHaveLength(3);
    // The reprint replaced the first print's tokens.
    const now = await tdb
      .db('voucher_login_tokens')
      .whereIn('voucher_id', tdb.db('vouchers').select('id').where({ batch_id: b.id }));
    expect(now).toHaveLength(3);
    expect(now.map((t: any) => t.token_hash.toString('hex')).sort()).not.toEqual(
      tokens.map((t: any) => t.token_hash.toString('hex')).sort(),
    );
  });

  it('printing a slice issues tokens for that slice only', async () => {
    const { batch: b } = await batch(A, { quantity: 5 });
    const res = await request(api.app)
      .post(`/api/v1/voucher-batches/${b.id}/print`)
      .query({ offset: 1, limit: 2, layout: 'thermal' })
      .set(A.auth);
    expect(res.status).toBe(200);
    expect(res.text.match(/class="card"/g)).toHaveLength(2);
    const n = await tdb
      .db('voucher_login_tokens')
      .whereIn('voucher_id', tdb.db('vouchers').select('id').where({ batch_id: b.id }))
      .count();
    expect(n).toEqual([{ count: '2' }]);
    expect(
      (await request(api.app).post(`/api/v1/voucher-batches/${b.id}/print`).query({ limit: 0 }).set(A.auth)).status,
    ).toBe(400);
  });

  it('redeeming a login token gives the code once; a replay, a foreign tenant or a revoked voucher gets nothing', async () => {
    const { codes } = await batch(A, { quantity: 2 });
    const v = await voucherOf(codes[0]!);
    const w = await voucherOf(codes[1]!);
    const token = 'a'.repeat(43);
    const token2 = 'b'.repeat(43);
    await tdb.db('voucher_login_tokens').insert([
      { token_hash: tokenHash(token), tenant_id: A.id, voucher_id: v.id },
      { token_hash: tokenHash(token2), tenant_id: A.id, voucher_id: w.id },
    ]);
    const B = await api.newTenant();
    await expect(api.services.vouchers.redeemLoginToken(B.id, token)).rejects.toMatchObject({
      code: 'VOUCHER_NOT_FOUND',
    });
    expect(await api.services.vouchers.redeemLoginToken(A.id, token)).toEqual({ voucherId: v.id, code: codes[0] });
    await expect(api.services.vouchers.redeemLoginToken(A.id, token)).rejects.toMatchObject({
      code: 'VOUCHER_NOT_FOUND',
    });
    await expect(api.services.vouchers.redeemLoginToken(A.id, 'short')).rejects.toMatchObject({
      code: 'VOUCHER_NOT_FOUND',
    });
    await request(api.app).post(`/api/v1/vouchers/${w.id}/revoke`).set(A.auth).send({});
    await expect(api.services.vouchers.redeemLoginToken(A.id, token2)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('CSV export is quoted and neutralises formulas', async () => {
    const { batch: b, codes } = await batch(A, { quantity: 2, note: '=cmd|calc' });
    const res = await request(api.app).get(`/api/v1/voucher-batches/${b.id}/vouchers.csv`).set(A.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const lines = res.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      '"code","plan","price","status","device_limit","devices_bound","expires_at","activated_at","valid_until","note"',
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`"${[...codes].sort()[0]}","Day pass","5000","unused"`);
    expect(lines[1]!.endsWith(`"'=cmd|calc"`)).toBe(true);
  });
});
