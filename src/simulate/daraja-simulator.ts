/**
 * A Daraja (M-Pesa API) simulator on its own HTTP port, for demos (`lango simulate daraja`) and
 * tests. It speaks the shapes of reference/protocols.md section 3 and validates like Daraja:
 *
 *  - `GET /oauth/v1/generate?grant_type=client_credentials` with Basic auth -> a token for
 *    3599 s; a new token invalidates the app's previous one (G6); 400.008.01 / 400.008.02;
 *  - `POST /mpesa/stkpush/v1/processrequest`: Bearer (404.001.03), `Content-Type:
 *    application/json` (without it "Invalid BusinessShortCode"), every field checked
 *    (400.002.02 naming it), the Password against `base64(shortcode + passkey + Timestamp)` and
 *    unknown shortcodes (500.001.1001 "Wrong credentials" / "Merchant does not exist"); a till's
 *    STK needs CustomerBuyGoodsOnline, the store number as BusinessShortCode and the till as
 *    PartyB, else its callback says SFC_IC0003 (a paybill's mistakes: 2028);
 *  - the STK callback to CallBackURL when the buyer "answers", with CallbackMetadata (numbers as
 *    numbers, a Balance item without a Value) on success;
 *  - `POST /mpesa/stkpushquery/v1/query`: 500.001.1001 "The transaction is being processed"
 *    until the buyer answers, then the final ResultCode as a string;
 *  - `POST /mpesa/c2b/v1/registerurl` (ResponseType in sentence case, URL word rules) and C2B
 *    validation/confirmation sent to the registered URLs, the MSISDN hashed (SHA-256, as since
 *    July 2024), masked (`25470****149`) or plain;
 *  - errors as `{"requestId","errorCode","errorMessage"}`, 404.001.01 and 405.001 included.
 *
 * Scripted per phone number and/or amount through scenarios (addScenario or
 * `POST /simulator/scenarios`): success, insufficient funds (1), cancelled (1032), unreachable
 * (1037), wrong PIN (2001), any other ResultCode; duplicate callbacks (copies), late callbacks
 * (callbackDelayMs after the answer), no callback, a query that stays pending or is busy, and
 * processrequest refused as busy (500.003.02), spike arrest, quota, internal, a locked
 * subscriber, an HTML 503 from a proxy, or no answer at all. `POST /simulator/c2b` makes a C2B
 * payment. Time (answer delays, token lifetime, validation's 8 s) runs on the injected Clock.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import { darajaTimestamp, stkPassword } from '../mpesa/password';
import { hashPhone, isMsisdn, maskPhone, parsePhone, type Msisdn } from '../mpesa/phone';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE, FORBIDDEN_URL_WORDS } from '../mpesa/daraja-client';

export interface SimulatorApp {
  consumerKey: string;
  consumerSecret: string;
}

export type SimulatorShortcode =
  | { type: 'paybill'; shortcode: string; passkey: string; validation?: boolean }
  | { type: 'till'; storeNumber: string; till: string; passkey: string; validation?: boolean };

/** What the buyer's phone does with the prompt. */
export type ScenarioResult =
  | 'success'
  | 'insufficient-funds'
  | 'cancelled'
  | 'unreachable'
  | 'wrong-pin'
  | 'expired'
  | 'subscriber-locked'
  | 'rule-limited';

/** processrequest refused before any prompt. */
export type ScenarioRejection =
  'busy' | 'spike-arrest' | 'quota' | 'internal' | 'subscriber-locked' | 'html-503' | 'no-answer';

export interface Scenario {
  /** Requests to this phone (any form parsePhone takes); unset: any phone. */
  phone?: string;
  /** Requests for this amount (whole KES); unset: any amount. */
  amount?: number;
  /** Refuse processrequest instead of prompting. */
  reject?: ScenarioRejection;
  /** Default success. */
  result?: ScenarioResult;
  /** Any ResultCode (and ResultDesc) instead of `result`. */
  resultCode?: number | string;
  resultDesc?: string;
  /** When the buyer answers, after the request (default: the simulator's answerDelayMs). */
  answerDelayMs?: number;
  /** The callback comes this long after the answer (a late callback; default 0). */
  callbackDelayMs?: number;
  /** Send the callback this many times (duplicates; default 1) or never (0). */
  copies?: number;
  /** normal: pending until answered, then final; pending: never final; busy: 500.003.02. */
  query?: 'normal' | 'pending' | 'busy';
  /** Applies to this many requests, then is removed (default: until cleared). */
  times?: number;
}

export interface StoredScenario extends Scenario {
  id: string;
}

