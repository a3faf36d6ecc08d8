/**
 * The Daraja client against the Daraja simulator on loopback: every scenario as a typed
 * outcome, token sharing and invalidation, till vs paybill payloads, and the simulator's own
 * validation of bad requests. Time is a FakeClock shared by both; callbacks and C2B
 * notifications arrive at a real HTTP receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DarajaClient,
  MemoryTokenStore,
  SANDBOX_PASSKEY,
  SANDBOX_SHORTCODE,
  type DarajaAccount,
  type DarajaClientOptions,
} from '../../../src/mpesa';
import {
  C2B_CONFIRMATION_ACK,
  C2B_VALIDATION_ACCEPT,
  c2bValidationReject,
  parseC2bNotification,
  parseStkCallback,
  STK_CALLBACK_ACK,
} from '../../../src/mpesa/callbacks';
import { darajaTimestamp, stkPassword } from '../../../src/mpesa/password';
import { hashPhone } from '../../../src/mpesa/phone';
import { DarajaSimulator, SIMULATOR_APP, startDarajaSimulator } from '../../../src/simulate/daraja-simulator';
import { FakeClock, settle } from '../../helpers/clock';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** Lango's side of the callbacks: records each POST and answers as told per path. */
class Receiver {
  readonly received: Received[] = [];
  answers = new Map<string, { status: number; body: unknown } | 'hang'>();
  private server!: http.Server;
  private readonly waiting: Array<{ n: number; resolve: () => void }> = [];

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        for (const w of this.waiting.filter((x) => this.received.length >= x.n)) w.resolve();
        const answer = this.answers.get(path) ?? {
          status: 200,
          body: path.includes('validation')
            ? C2B_VALIDATION_ACCEPT
            : path.includes('confirmation')
              ? C2B_CONFIRMATION_ACK
              : STK_CALLBACK_ACK,
        };
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
}

const PHONE = '0708374149';
const MSISDN = '254708374149';

let clock: FakeClock;
let sim: DarajaSimulator;
let receiver: Receiver;
let logs: Array<{ obj: object; msg: string }>;

const logger = {
  debug: (obj: object, msg: string) => void logs.push({ obj, msg }),
  warn: (obj: object, msg: string) => void logs.push({ obj, msg }),
};

function paybill(overrides: Partial<DarajaAccount> = {}): DarajaAccount {
  return {
    id: 'acct-paybill',
    environment: 'sandbox',
    baseUrl: sim.url,
    consumerKey: SIMULATOR_APP.consumerKey,
    consumerSecret: SIMULATOR_APP.consumerSecret,
    passkey: SANDBOX_PASSKEY,
    type: 'paybill',
    shortcode: SANDBOX_SHORTCODE,
    ...overrides,
  };
}

function client(account: DarajaAccount = paybill(), options: Partial<DarajaClientOptions> = {}): DarajaClient {
  return new DarajaClient(account, { tokenStore: new MemoryTokenStore(), clock, logger, timeoutMs: 5000, ...options });
}

const push = (c: DarajaClient, over: Partial<Parameters<DarajaClient['stkPush']>[0]> = {}) =>
  c.stkPush({
    phone: PHONE,
    amountMinor: 5000,
    accountReference: 'demo',
    callbackUrl: receiver.url('/callbacks/daraja/stk/t0ken'),
    ...over,
  });

/** Lets the buyer answer and every callback arrive. */
async function answer(ms = 3000): Promise<void> {
  await clock.advance(ms);
  await sim.idle();
  await settle();
}

beforeEach(async () => {
  clock = new FakeClock(Date.UTC(2026, 11, 2, 9, 0, 0));
  logs = [];
  sim = await startDarajaSimulator({
    clock,
    shortcodes: [
      { type: 'paybill', shortcode: SANDBOX_SHORTCODE, passkey: SANDBOX_PASSKEY },
      { type: 'till', storeNumber: '300100', till: '300200', passkey: 'till-passkey' },
    ],
  });
  receiver = new Receiver();
  await receiver.start();
});

afterEach(async () => {
  await sim.close();
  await receiver.stop();
});

