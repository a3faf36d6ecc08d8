/**
 * A tenant's own SMS settings (SmsSettingsService, /api/v1/sms-settings): the API key is sealed
 * and write-only, username and key go together, admins only, tenants apart; the outbox sender
 * uses the tenant's account and sender ID when set, the install's otherwise, and sends nothing
 * for a tenant that turned SMS off. The Africa's Talking simulator accepts only the tenant's key,
 * so a message sent with the install's key is refused (and retried).
 */
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { startSmsSimulator, type SmsSimulator } from '../../src/simulate/sms-simulator';
import { SmsSender } from '../../src/modules/payments/sms';
import { systemClock } from '../../src/lib/clock';

const TENANT_KEY = 'tenant-at-key-0123456789abcdef';
let tdb: TestDatabase;
let api: TestApi;
let smsSim: SmsSimulator;
let a: TestTenant;
let b: TestTenant;
let c: TestTenant;

beforeAll(async () => {
  tdb = await createTestDatabase();
  smsSim = await startSmsSimulator({ apiKey: TENANT_KEY });
  api = await createTestApi(tdb);
  a = await api.newTenant();
  b = await api.newTenant();
  c = await api.newTenant();
});
afterAll(async () => {
  await smsSim?.close();
  await api?.close();
  await tdb?.drop();
});

const settings = (t: TestTenant) => request(api.app).get('/api/v1/sms-settings').set(t.auth);
const patch = (t: TestTenant, body: object) => request(api.app).patch('/api/v1/sms-settings').set(t.auth).send(body);

describe('/api/v1/sms-settings', () => {
  it('defaults to on with the install account; the key is sealed, write-only and never audited', async () => {
    expect((await settings(a)).body).toEqual({
      enabled: true,
      senderId: null,
      username: null,
      apiKeySet: false,
      updatedAt: null,
    });
    const res = await patch(a, { senderId: 'MamaNet', username: 'mamanet', apiKey: TENANT_KEY });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ enabled: true, senderId: 'MamaNet', username: 'mamanet', apiKeySet: true });
    expect(JSON.stringify(res.body)).not.toContain(TENANT_KEY);
    expect(JSON.stringify((await settings(a)).body)).not.toContain(TENANT_KEY);
    const row = await tdb.db('tenant_sms_settings').where({ tenant_id: a.id }).first();
    expect(row.api_key_sealed).not.toContain(TENANT_KEY);
    const audits = await tdb.db('audit_log').where({ tenant_id: a.id, action: 'sms.settings' });
    expect(audits.length).toBe(1);
    expect(JSON.stringify(audits)).not.toContain(TENANT_KEY);
    // Tenants apart: b still has the defaults.
    expect((await settings(b)).body.username).toBeNull();
  });

  it('refuses bad input with a clear 400, and a username without a key', async () => {
    for (const body of [
      { senderId: 'far-too-long-sender' },
      { username: 'has space' },
      { apiKey: 'with space' },
      { enabled: 'yes' },
      { other: 1 },
    ]) {
      const res = await patch(b, body);
      expect([body, res.status]).toEqual([body, 400]);
    }
    const alone = await patch(b, { username: 'lonely' });
    expect(alone.status).toBe(400);
    expect(JSON.stringify(alone.body)).toContain('username and API key together');
    expect((await patch(a, { apiKey: null })).status).toBe(400);
  });

  it('is for tenant admins only', async () => {
    const email = `op-${suffix()}@lango.test`;
    await request(api.app)
      .post('/api/v1/users')
      .set(a.auth)
      .send({ email, password: 'operator-password-1', role: 'tenant_operator' });
    const login = await request(api.app).post('/api/v1/auth/login').send({ email, password: 'operator-password-1' });
    const op = { Authorization: `Bearer ${login.body.token}` };
    expect((await request(api.app).get('/api/v1/sms-settings').set(op)).status).toBe(403);
    expect((await request(api.app).patch('/api/v1/sms-settings').set(op).send({ enabled: false })).status).toBe(403);
  });
});

describe('the sender', () => {
  it("uses the tenant's account and sender ID, the install's otherwise, and nothing when off", async () => {
    expect((await patch(c, { enabled: false })).status).toBe(200);
    const queue = async (t: TestTenant, phone: string) =>
      (
        await tdb
          .db('sms_outbox')
          .insert({ tenant_id: t.id, kind: 'receipt', dedupe_key: `t:${suffix()}`, phone, body: `hello ${t.slug}` })
          .returning('id')
      )[0].id as string;
    const ids = { a: await queue(a, '0712000001'), b: await queue(b, '0712000002'), c: await queue(c, '0712000003') };
    const sender = new SmsSender({
      db: tdb.appDb,
      clock: systemClock,
      options: { apiKey: 'install-key', username: 'install', baseUrl: smsSim.url, senderId: 'LANGO', maxAttempts: 3 },
      settings: api.services.smsSettings,
    });
    expect(await sender.sendDue()).toMatchObject({ claimed: 3, sent: 1, failed: 1 });
    const status = async (id: string) => tdb.db('sms_outbox').where({ id }).first();
    expect(await status(ids.a)).toMatchObject({ status: 'sent' });
    // The install's key is not the simulator's: refused, tried again later.
    expect(await status(ids.b)).toMatchObject({ status: 'pending', last_error: expect.stringContaining('401') });
    expect(await status(ids.c)).toMatchObject({ status: 'failed', last_error: 'SMS turned off for this tenant' });
    expect(smsSim.messages.map((m) => [m.to, m.username, m.from])).toEqual([['+254712000001', 'mamanet', 'MamaNet']]);

    // Back to the install's account: both cleared together; the tenant's sender ID stays.
    const back = await patch(a, { username: null, apiKey: null });
    expect(back.body).toMatchObject({ username: null, apiKeySet: false, senderId: 'MamaNet' });
  });
});