export interface SimulatedStk {
  merchantRequestId: string;
  checkoutRequestId: string;
  businessShortCode: string;
  partyB: string;
  transactionType: string;
  amount: number;
  phone: Msisdn;
  accountReference: string;
  callbackUrl: string;
  requestedAt: number;
  /** undefined until the buyer answers. */
  resultCode?: number | string;
  resultDesc?: string;
  receipt?: string;
  answeredAt?: number;
  scenarioId?: string;
  /** How STK Query answers for it (the scenario's `query`). */
  queryMode: 'normal' | 'pending' | 'busy';
  /** One entry per callback copy sent: the HTTP status, or the error. */
  deliveries: Array<{ at: number; status?: number; error?: string }>;
}

export interface C2bRegistrationRecord {
  shortCode: string;
  responseType: 'Completed' | 'Cancelled';
  confirmationUrl: string;
  validationUrl: string;
}

export interface C2bPaymentInput {
  /** The registered ShortCode (paybill, or a till's store number); default the first registered. */
  shortCode?: string;
  amount: number;
  phone: string;
  /** The account number the payer typed (paybill). */
  billRefNumber?: string;
  /** How MSISDN is written: hashed (default, as since July 2024), masked or plain. */
  msisdn?: 'hashed' | 'masked' | 'plain';
  firstName?: string;
  /** Send to ValidationURL first even if the shortcode does not have validation on. */
  validate?: boolean;
}

export interface C2bPaymentReport {
  transId: string;
  payload: Record<string, string>;
  validation?: {
    status?: number;
    body?: unknown;
    error?: string;
    decision: 'accepted' | 'rejected' | 'timeout-completed' | 'timeout-cancelled';
  };
  confirmation?: { status?: number; body?: unknown; error?: string };
}

export interface SimulatorLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DarajaSimulatorOptions {
  /** Default one app: key `lango-simulator-key`, secret `lango-simulator-secret`. */
  apps?: SimulatorApp[];
  /** Default the sandbox paybill 174379 with the public passkey. */
  shortcodes?: SimulatorShortcode[];
  clock?: Clock;
  /** Default delay before the buyer answers (default 3000 ms). */
  answerDelayMs?: number;
  /** Token lifetime in seconds (Daraja: 3599). */
  tokenSeconds?: number;
  /** Timeout for each callback POST (default 10 s, real time). */
  callbackTimeoutMs?: number;
  /** How long C2B validation may take before ResponseType decides (Daraja: about 8 s). */
  validationTimeoutMs?: number;
  logger?: SimulatorLogger;
}

export const SIMULATOR_APP: SimulatorApp = Object.freeze({
  consumerKey: 'lango-simulator-key',
  consumerSecret: 'lango-simulator-secret',
});

const RESULTS: Record<ScenarioResult, { code: number; desc: string }> = {
  success: { code: 0, desc: 'The service request is processed successfully.' },
  'insufficient-funds': { code: 1, desc: 'The balance is insufficient for the transaction.' },
  cancelled: { code: 1032, desc: 'Request cancelled by user' },
  unreachable: { code: 1037, desc: 'DS timeout user cannot be reached' },
  'wrong-pin': { code: 2001, desc: 'The initiator information is invalid.' },
  expired: { code: 1019, desc: 'Transaction has expired' },
  'subscriber-locked': {
    code: 1001,
    desc: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
  },
  'rule-limited': { code: 17, desc: 'Rule limited.' },
};

const REJECTIONS: Record<
  Exclude<ScenarioRejection, 'html-503' | 'no-answer'>,
  { status: number; code: string; message: string }
> = {
  busy: { status: 500, code: '500.003.02', message: 'System is busy. Please try again in few minutes.' },
  'spike-arrest': { status: 500, code: '500.003.02', message: 'Spike arrest violation' },
  quota: { status: 500, code: '500.003.03', message: 'Quota Violation' },
  internal: { status: 500, code: '500.003.1001', message: 'Internal Server Error' },
  'subscriber-locked': {
    status: 500,
    code: '500.001.1001',
    message: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
  },
};

const MAX_BODY = 64 * 1024;
const MAX_TRANSACTIONS = 10_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super('http error');
  }
}

function darajaFault(status: number, code: string, message: string): HttpError {
  return new HttpError(status, {
    requestId: `${randomInt(10000, 99999)}-${randomInt(1000000, 9999999)}-1`,
    errorCode: code,
    errorMessage: message,
  });
}