describe('STK Push, callback and query', () => {
  it('success: accepted, pending until the buyer answers, then a paid callback and a final query', async () => {
    const c = client();
    const r = await push(c);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.checkoutRequestId).toMatch(/^ws_CO_\d+$/);
    expect(r.value.sent).toEqual({
      businessShortCode: SANDBOX_SHORTCODE,
      partyB: SANDBOX_SHORTCODE,
      transactionType: 'CustomerPayBillOnline',
      timestamp: darajaTimestamp(clock.date()),
      phone: MSISDN,
      amount: 50,
      accountReference: 'demo',
    });
    expect(await c.stkQuery(r.value.checkoutRequestId)).toEqual({
      ok: true,
      value: { state: 'pending', message: 'The transaction is being processed' },
    });
    await answer();
    const callbacks = receiver.on('/callbacks/daraja/stk/t0ken');
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.headers['content-type']).toBe('application/json');
    const parsed = parseStkCallback(callbacks[0]!.body);
    expect(parsed).toMatchObject({
      ok: true,
      checkoutRequestId: r.value.checkoutRequestId,
      merchantRequestId: r.value.merchantRequestId,
      outcome: 'paid',
      payment: { amountMinor: 5000, phone: MSISDN, extra: { Balance: null } },
    });
    expect(parsed.ok && parsed.payment?.transactedAt).toEqual(clock.date());
    const q = await c.stkQuery(r.value.checkoutRequestId);
    expect(q).toMatchObject({
      ok: true,
      value: { state: 'final', resultCode: '0', outcome: 'paid', checkoutRequestId: r.value.checkoutRequestId },
    });
    expect(sim.transactions.get(r.value.checkoutRequestId)!.deliveries).toEqual([{ at: clock.now(), status: 200 }]);
  });

  it.each([
    ['insufficient-funds', '1', 'insufficient-funds'],
    ['cancelled', '1032', 'cancelled'],
    ['unreachable', '1037', 'unreachable'],
    ['wrong-pin', '2001', 'wrong-pin'],
    ['expired', '1019', 'expired'],
    ['subscriber-locked', '1001', 'subscriber-locked'],
    ['rule-limited', '17', 'rule-limited'],
  ] as const)('%s: callback and query say ResultCode %s (%s), no payment', async (result, code, outcome) => {
    sim.addScenario({ phone: PHONE, result });
    const c = client();
    const r = await push(c);
    if (!r.ok) throw new Error('refused');
    await answer();
    const parsed = parseStkCallback(receiver.received[0]!.body);
    expect(parsed).toMatchObject({ ok: true, resultCode: code, outcome });
    expect(parsed).not.toHaveProperty('payment');
    expect((receiver.received[0]!.body as { Body: { stkCallback: object } }).Body.stkCallback).not.toHaveProperty(
      'CallbackMetadata',
    );
    expect(await c.stkQuery(r.value.checkoutRequestId)).toMatchObject({
      ok: true,
      value: { state: 'final', resultCode: code, outcome },
    });
  });

  it('scripts by amount, by phone in any form, for a number of requests, and any ResultCode', async () => {
    sim.addScenario({ amount: 7, result: 'cancelled' });
    sim.addScenario({ phone: '+254 711 000 111', resultCode: 8006, resultDesc: 'locked', times: 1 });
    const c = client();
    const a = await push(c, { amountMinor: 700 });
    const b = await push(c, { phone: '0711000111' });
    const d = await push(c, { phone: '0711000111' });
    await answer();
    const byId = (r: typeof a) =>
      r.ok
        ? parseStkCallback(
            receiver.received.find((x) => JSON.stringify(x.body).includes(r.value.checkoutRequestId))!.body,
          )
        : undefined;
    expect(byId(a)).toMatchObject({ outcome: 'cancelled' });
    expect(byId(b)).toMatchObject({ resultCode: '8006', outcome: 'credential-locked', resultDesc: 'locked' });
    expect(byId(d)).toMatchObject({ outcome: 'paid' });
    expect(sim.listScenarios()).toHaveLength(1);
  });

  it('duplicate callbacks: the same body several times', async () => {
    sim.addScenario({ copies: 3 });
    const r = await push(client());
    if (!r.ok) throw new Error('refused');
    await answer();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((x) => JSON.stringify(x.body))).size).toBe(1);
    // And by hand, through the control API, after the fact.
    const res = await fetch(`${sim.url}/simulator/stk/${r.value.checkoutRequestId}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"copies":2}',
    });
    expect(res.status).toBe(200);
    expect(receiver.received).toHaveLength(5);
    expect(JSON.stringify(receiver.received[4]!.body)).toBe(JSON.stringify(receiver.received[0]!.body));
  });

  it('a late callback: the query is final long before the callback comes', async () => {
    sim.addScenario({ answerDelayMs: 1000, callbackDelayMs: 10 * 60_000 });
    const c = client();
    const r = await push(c);
    if (!r.ok) throw new Error('refused');
    await answer(1000);
    expect(receiver.received).toHaveLength(0);
    expect(await c.stkQuery(r.value.checkoutRequestId)).toMatchObject({
      ok: true,
      value: { state: 'final', outcome: 'paid' },
    });
    await answer(10 * 60_000 - 1);
    expect(receiver.received).toHaveLength(0);
    await answer(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('a callback never sent: only the query tells', async () => {
    sim.addScenario({ copies: 0, result: 'success' });
    const c = client();
    const r = await push(c);
    if (!r.ok) throw new Error('refused');
    await answer(60 * 60_000);
    expect(receiver.received).toHaveLength(0);
    expect(await c.stkQuery(r.value.checkoutRequestId)).toMatchObject({
      ok: true,
      value: { state: 'final', outcome: 'paid' },
    });
  });

  it('a query that stays pending, and one that is busy', async () => {
    sim.addScenario({ phone: '0711000001', query: 'pending' });
    sim.addScenario({ phone: '0711000002', query: 'busy' });
    const c = client();
    const p = await push(c, { phone: '0711000001' });
    const b = await push(c, { phone: '0711000002' });
    if (!p.ok || !b.ok) throw new Error('refused');
    await answer();
    expect(receiver.received).toHaveLength(2);
    expect(await c.stkQuery(p.value.checkoutRequestId)).toMatchObject({ ok: true, value: { state: 'pending' } });
    expect(await c.stkQuery(b.value.checkoutRequestId)).toEqual({
      ok: false,
      error: {
        kind: 'busy',
        code: '500.003.02',
        httpStatus: 500,
        retryable: true,
        message: 'System is busy. Please try again in few minutes.',
      },
    });
    expect(await c.stkQuery('ws_CO_000000000000000')).toMatchObject({
      ok: false,
      error: { kind: 'invalid-request', code: '400.002.02' },
    });
  });

  it.each([
    ['busy', 'busy', '500.003.02', true],
    ['spike-arrest', 'busy', '500.003.02', true],
    ['quota', 'quota', '500.003.03', true],
    ['internal', 'internal', '500.003.1001', true],
    ['subscriber-locked', 'subscriber-locked', '500.001.1001', true],
  ] as const)('processrequest refused (%s) is a typed %s error', async (reject, kind, code, retryable) => {
    sim.addScenario({ reject });
    const r = await push(client());
    expect(r).toMatchObject({ ok: false, error: { kind, code, retryable, httpStatus: 500 } });
    if (reject === 'subscriber-locked') expect(!r.ok && r.error.retryAfterMs).toBe(60_000);
    expect(sim.transactions.size).toBe(0);
  });

  it('a proxy answering HTML 503 is internal; no answer is a timeout; Daraja unreachable is a network error', async () => {
    sim.addScenario({ reject: 'html-503', times: 1 });
    expect(await push(client())).toMatchObject({
      ok: false,
      error: { kind: 'internal', httpStatus: 503, retryable: true },
    });

    sim.addScenario({ reject: 'no-answer', times: 1 });
    const pending = push(client());
    while (sim.stats.unanswered === 0) await settle(1);
    await clock.advance(5000);
    expect(await pending).toEqual({
      ok: false,
      error: { kind: 'timeout', message: 'no answer from Daraja within 5000 ms', retryable: true },
    });

    const closed = await startDarajaSimulator({ clock });
    const url = closed.url;
    await closed.close();
    expect(await push(client(paybill({ baseUrl: url })))).toMatchObject({
      ok: false,
      error: { kind: 'network', retryable: true },
    });
  });
});

describe('till and paybill', () => {
  const till = (): DarajaAccount =>
    paybill({ id: 'acct-till', type: 'till', shortcode: '300200', storeNumber: '300100', passkey: 'till-passkey' });

  it('a till pushes CustomerBuyGoodsOnline with the store number as BusinessShortCode and the till as PartyB', async () => {
    const c = client(till());
    const r = await push(c);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.sent).toMatchObject({
      businessShortCode: '300100',
      partyB: '300200',
      transactionType: 'CustomerBuyGoodsOnline',
    });
    const seen = sim.transactions.get(r.value.checkoutRequestId)!;
    expect(seen).toMatchObject({
      businessShortCode: '300100',
      partyB: '300200',
      transactionType: 'CustomerBuyGoodsOnline',
      amount: 50,
      phone: MSISDN,
    });
    await answer();
    expect(parseStkCallback(receiver.received[0]!.body)).toMatchObject({ ok: true, outcome: 'paid' });
    expect(await c.stkQuery(r.value.checkoutRequestId)).toMatchObject({
      ok: true,
      value: { state: 'final', outcome: 'paid' },
    });
  });

  it('a till set up as a paybill fails with SFC_IC0003; a paybill pushed as buy goods with 2028', async () => {
    const wrongTill = client(paybill({ id: 'x', shortcode: '300100', passkey: 'till-passkey' }));
    const a = await push(wrongTill);
    if (!a.ok) throw new Error(a.error.message);
    await answer();
    expect(parseStkCallback(receiver.received[0]!.body)).toMatchObject({
      ok: true,
      resultCode: 'SFC_IC0003',
      outcome: 'type-mismatch',
    });

    const raw = await rawStk({ TransactionType: 'CustomerBuyGoodsOnline' });
    expect(raw.status).toBe(200);
    await answer();
    expect(parseStkCallback(receiver.received[1]!.body)).toMatchObject({
      ok: true,
      resultCode: '2028',
      outcome: 'type-mismatch',
    });
  });

  it('a till account without its store number is refused at once', () => {
    expect(() => client(paybill({ type: 'till', shortcode: '300200' }))).toThrow(/store number/);
  });
});

describe('OAuth tokens', () => {
  it('one token serves many requests until its last minute, then a new one is fetched', async () => {
    const c = client();
    await push(c);
    await push(c);
    await c.stkQuery('ws_CO_1');
    expect(sim.stats.tokensIssued).toBe(1);
    await clock.advance((3599 - 61) * 1000);
    await push(c);
    expect(sim.stats.tokensIssued).toBe(1);
    await clock.advance(2000);
    await push(c);
    expect(sim.stats.tokensIssued).toBe(2);
  });

  it('clients sharing a store fetch one token between them, even all at once', async () => {
    const store = new MemoryTokenStore();
    const clients = Array.from({ length: 5 }, () => client(paybill(), { tokenStore: store, tokenPollMs: 10 }));
    const all = Promise.all(clients.map((c) => push(c)));
    for (let i = 0; i < 20 && sim.stats.stkPushes < 5; i++) await clock.advance(10);
    const results = await all;
    expect(results.every((r) => r.ok)).toBe(true);
    expect(sim.stats.tokensIssued).toBe(1);
  });

  it('a token invalidated by a newer one (another store) is refused, dropped and replaced once', async () => {
    const storeA = new MemoryTokenStore();
    const a = client(paybill(), { tokenStore: storeA });
    const b = client(paybill(), { tokenStore: new MemoryTokenStore() });
    expect((await push(a)).ok).toBe(true);
    const first = await storeA.get('acct-paybill');
    expect((await push(b)).ok).toBe(true); // b's token invalidates a's (G6)
    expect(sim.stats.tokensIssued).toBe(2);
    const again = await push(a);
    expect(again.ok).toBe(true);
    expect(sim.stats.tokensIssued).toBe(3);
    expect((await storeA.get('acct-paybill'))!.accessToken).not.toBe(first!.accessToken);
    expect(logs.some((l) => l.msg === 'daraja refused the access token; fetching a new one')).toBe(true);
  });

  it('wrong consumer secret, wrong passkey, unknown shortcode: typed and not retryable', async () => {
    expect(await push(client(paybill({ consumerSecret: 'wrong' })))).toMatchObject({
      ok: false,
      error: { kind: 'auth-failed', code: '400.008.01', retryable: false },
    });
    expect(await push(client(paybill({ passkey: 'wrong-passkey' })))).toMatchObject({
      ok: false,
      error: { kind: 'bad-credentials', code: '500.001.1001', message: 'Wrong credentials' },
    });
    expect(await push(client(paybill({ shortcode: '999999' })))).toMatchObject({
      ok: false,
      error: { kind: 'bad-credentials', message: 'Merchant does not exist' },
    });
  });

  it('never logs a secret, a passkey, a Password or a token', async () => {
    const secretish = paybill({ consumerSecret: 'wrong-SECRET-value' });
    await push(client(secretish));
    await push(client(paybill({ passkey: 'PASSKEY-value' })));
    const store = new MemoryTokenStore();
    const c = client(paybill(), { tokenStore: store });
    sim.addScenario({ reject: 'busy' });
    await push(c);
    const token = (await store.get('acct-paybill'))!.accessToken;
    const text = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThan(2);
    for (const s of [
      'wrong-SECRET-value',
      'PASSKEY-value',
      SANDBOX_PASSKEY,
      SIMULATOR_APP.consumerSecret,
      token,
      Buffer.from(`${SIMULATOR_APP.consumerKey}:${SIMULATOR_APP.consumerSecret}`).toString('base64'),
    ]) {
      expect(text).not.toContain(s);
    }
  });
});

describe('bad arguments are refused before any request', () => {
  it.each([
    ['a phone', { phone: '0812345678' }, 'PhoneNumber'],
    ['cents', { amountMinor: 150 }, 'Amount'],
    ['zero', { amountMinor: 0 }, 'Amount'],
    ['over the limit', { amountMinor: 250_001 * 100 }, 'Amount'],
    ['a fraction', { amountMinor: 1.5 }, 'Amount'],
    ['an account reference too long', { accountReference: 'ABCDEFGHIJKLM' }, 'AccountReference'],
    ['an empty account reference', { accountReference: '  ' }, 'AccountReference'],
    ['a control character in the account reference', { accountReference: 'a\u0000b' }, 'AccountReference'],
    ['a control character in the description', { description: 'wifi\n' + 'x' }, 'TransactionDesc'],
    ['a callback URL that is not one', { callbackUrl: 'not a url' }, 'CallBackURL'],
    ['a callback URL not http(s)', { callbackUrl: 'ftp://example.com/x' }, 'CallBackURL'],
  ])('%s', async (_, over, field) => {
    const r = await push(client(), over);
    expect(r).toMatchObject({ ok: false, error: { kind: 'invalid-request', field, retryable: false } });
    expect(sim.stats.tokensIssued).toBe(0);
  });

  it('production wants HTTPS callbacks', async () => {
    const r = await push(client(paybill({ environment: 'production' })), { callbackUrl: 'http://example.com/cb' });
    expect(r).toMatchObject({ ok: false, error: { field: 'CallBackURL', message: expect.stringMatching(/HTTPS/) } });
  });
});

// -------------------------------------------------------------------------------------------
// The simulator validates like Daraja

async function token(): Promise<string> {
  const res = await fetch(`${sim.url}/oauth/v1/generate?grant_type=client_credentials`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${SIMULATOR_APP.consumerKey}:${SIMULATOR_APP.consumerSecret}`).toString('base64')}`,
    },
  });
  const body = (await res.json()) as { access_token: string; expires_in: string };
  expect(body.expires_in).toBe('3599');
  return body.access_token;
}

async function rawStk(
  over: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, string> }> {
  const ts = darajaTimestamp(clock.date());
  const body = {
    BusinessShortCode: SANDBOX_SHORTCODE,
    Password: stkPassword(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, ts),
    Timestamp: ts,
    TransactionType: 'CustomerPayBillOnline',
    Amount: 1,
    PartyA: MSISDN,
    PartyB: SANDBOX_SHORTCODE,
    PhoneNumber: MSISDN,
    CallBackURL: receiver.url('/callbacks/daraja/stk/t0ken'),
    AccountReference: 'demo',
    TransactionDesc: 'demo',
    ...over,
  };
  const res = await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('the simulator refuses what Daraja refuses, in its shapes', () => {
  it.each([
    ['Amount 0', { Amount: 0 }, 'Bad Request - Invalid Amount'],
    ['Amount 1.5', { Amount: 1.5 }, 'Bad Request - Invalid Amount'],
    ['Amount 250001', { Amount: 250001 }, 'Bad Request - Invalid Amount'],
    ['Amount as text', { Amount: 'ten' }, 'Bad Request - Invalid Amount'],
    ['PhoneNumber 07...', { PhoneNumber: '0708374149' }, 'Bad Request - Invalid PhoneNumber'],
    ['PartyA 2542...', { PartyA: '254208374149' }, 'Bad Request - Invalid PartyA'],
    ['a bad Timestamp', { Timestamp: '2026-12-02 09:00' }, 'Bad Request - Invalid Timestamp'],
    ['an impossible Timestamp', { Timestamp: '20261332250000' }, 'Bad Request - Invalid Timestamp'],
    ['a bad TransactionType', { TransactionType: 'PayBill' }, 'Bad Request - Invalid TransactionType'],
    ['no CallBackURL', { CallBackURL: '' }, 'Bad Request - Invalid CallBackURL'],
    ['a long AccountReference', { AccountReference: 'x'.repeat(13) }, 'Bad Request - Invalid AccountReference'],
    ['a long TransactionDesc', { TransactionDesc: 'x'.repeat(14) }, 'Bad Request - Invalid TransactionDesc'],
    ['a bad BusinessShortCode', { BusinessShortCode: 'abc' }, 'Bad Request - Invalid BusinessShortCode'],
  ])('%s -> 400.002.02', async (_, over, message) => {
    const r = await rawStk(over);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ requestId: expect.any(String), errorCode: '400.002.02', errorMessage: message });
  });

  it('checks the Password against the Timestamp, and wants the JSON content type', async () => {
    const ts = darajaTimestamp(new Date(clock.now() - 1000));
    expect((await rawStk({ Timestamp: ts })).body).toMatchObject({
      errorCode: '500.001.1001',
      errorMessage: 'Wrong credentials',
    });
    // The password made with the UTC time instead of Nairobi's is just as wrong.
    const utc = new Date(clock.now()).toISOString().replace(/\D/g, '').slice(0, 14);
    expect((await rawStk({ Password: stkPassword(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, utc) })).body).toMatchObject({
      errorCode: '500.001.1001',
    });
    expect(await rawStk({}, { 'content-type': 'text/plain' })).toMatchObject({
      status: 400,
      body: { errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid BusinessShortCode' },
    });
  });

  it('OAuth errors, bad tokens, wrong methods and paths', async () => {
    const basic = `Basic ${Buffer.from(`${SIMULATOR_APP.consumerKey}:${SIMULATOR_APP.consumerSecret}`).toString('base64')}`;
    const j = async (r: Response) => ({ status: r.status, body: await r.json() });
    expect(
      await j(await fetch(`${sim.url}/oauth/v1/generate?grant_type=password`, { headers: { authorization: basic } })),
    ).toMatchObject({ status: 400, body: { errorCode: '400.008.02' } });
    expect(
      await j(
        await fetch(`${sim.url}/oauth/v1/generate?grant_type=client_credentials`, {
          headers: { authorization: 'Bearer x' },
        }),
      ),
    ).toMatchObject({ status: 400, body: { errorCode: '400.008.01' } });
    expect(await j(await fetch(`${sim.url}/oauth/v1/generate?grant_type=client_credentials`))).toMatchObject({
      status: 400,
      body: { errorCode: '400.008.01' },
    });
    expect(
      await j(
        await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`, {
          method: 'POST',
          headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    ).toMatchObject({
      status: 404,
      body: { errorCode: '404.001.03', errorMessage: 'Invalid Access Token' },
    });
    expect(await j(await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`))).toMatchObject({
      status: 405,
      body: { errorCode: '405.001' },
    });
    expect(await j(await fetch(`${sim.url}/mpesa/stkpush/v2/processrequest`, { method: 'POST' }))).toMatchObject({
      status: 404,
      body: { errorCode: '404.001.01' },
    });
    const t = await token();
    expect(
      await j(
        await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: '{"a":',
        }),
      ),
    ).toMatchObject({ status: 400, body: { errorCode: '400.002.02' } });
    expect(
      await j(
        await fetch(`${sim.url}/mpesa/stkpush/v1/processrequest`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: 'x'.repeat(100_000),
        }),
      ),
    ).toMatchObject({
      status: 400,
      body: { errorCode: '400.002.02', errorMessage: 'Bad Request - Request too large' },
    });
    // An expired token is refused too.
    await clock.advance(3600_000);
    expect(
      await j(
        await fetch(`${sim.url}/mpesa/stkpushquery/v1/query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    ).toMatchObject({ status: 404, body: { errorCode: '404.001.03' } });
  });

  it('the control API refuses bad scenarios and C2B payments with a reason', async () => {
    const post = async (path: string, body: string) => {
      const r = await fetch(`${sim.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    for (const bad of [
      '[]',
      '{"result":"rich"}',
      '{"phone":"123"}',
      '{"copies":-1}',
      '{"answerDelayMs":"soon"}',
      '{"evil":1}',
      '{"reject":"maybe"}',
      'not json',
    ]) {
      const r = await post('/simulator/scenarios', bad);
      expect(r.status).toBe(400);
      expect(typeof r.body.error).toBe('string');
    }
    const ok = await post('/simulator/scenarios', '{"phone":"0711222333","result":"cancelled","copies":2}');
    expect(ok).toMatchObject({
      status: 201,
      body: { phone: '254711222333', result: 'cancelled', copies: 2, id: expect.any(String) },
    });
    expect(((await (await fetch(`${sim.url}/simulator/scenarios`)).json()) as unknown[]).length).toBe(1);
    expect((await fetch(`${sim.url}/simulator/scenarios`, { method: 'DELETE' })).status).toBe(200);
    expect(sim.listScenarios()).toHaveLength(0);
    expect((await post('/simulator/c2b', '{"amount":10,"phone":"0708374149"}')).body.error).toMatch(
      /no C2B URLs are registered/,
    );
    expect((await post('/simulator/c2b', '{"amount":"10","phone":"0708374149"}')).status).toBe(400);
  });
});

describe('C2B', () => {
  const urls = () => ({
    confirmationUrl: receiver.url('/callbacks/daraja/c2b/t0ken/confirmation'),
    validationUrl: receiver.url('/callbacks/daraja/c2b/t0ken/validation'),
    responseType: 'Completed' as const,
  });

  it('registers URLs, and refuses the words and shapes Daraja refuses', async () => {
    const c = client();
    expect(await c.registerC2bUrls(urls())).toMatchObject({
      ok: true,
      value: { originatorConversationId: expect.any(String), responseDescription: 'success' },
    });
    expect(sim.registrations.get(SANDBOX_SHORTCODE)).toMatchObject({ responseType: 'Completed' });
    for (const word of ['mpesa', 'M-PESA', 'safaricom', 'exec', 'cmd', 'sql', 'query']) {
      const r = await c.registerC2bUrls({
        ...urls(),
        confirmationUrl: receiver.url(`/callbacks/${word}/confirmation`),
      });
      expect(r).toMatchObject({ ok: false, error: { kind: 'invalid-request', field: 'ConfirmationURL' } });
    }
    expect(await c.registerC2bUrls({ ...urls(), responseType: 'completed' as 'Completed' })).toMatchObject({
      ok: false,
      error: { field: 'ResponseType' },
    });
    // The simulator refuses them too when a client does not check.
    const res = await fetch(`${sim.url}/mpesa/c2b/v1/registerurl`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ShortCode: SANDBOX_SHORTCODE,
        ResponseType: 'Completed',
        ConfirmationURL: receiver.url('/mpesa/confirm'),
        ValidationURL: receiver.url('/v'),
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      errorCode: '400.002.02',
      errorMessage: 'Bad Request - Invalid ConfirmationURL',
    });
  });

  it.each([
    ['hashed', (m: string) => hashPhone(m)],
    ['masked', () => '25470****149'],
    ['plain', (m: string) => m],
  ] as const)('confirmation with a %s MSISDN', async (form, expected) => {
    await client().registerC2bUrls(urls());
    const report = await sim.c2bPayment({ amount: 100, phone: PHONE, billRefNumber: 'ACC-7', msisdn: form });
    expect(report.confirmation).toEqual({ status: 200, body: C2B_CONFIRMATION_ACK });
    expect(report.validation).toBeUndefined();
    const got = receiver.on('/callbacks/daraja/c2b/t0ken/confirmation');
    expect(got).toHaveLength(1);
    expect((got[0]!.body as Record<string, string>).MSISDN).toBe(expected(MSISDN));
    expect(parseC2bNotification(got[0]!.body)).toMatchObject({
      ok: true,
      transId: report.transId,
      amountMinor: 10000,
      billRefNumber: 'ACC-7',
      businessShortCode: SANDBOX_SHORTCODE,
      transactionType: 'Pay Bill',
    });
  });

  it('a till payment carries no account reference', async () => {
    await client(
      paybill({ id: 'till', type: 'till', shortcode: '300200', storeNumber: '300100', passkey: 'till-passkey' }),
    ).registerC2bUrls(urls());
    await sim.c2bPayment({ shortCode: '300100', amount: 20, phone: PHONE, billRefNumber: 'ignored' });
    expect(parseC2bNotification(receiver.received[0]!.body)).toMatchObject({
      ok: true,
      transactionType: 'Buy Goods',
      billRefNumber: '',
      businessShortCode: '300100',
      msisdn: { kind: 'hashed', hash: hashPhone(PHONE) },
    });
  });

  it('validation: accepted goes on to confirmation, rejected stops, no answer lets ResponseType decide', async () => {
    await client().registerC2bUrls(urls());
    const accepted = await sim.c2bPayment({ amount: 10, phone: PHONE, billRefNumber: 'A1', validate: true });
    expect(accepted.validation).toMatchObject({ status: 200, decision: 'accepted' });
    expect(accepted.confirmation).toMatchObject({ status: 200 });

    receiver.answers.set('/callbacks/daraja/c2b/t0ken/validation', {
      status: 200,
      body: c2bValidationReject('account'),
    });
    const rejected = await sim.c2bPayment({ amount: 10, phone: PHONE, billRefNumber: 'NOPE', validate: true });
    expect(rejected.validation).toMatchObject({
      decision: 'rejected',
      body: { ResultCode: 'C2B00012', ResultDesc: 'Rejected' },
    });
    expect(rejected.confirmation).toBeUndefined();

    receiver.answers.set('/callbacks/daraja/c2b/t0ken/validation', 'hang');
    const slow = sim.c2bPayment({ amount: 10, phone: PHONE, billRefNumber: 'A2', validate: true });
    while (receiver.on('/callbacks/daraja/c2b/t0ken/validation').length < 3) await settle(1);
    await clock.advance(8000);
    expect((await slow).validation).toMatchObject({ decision: 'timeout-completed', error: 'timeout' });
    expect(receiver.on('/callbacks/daraja/c2b/t0ken/confirmation')).toHaveLength(2);
  });

  it('through the control API', async () => {
    await client().registerC2bUrls(urls());
    const res = await fetch(`${sim.url}/simulator/c2b`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 30, phone: '0110123456', billRefNumber: 'X9' }),
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as { transId: string; payload: Record<string, string> };
    expect(report.payload).toMatchObject({ TransAmount: '30', BillRefNumber: 'X9', MSISDN: hashPhone('254110123456') });
    expect(receiver.on('/callbacks/daraja/c2b/t0ken/confirmation')).toHaveLength(1);
  });
});