const invalidField = (message: string): HttpError => darajaFault(400, '400.002.02', `Bad Request - ${message}`);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export class DarajaSimulator {
  readonly clock: Clock;
  /** Every STK Push accepted, by CheckoutRequestID. */
  readonly transactions = new Map<string, SimulatedStk>();
  readonly registrations = new Map<string, C2bRegistrationRecord>();
  /** `unanswered`: requests held open by a `no-answer` scenario. */
  readonly stats = { tokensIssued: 0, stkPushes: 0, queries: 0, callbacksSent: 0, c2bSent: 0, unanswered: 0 };
  private readonly apps: SimulatorApp[];
  private readonly shortcodes: SimulatorShortcode[];
  private readonly answerDelayMs: number;
  private readonly tokenSeconds: number;
  private readonly callbackTimeoutMs: number;
  private readonly validationTimeoutMs: number;
  private readonly log: SimulatorLogger;
  /** Current token per app key (issuing a new one replaces it). */
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private scenarios: StoredScenario[] = [];
  private server: http.Server | undefined;
  private readonly pendingWork = new Set<Promise<unknown>>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly timers = new Set<Timer>();

  constructor(options: DarajaSimulatorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.apps = options.apps ?? [SIMULATOR_APP];
    this.shortcodes = options.shortcodes ?? [
      { type: 'paybill', shortcode: SANDBOX_SHORTCODE, passkey: SANDBOX_PASSKEY },
    ];
    this.answerDelayMs = options.answerDelayMs ?? 3000;
    this.tokenSeconds = options.tokenSeconds ?? 3599;
    this.callbackTimeoutMs = options.callbackTimeoutMs ?? 10_000;
    this.validationTimeoutMs = options.validationTimeoutMs ?? 8000;
    this.log = options.logger ?? { debug: () => undefined, warn: () => undefined };
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.idle();
  }

  /** Resolves when every callback and C2B notification started so far has been delivered (or failed). */
  async idle(): Promise<void> {
    while (this.pendingWork.size > 0) await Promise.allSettled([...this.pendingWork]);
  }

  // -------------------------------------------------------------------------------------------
  // Scenarios

  addScenario(s: Scenario): StoredScenario {
    const problem = scenarioProblem(s);
    if (problem) throw new Error(problem);
    const stored: StoredScenario = { ...s, id: randomUUID() };
    if (s.phone !== undefined) {
      const p = parsePhone(s.phone);
      if (p.ok) stored.phone = p.msisdn;
    }
    this.scenarios.unshift(stored);
    return stored;
  }

  clearScenarios(): void {
    this.scenarios = [];
  }

  listScenarios(): StoredScenario[] {
    return [...this.scenarios];
  }

  private takeScenario(phone: Msisdn, amount: number): StoredScenario | undefined {
    const s = this.scenarios.find(
      (x) => (x.phone === undefined || x.phone === phone) && (x.amount === undefined || x.amount === amount),
    );
    if (s && s.times !== undefined) {
      s.times -= 1;
      if (s.times <= 0) this.scenarios = this.scenarios.filter((x) => x !== s);
    }
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://simulator');
      const body = await readBody(req);
      const answer = await this.route(req, url, body, res);
      if (answer === 'hang') return;
      send(res, answer.status, answer.body, answer.contentType);
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, err.body);
      else {
        this.log.warn({ err: (err as Error).message }, 'daraja simulator failed');
        send(res, 500, { requestId: '', errorCode: '500.003.1001', errorMessage: 'Internal Server Error' });
      }
    }
  }

  private async route(
    req: http.IncomingMessage,
    url: URL,
    raw: Buffer,
    res: http.ServerResponse,
  ): Promise<{ status: number; body: unknown; contentType?: string } | 'hang'> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const daraja: Record<string, { method: string; run: () => unknown }> = {
      '/oauth/v1/generate': { method: 'GET', run: () => this.oauth(req, url) },
      '/mpesa/stkpush/v1/processrequest': { method: 'POST', run: () => this.processRequest(req, raw, res) },
      '/mpesa/stkpushquery/v1/query': { method: 'POST', run: () => this.query(req, raw) },
      '/mpesa/c2b/v1/registerurl': { method: 'POST', run: () => this.registerUrl(req, raw) },
    };
    const endpoint = daraja[path];
    if (endpoint) {
      if (method !== endpoint.method) throw darajaFault(405, '405.001', 'Method Not Allowed');
      const out = endpoint.run();
      if (out === 'hang') return 'hang';
      if (out instanceof HttpError) return { status: out.status, body: out.body };
      if (isRecord(out) && out.__html === true) return { status: 503, body: out.text, contentType: 'text/html' };
      return { status: 200, body: out };
    }
    if (path.startsWith('/simulator')) return this.control(method, path, raw);
    throw darajaFault(404, '404.001.01', 'Resource not found');
  }

  // --- OAuth

  private oauth(req: http.IncomingMessage, url: URL): unknown {
    if (url.searchParams.get('grant_type') !== 'client_credentials')
      throw darajaFault(400, '400.008.02', 'Invalid grant type passed');
    const auth = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth);
    if (!m) throw darajaFault(400, '400.008.01', 'Invalid Authentication passed');
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const app = this.apps.find(
      (a) => colon > 0 && a.consumerKey === decoded.slice(0, colon) && a.consumerSecret === decoded.slice(colon + 1),
    );
    if (!app) throw darajaFault(400, '400.008.01', 'Invalid Authentication passed');
    const token = randomBytes(21).toString('base64').replace(/[+/=]/g, 'x');
    this.tokens.set(app.consumerKey, { token, expiresAt: this.clock.now() + this.tokenSeconds * 1000 });
    this.stats.tokensIssued += 1;
    return { access_token: token, expires_in: String(this.tokenSeconds) };
  }

  private authorise(req: http.IncomingMessage): void {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const now = this.clock.now();
    const ok = m && [...this.tokens.values()].some((t) => t.token === m[1] && t.expiresAt > now);
    if (!ok) throw darajaFault(404, '404.001.03', 'Invalid Access Token');
  }

  /** The JSON body, as Daraja reads it: without the JSON content type, it sees no shortcode. */
  private jsonBody(req: http.IncomingMessage, raw: Buffer): Record<string, unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') throw invalidField('Invalid BusinessShortCode');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw invalidField('Invalid JSON');
    }
    if (!isRecord(parsed)) throw invalidField('Invalid JSON');
    return parsed;
  }

  /** The shortcode's account and a checked Password/Timestamp (G7: wrong ones are 500.001.1001). */
  private credentials(body: Record<string, unknown>): SimulatorShortcode {
    const bsc = str(body.BusinessShortCode);
    if (bsc === undefined || !/^\d{5,10}$/.test(bsc)) throw invalidField('Invalid BusinessShortCode');
    const ts = str(body.Timestamp);
    if (ts === undefined || !/^\d{14}$/.test(ts) || !validTimestamp(ts)) throw invalidField('Invalid Timestamp');
    if (typeof body.Password !== 'string' || body.Password === '') throw invalidField('Invalid Password');
    const account = this.shortcodes.find((s) => (s.type === 'paybill' ? s.shortcode : s.storeNumber) === bsc);
    if (!account) throw darajaFault(500, '500.001.1001', 'Merchant does not exist');
    if (body.Password !== stkPassword(bsc, account.passkey, ts))
      throw darajaFault(500, '500.001.1001', 'Wrong credentials');
    return account;
  }

  // --- STK Push

  private processRequest(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): unknown {
    this.authorise(req);
    const body = this.jsonBody(req, raw);
    const account = this.credentials(body);
    const type = body.TransactionType;
    if (type !== 'CustomerPayBillOnline' && type !== 'CustomerBuyGoodsOnline')
      throw invalidField('Invalid TransactionType');
    const amountText = str(body.Amount);
    const amount = amountText === undefined || !/^\d+(\.0+)?$/.test(amountText.trim()) ? NaN : Number(amountText);
    if (!Number.isInteger(amount) || amount < 1 || amount > 250_000) throw invalidField('Invalid Amount');
    const partyA = str(body.PartyA);
    if (!isMsisdn(partyA)) throw invalidField('Invalid PartyA');
    const phone = str(body.PhoneNumber);
    if (!isMsisdn(phone)) throw invalidField('Invalid PhoneNumber');
    const partyB = str(body.PartyB);
    if (partyB === undefined || !/^\d{5,10}$/.test(partyB)) throw invalidField('Invalid PartyB');
    const callbackUrl = typeof body.CallBackURL === 'string' ? body.CallBackURL : '';
    if (!isHttpUrl(callbackUrl)) throw invalidField('Invalid CallBackURL');
    const ref = typeof body.AccountReference === 'string' ? body.AccountReference : '';
    if (ref.length < 1 || ref.length > 12) throw invalidField('Invalid AccountReference');
    if (
      body.TransactionDesc !== undefined &&
      (typeof body.TransactionDesc !== 'string' || body.TransactionDesc.length > 13)
    )
      throw invalidField('Invalid TransactionDesc');

    const scenario = this.takeScenario(phone, amount);
    if (scenario?.reject === 'no-answer') {
      this.hung.add(res);
      this.stats.unanswered += 1;
      res.on('close', () => this.hung.delete(res));
      return 'hang';
    }
    if (scenario?.reject === 'html-503')
      return { __html: true, text: '<html><body><h1>503 Service Unavailable</h1></body></html>' };
    if (scenario?.reject) {
      const r = REJECTIONS[scenario.reject];
      return darajaFault(r.status, r.code, r.message);
    }

    const now = this.clock.now();
    const ts = darajaTimestamp(new Date(now));
    const stk: SimulatedStk = {
      merchantRequestId: `${randomInt(10000, 99999)}-${randomInt(10000000, 99999999)}-1`,
      // ws_CO_ + DDMMYYYYHHmmss + digits, like ws_CO_191220191020363925
      checkoutRequestId: `ws_CO_${ts.slice(6, 8)}${ts.slice(4, 6)}${ts.slice(0, 4)}${ts.slice(8)}${randomInt(100000000, 999999999)}`,
      businessShortCode: account.type === 'paybill' ? account.shortcode : account.storeNumber,
      partyB,
      transactionType: type,
      amount,
      phone,
      accountReference: ref,
      callbackUrl,
      requestedAt: now,
      deliveries: [],
      queryMode: scenario?.query ?? 'normal',
      ...(scenario ? { scenarioId: scenario.id } : {}),
    };
    this.transactions.set(stk.checkoutRequestId, stk);
    // A long demo keeps the latest transactions only (Map keeps insertion order).
    if (this.transactions.size > MAX_TRANSACTIONS)
      this.transactions.delete(this.transactions.keys().next().value as string);
    this.stats.stkPushes += 1;

    // The result the phone will give: a wrong product setup fails whatever the buyer does.
    let code: number | string;
    let desc: string;
    if (account.type === 'till' && (type !== 'CustomerBuyGoodsOnline' || partyB !== account.till)) {
      code = 'SFC_IC0003';
      desc = 'The operator does not exist';
    } else if (account.type === 'paybill' && (type !== 'CustomerPayBillOnline' || partyB !== account.shortcode)) {
      code = 2028;
      desc = 'The request is not permitted according to product assignment';
    } else if (scenario?.resultCode !== undefined) {
      code = scenario.resultCode;
      desc = scenario.resultDesc ?? `Result ${scenario.resultCode}`;
    } else {
      const r = RESULTS[scenario?.result ?? 'success'];
      code = r.code;
      desc = scenario?.resultDesc ?? r.desc;
    }
    const answerDelay = scenario?.answerDelayMs ?? this.answerDelayMs;
    const callbackDelay = scenario?.callbackDelayMs ?? 0;
    const copies = scenario?.copies ?? 1;
    this.later(answerDelay, () => {
      stk.resultCode = code;
      stk.resultDesc = desc;
      stk.answeredAt = this.clock.now();
      if (code === 0) stk.receipt = receiptNumber();
      if (copies <= 0) return;
      this.later(callbackDelay, () => void this.track(this.deliverCallback(stk, copies)));
    });
    return {
      MerchantRequestID: stk.merchantRequestId,
      CheckoutRequestID: stk.checkoutRequestId,
      ResponseCode: '0',
      ResponseDescription: 'Success. Request accepted for processing',
      CustomerMessage: 'Success. Request accepted for processing',
    };
  }

  /** The callback body Daraja would send now for this transaction (after the answer). */
  callbackBody(stk: SimulatedStk): Record<string, unknown> {
    if (stk.resultCode === undefined) throw new Error('the buyer has not answered yet');
    const cb: Record<string, unknown> = {
      MerchantRequestID: stk.merchantRequestId,
      CheckoutRequestID: stk.checkoutRequestId,
      ResultCode: stk.resultCode,
      ResultDesc: stk.resultDesc,
    };
    if (stk.resultCode === 0) {
      cb.CallbackMetadata = {
        Item: [
          { Name: 'Amount', Value: stk.amount },
          { Name: 'MpesaReceiptNumber', Value: stk.receipt },
          { Name: 'Balance' },
          { Name: 'TransactionDate', Value: Number(darajaTimestamp(new Date(stk.answeredAt ?? this.clock.now()))) },
          { Name: 'PhoneNumber', Value: Number(stk.phone) },
        ],
      };
    }
    return { Body: { stkCallback: cb } };
  }

  /** Sends the callback (again): `copies` POSTs one after the other. */
  async deliverCallback(stk: SimulatedStk, copies = 1): Promise<void> {
    const body = JSON.stringify(this.callbackBody(stk));
    for (let i = 0; i < copies; i++) {
      const r = await this.post(stk.callbackUrl, body, this.callbackTimeoutMs);
      stk.deliveries.push({ at: this.clock.now(), ...r });
      this.stats.callbacksSent += 1;
      this.log.debug(
        { checkoutRequestId: stk.checkoutRequestId, status: r.status, error: r.error },
        'daraja simulator sent an STK callback',
      );
    }
  }

  // --- STK Query

  private query(req: http.IncomingMessage, raw: Buffer): unknown {
    this.authorise(req);
    const body = this.jsonBody(req, raw);
    const account = this.credentials(body);
    const id = typeof body.CheckoutRequestID === 'string' ? body.CheckoutRequestID : '';
    const stk = this.transactions.get(id);
    const bsc = account.type === 'paybill' ? account.shortcode : account.storeNumber;
    if (!stk || stk.businessShortCode !== bsc) throw invalidField('Invalid CheckoutRequestID');
    this.stats.queries += 1;
    if (stk.queryMode === 'busy') return darajaFault(500, REJECTIONS.busy.code, REJECTIONS.busy.message);
    if (stk.resultCode === undefined || stk.queryMode === 'pending')
      return darajaFault(500, '500.001.1001', 'The transaction is being processed');
    return {
      ResponseCode: '0',
      ResponseDescription: 'The service request has been accepted successsfully',
      MerchantRequestID: stk.merchantRequestId,
      CheckoutRequestID: stk.checkoutRequestId,
      ResultCode: String(stk.resultCode),
      ResultDesc: stk.resultDesc,
    };
  }

  // --- C2B

  private registerUrl(req: http.IncomingMessage, raw: Buffer): unknown {
    this.authorise(req);
    const body = this.jsonBody(req, raw);
    const shortCode = str(body.ShortCode);
    if (shortCode === undefined || !/^\d{5,10}$/.test(shortCode)) throw invalidField('Invalid ShortCode');
    if (!this.shortcodes.some((s) => (s.type === 'paybill' ? s.shortcode : s.storeNumber) === shortCode))
      throw darajaFault(500, '500.001.1001', 'Merchant does not exist');
    const responseType = body.ResponseType;
    if (responseType !== 'Completed' && responseType !== 'Cancelled') throw invalidField('Invalid ResponseType');
    for (const field of ['ConfirmationURL', 'ValidationURL'] as const) {
      const u = body[field];
      if (typeof u !== 'string' || !isHttpUrl(u) || FORBIDDEN_URL_WORDS.some((w) => u.toLowerCase().includes(w)))
        throw invalidField(`Invalid ${field}`);
    }
    this.registrations.set(shortCode, {
      shortCode,
      responseType,
      confirmationUrl: body.ConfirmationURL as string,
      validationUrl: body.ValidationURL as string,
    });
    return {
      OriginatorCoversationID: `${randomInt(1000, 9999)}-${randomInt(1000000, 9999999)}-1`,
      ResponseCode: '0',
      ResponseDescription: 'success',
    };
  }

  /** A payment from the M-Pesa menu: validation (if on), then confirmation, to the registered URLs. */
  async c2bPayment(input: C2bPaymentInput): Promise<C2bPaymentReport> {
    const shortCode = input.shortCode ?? [...this.registrations.keys()][0];
    const reg = shortCode === undefined ? undefined : this.registrations.get(shortCode);
    if (!reg) throw new Error(`no C2B URLs are registered${shortCode ? ` for ${shortCode}` : ''}`);
    const account = this.shortcodes.find(
      (s) => (s.type === 'paybill' ? s.shortcode : s.storeNumber) === reg.shortCode,
    ) as SimulatorShortcode;
    const phone = parsePhone(input.phone);
    if (!phone.ok) throw new Error(`phone: ${phone.message}`);
    if (!Number.isInteger(input.amount) || input.amount < 1 || input.amount > 250_000)
      throw new Error('amount: whole shillings from 1 to 250000');
    const form = input.msisdn ?? 'hashed';
    const transId = receiptNumber();
    const payload: Record<string, string> = {
      TransactionType: account.type === 'paybill' ? 'Pay Bill' : 'Buy Goods',
      TransID: transId,
      TransTime: darajaTimestamp(this.clock.date()),
      TransAmount: String(input.amount),
      BusinessShortCode: reg.shortCode,
      BillRefNumber: account.type === 'paybill' ? (input.billRefNumber ?? '') : '',
      InvoiceNumber: '',
      OrgAccountBalance: '',
      ThirdPartyTransID: '',
      MSISDN: form === 'hashed' ? hashPhone(phone.msisdn) : form === 'masked' ? maskPhone(phone.msisdn) : phone.msisdn,
      FirstName: input.firstName ?? 'John',
      MiddleName: '',
      LastName: '',
    };
    const report: C2bPaymentReport = { transId, payload };
    const work = (async () => {
      const body = JSON.stringify(payload);
      if (input.validate || account.validation) {
        const v = await this.post(reg.validationUrl, body, this.validationTimeoutMs, true);
        this.stats.c2bSent += 1;
        const code = isRecord(v.body) ? str(v.body.ResultCode) : undefined;
        const decision =
          v.status !== undefined && code !== undefined
            ? code === '0'
              ? 'accepted'
              : 'rejected'
            : reg.responseType === 'Completed'
              ? 'timeout-completed'
              : 'timeout-cancelled';
        report.validation = { ...v, decision };
        if (decision === 'rejected' || decision === 'timeout-cancelled') return;
      }
      const c = await this.post(reg.confirmationUrl, body, this.callbackTimeoutMs, true);
      this.stats.c2bSent += 1;
      report.confirmation = c;
    })();
    await this.track(work);
    return report;
  }

  // --- the control API (not Daraja's)

  private async control(method: string, path: string, raw: Buffer): Promise<{ status: number; body: unknown }> {
    const json = (): unknown => {
      try {
        return raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, { error: 'the body is not JSON' });
      }
    };
    if (path === '/simulator/scenarios' && method === 'GET') return { status: 200, body: this.listScenarios() };
    if (path === '/simulator/scenarios' && method === 'POST') {
      const s = json();
      const problem = scenarioProblem(s);
      if (problem) throw new HttpError(400, { error: problem });
      return { status: 201, body: this.addScenario(s as Scenario) };
    }
    if (path === '/simulator/scenarios' && method === 'DELETE') {
      this.clearScenarios();
      return { status: 200, body: { cleared: true } };
    }
    if (path === '/simulator/stk' && method === 'GET') return { status: 200, body: [...this.transactions.values()] };
    const stkMatch = /^\/simulator\/stk\/([A-Za-z0-9_-]+)(\/callback)?$/.exec(path);
    if (stkMatch) {
      const stk = this.transactions.get(stkMatch[1] as string);
      if (!stk) throw new HttpError(404, { error: 'no such CheckoutRequestID' });
      if (!stkMatch[2] && method === 'GET') return { status: 200, body: stk };
      if (stkMatch[2] && method === 'POST') {
        if (stk.resultCode === undefined) throw new HttpError(409, { error: 'the buyer has not answered yet' });
        const body = json();
        const copies = isRecord(body) && body.copies !== undefined ? body.copies : 1;
        if (!Number.isInteger(copies) || (copies as number) < 1 || (copies as number) > 100)
          throw new HttpError(400, { error: 'copies: an integer from 1 to 100' });
        await this.track(this.deliverCallback(stk, copies as number));
        return { status: 200, body: stk };
      }
    }
    if (path === '/simulator/c2b' && method === 'POST') {
      const b = json();
      const problem = c2bInputProblem(b);
      if (problem) throw new HttpError(400, { error: problem });
      try {
        return { status: 200, body: await this.c2bPayment(b as C2bPaymentInput) };
      } catch (err) {
        throw new HttpError(400, { error: (err as Error).message });
      }
    }
    throw new HttpError(404, {
      error:
        'unknown simulator route (see GET/POST/DELETE /simulator/scenarios, GET /simulator/stk, POST /simulator/stk/:id/callback, POST /simulator/c2b)',
    });
  }

  // --- outgoing

  /** A timer on the clock that close() cancels. */
  private later(ms: number, fn: () => void): void {
    const t = this.clock.setTimer(ms, () => {
      this.timers.delete(t);
      fn();
    });
    this.timers.add(t);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pendingWork.add(p);
    void p.finally(() => this.pendingWork.delete(p)).catch(() => undefined);
    return p;
  }

  private async post(
    url: string,
    body: string,
    timeoutMs: number,
    readBody = false,
  ): Promise<{ status?: number; body?: unknown; error?: string }> {
    const controller = new AbortController();
    const timer = this.clock.setTimer(timeoutMs, () => controller.abort());
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      });
      const text = await res.text();
      let parsed: unknown = text;
      if (readBody) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text.slice(0, 500);
        }
      }
      return readBody ? { status: res.status, body: parsed } : { status: res.status };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      return { error: controller.signal.aborted ? 'timeout' : (cause?.code ?? (err as Error).message) };
    } finally {
      timer.cancel();
    }
  }
}

export async function startDarajaSimulator(
  options: DarajaSimulatorOptions & { port?: number; host?: string } = {},
): Promise<DarajaSimulator> {
  const sim = new DarajaSimulator(options);
  await sim.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sim;
}

// ---------------------------------------------------------------------------------------------

function send(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  if (res.headersSent || res.destroyed) return;
  const text = contentType === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY)
        tooLarge = true; // read on and drop, so the caller gets the answer
      else chunks.push(c);
    });
    req.on('end', () => (tooLarge ? reject(invalidField('Request too large')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && s.length <= 512;
  } catch {
    return false;
  }
}

function validTimestamp(ts: string): boolean {
  const [y, mo, d, h, mi, s] = [
    ts.slice(0, 4),
    ts.slice(4, 6),
    ts.slice(6, 8),
    ts.slice(8, 10),
    ts.slice(10, 12),
    ts.slice(12, 14),
  ].map(Number) as number[];
  const t = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  return (
    t.getUTCFullYear() === y && t.getUTCMonth() === mo! - 1 && t.getUTCDate() === d && h! < 24 && mi! < 60 && s! < 60
  );
}

/** Ten characters like NLJ7RT61SV: a letter, then letters and digits. */
function receiptNumber(): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const alnum = `${letters}0123456789`;
  let r = letters[randomInt(letters.length)] as string;
  for (let i = 0; i < 9; i++) r += alnum[randomInt(alnum.length)];
  return r;
}

const SCENARIO_KEYS = new Set([
  'phone',
  'amount',
  'reject',
  'result',
  'resultCode',
  'resultDesc',
  'answerDelayMs',
  'callbackDelayMs',
  'copies',
  'query',
  'times',
]);

/** Why a scenario (from the control API) is not one, or undefined. */
export function scenarioProblem(s: unknown): string | undefined {
  if (!isRecord(s)) return 'a scenario is a JSON object';
  const unknown = Object.keys(s).filter((k) => !SCENARIO_KEYS.has(k));
  if (unknown.length) return `unknown fields: ${unknown.join(', ')}`;
  if (s.phone !== undefined && (typeof s.phone !== 'string' || !parsePhone(s.phone).ok))
    return 'phone: a Kenyan mobile number';
  if (s.amount !== undefined && (!Number.isInteger(s.amount) || (s.amount as number) < 1))
    return 'amount: whole shillings';
  if (
    s.reject !== undefined &&
    !['busy', 'spike-arrest', 'quota', 'internal', 'subscriber-locked', 'html-503', 'no-answer'].includes(
      s.reject as string,
    )
  ) {
    return 'reject: busy, spike-arrest, quota, internal, subscriber-locked, html-503 or no-answer';
  }
  if (s.result !== undefined && !Object.prototype.hasOwnProperty.call(RESULTS, s.result as string))
    return `result: one of ${Object.keys(RESULTS).join(', ')}`;
  if (
    s.resultCode !== undefined &&
    !(Number.isInteger(s.resultCode) || (typeof s.resultCode === 'string' && /^[A-Za-z0-9_]{1,20}$/.test(s.resultCode)))
  )
    return 'resultCode: an integer or a code like SFC_IC0003';
  if (s.resultDesc !== undefined && (typeof s.resultDesc !== 'string' || s.resultDesc.length > 200))
    return 'resultDesc: text up to 200 characters';
  for (const k of ['answerDelayMs', 'callbackDelayMs'] as const) {
    if (s[k] !== undefined && (!Number.isInteger(s[k]) || (s[k] as number) < 0 || (s[k] as number) > 86_400_000))
      return `${k}: milliseconds from 0 to 86400000`;
  }
  if (s.copies !== undefined && (!Number.isInteger(s.copies) || (s.copies as number) < 0 || (s.copies as number) > 100))
    return 'copies: an integer from 0 to 100';
  if (s.query !== undefined && !['normal', 'pending', 'busy'].includes(s.query as string))
    return 'query: normal, pending or busy';
  if (s.times !== undefined && (!Number.isInteger(s.times) || (s.times as number) < 1))
    return 'times: a positive integer';
  return undefined;
}

const C2B_KEYS = new Set(['shortCode', 'amount', 'phone', 'billRefNumber', 'msisdn', 'firstName', 'validate']);

function c2bInputProblem(b: unknown): string | undefined {
  if (!isRecord(b)) return 'a C2B payment is a JSON object';
  const unknown = Object.keys(b).filter((k) => !C2B_KEYS.has(k));
  if (unknown.length) return `unknown fields: ${unknown.join(', ')}`;
  if (typeof b.phone !== 'string') return 'phone is required';
  if (!Number.isInteger(b.amount)) return 'amount: whole shillings';
  if (b.shortCode !== undefined && typeof b.shortCode !== 'string') return 'shortCode: text';
  if (b.billRefNumber !== undefined && (typeof b.billRefNumber !== 'string' || b.billRefNumber.length > 20))
    return 'billRefNumber: text up to 20 characters';
  if (b.msisdn !== undefined && !['hashed', 'masked', 'plain'].includes(b.msisdn as string))
    return 'msisdn: hashed, masked or plain';
  if (b.firstName !== undefined && (typeof b.firstName !== 'string' || b.firstName.length > 50))
    return 'firstName: text up to 50 characters';
  if (b.validate !== undefined && typeof b.validate !== 'boolean') return 'validate: true or false';
  return undefined;
}
