/**
 * A Daraja client for one collection account (a paybill, or a till with its store number):
 * OAuth token (shared through a TokenStore), STK Push, STK Query, C2B URL registration.
 *
 * Every call resolves to a `DarajaResult`: the value, or a typed `DarajaError` (result-codes.ts)
 * for every errorCode in the reference, timeouts, transport failures and answers that are not
 * Daraja's. Nothing throws for a Daraja or network failure; bad arguments (an unreadable phone,
 * an amount Daraja would refuse) are refused before any request, as `invalid-request` naming
 * the field.
 *
 * Secrets (consumer secret, passkey, Password, access token) are never logged nor put in an
 * error; logs carry the account id, the endpoint, the error kind and code.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../lib/clock';
import { darajaTimestamp, stkPassword } from './password';
import { normalisePhone, PhoneNumberError, type Msisdn } from './phone';
import {
  classifyDarajaError,
  darajaError,
  stkOutcome,
  stkResultCodeText,
  type DarajaError,
  type StkOutcome,
} from './result-codes';
import type { TokenStore } from './token-store';

export type DarajaEnvironment = 'sandbox' | 'production';

export const DARAJA_BASE_URLS: Readonly<Record<DarajaEnvironment, string>> = Object.freeze({
  sandbox: 'https://sandbox.safaricom.co.ke',
  production: 'https://api.safaricom.co.ke',
});

/** The sandbox's public test shortcode and passkey (reference/protocols.md 3.1). */
export const SANDBOX_SHORTCODE = '174379';
export const SANDBOX_PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919';

export interface DarajaAccount {
  /** Stable id of the account: the TokenStore key (and what logs name). */
  readonly id: string;
  readonly environment: DarajaEnvironment;
  /** Overrides the environment's base URL (the simulator, a proxy). No trailing slash needed. */
  readonly baseUrl?: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  readonly passkey: string;
  readonly type: 'paybill' | 'till';
  /** The paybill number; for a till, the till number (PartyB of its STK). */
  readonly shortcode: string;
  /** Till only: the store (head office) number, BusinessShortCode of its STK and of C2B registration. */
  readonly storeNumber?: string;
}

export interface DarajaLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DarajaClientOptions {
  readonly tokenStore: TokenStore;
  readonly clock?: Clock;
  /** Per HTTP request (connect to last byte). Default 15 s. */
  readonly timeoutMs?: number;
  /** A token is not used in its last minute (default 60 s). */
  readonly tokenMarginMs?: number;
  /** How often a process that did not get the claim looks for the other's token (default 250 ms). */
  readonly tokenPollMs?: number;
  readonly logger?: DarajaLogger;
  /** Default: global fetch. */
  readonly fetch?: typeof fetch;
}

export type DarajaResult<T> = { ok: true; value: T } | { ok: false; error: DarajaError };

export interface StkPushRequest {
  /** Any form normalisePhone() takes. */
  readonly phone: string;
  /** Integer minor units (cents); Daraja takes whole shillings, 1..250,000. */
  readonly amountMinor: number;
  /** Shown on the buyer's prompt; at most 12 characters. */
  readonly accountReference: string;
  /** At most 13 characters; default the account reference. */
  readonly description?: string;
  readonly callbackUrl: string;
}

/** What was sent, minus the Password: what a ledger checks the callback against. */
export interface StkPushSent {
  readonly businessShortCode: string;
  readonly partyB: string;
  readonly transactionType: 'CustomerPayBillOnline' | 'CustomerBuyGoodsOnline';
  readonly timestamp: string;
  readonly phone: Msisdn;
  readonly amount: number;
  readonly accountReference: string;
}

export interface StkPushAccepted {
  readonly merchantRequestId: string;
  readonly checkoutRequestId: string;
  readonly responseDescription: string;
  readonly customerMessage: string;
  readonly sent: StkPushSent;
}

export type StkQueryState =
  | { readonly state: 'pending'; readonly message: string }
  | {
      readonly state: 'final';
      readonly merchantRequestId: string;
      readonly checkoutRequestId: string;
      readonly resultCode: string;
      readonly resultDesc: string;
      readonly outcome: StkOutcome;
    };

export interface C2bRegistration {
  readonly confirmationUrl: string;
  readonly validationUrl: string;
  /** What M-Pesa does when validation does not answer in time. */
  readonly responseType: 'Completed' | 'Cancelled';
}

export interface C2bRegistered {
  readonly originatorConversationId: string;
  readonly responseDescription: string;
}

const MAX_AMOUNT_KES = 250_000;
/** What a prompt on a feature phone shows: printable ASCII. */
const PRINTABLE = /^[\x20-\x7e]+$/;
const MAX_BODY = 64 * 1024;
/** Words Daraja refuses anywhere in a C2B URL (reference/protocols.md 3.5). */
export const FORBIDDEN_URL_WORDS = ['m-pesa', 'mpesa', 'safaricom', 'exe', 'exec', 'cmd', 'sql', 'query'] as const;

/** Why Daraja would refuse a callback URL, or undefined. */
export function callbackUrlProblem(
  url: string,
  environment: DarajaEnvironment,
  kind: 'stk' | 'c2b',
): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not an absolute URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'not an http(s) URL';
  if (environment === 'production' && u.protocol !== 'https:') return 'Daraja production needs HTTPS';
  if (url.length > 512) return 'longer than 512 characters';
  if (kind === 'c2b') {
    const lower = url.toLowerCase();
    const word = FORBIDDEN_URL_WORDS.find((w) => lower.includes(w));
    if (word) return `contains "${word}", which Daraja refuses in C2B URLs`;
  }
  return undefined;
}

type Json = Record<string, unknown>;

interface HttpAnswer {
  status: number;
  json: Json | undefined;
}

export class DarajaClient {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly marginMs: number;
  private readonly pollMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly base: string;
  private readonly holder = randomUUID();

  constructor(
    readonly account: DarajaAccount,
    private readonly options: DarajaClientOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.marginMs = options.tokenMarginMs ?? 60_000;
    this.pollMs = options.tokenPollMs ?? 250;
    this.fetchImpl = options.fetch ?? fetch;
    this.base = (account.baseUrl ?? DARAJA_BASE_URLS[account.environment]).replace(/\/+$/, '');
    if (account.type === 'till' && !account.storeNumber) throw new Error('a till account needs its store number');
  }

  /** BusinessShortCode of STK and ShortCode of C2B registration: the store number for a till. */
  get businessShortCode(): string {
    return this.account.type === 'till' ? (this.account.storeNumber as string) : this.account.shortcode;
  }

  // -------------------------------------------------------------------------------------------
  // OAuth

  /** A valid access token: the shared one, or a new one fetched under the store's claim. */
  async accessToken(): Promise<DarajaResult<string>> {
    const store = this.options.tokenStore;
    const key = this.account.id;
    // A claim outlives the fetch it covers; waiting longer than that means its holder died.
    const claimTtl = this.timeoutMs + 5_000;
    const giveUpAt = this.clock.now() + 2 * claimTtl;
    for (;;) {
      const cached = await store.get(key);
      if (cached && cached.expiresAt - this.marginMs > this.clock.now()) return { ok: true, value: cached.accessToken };
      if (await store.claim(key, this.holder, this.clock.now(), claimTtl)) {
        // Someone may have stored a token between our get and our claim.
        const again = await store.get(key);
        if (again && again.expiresAt - this.marginMs > this.clock.now() && again.accessToken !== cached?.accessToken) {
          await store.release(key, this.holder);
          return { ok: true, value: again.accessToken };
        }
        const fetched = await this.fetchToken();
        if (!fetched.ok) {
          await store.release(key, this.holder);
          return fetched;
        }
        await store.put(key, fetched.value, this.holder);
        return { ok: true, value: fetched.value.accessToken };
      }
      if (this.clock.now() >= giveUpAt)
        return {
          ok: false,
          error: darajaError('timeout', 'another process is fetching the access token and has not finished'),
        };
      await this.clock.sleep(this.pollMs);
    }
  }

  private async fetchToken(): Promise<DarajaResult<{ accessToken: string; expiresAt: number }>> {
    const basic = Buffer.from(`${this.account.consumerKey}:${this.account.consumerSecret}`, 'utf8').toString('base64');
    const answer = await this.http('oauth', 'GET', '/oauth/v1/generate?grant_type=client_credentials', {
      authorization: `Basic ${basic}`,
    });
    if (!answer.ok) return answer;
    const { status, json } = answer.value;
    if (status === 200 && json && typeof json.access_token === 'string' && json.access_token.length > 0) {
      const expiresIn = Number(json.expires_in);
      const seconds = Number.isFinite(expiresIn) && expiresIn > 0 ? Math.min(expiresIn, 86_400) : 3599;
      this.options.logger?.debug({ account: this.account.id, expiresIn: seconds }, 'daraja access token issued');
      return { ok: true, value: { accessToken: json.access_token, expiresAt: this.clock.now() + seconds * 1000 } };
    }
    return { ok: false, error: this.failure('oauth', status, json) };
  }

  // -------------------------------------------------------------------------------------------
  // STK Push and Query

  async stkPush(req: StkPushRequest): Promise<DarajaResult<StkPushAccepted>> {
    let phone: Msisdn;
    try {
      phone = normalisePhone(req.phone);
    } catch (err) {
      if (err instanceof PhoneNumberError) return invalid('PhoneNumber', err.message);
      throw err;
    }
    if (!Number.isSafeInteger(req.amountMinor) || req.amountMinor % 100 !== 0)
      return invalid('Amount', 'Daraja takes whole shillings');
    const amount = req.amountMinor / 100;
    if (amount < 1 || amount > MAX_AMOUNT_KES)
      return invalid('Amount', `an STK amount is between KES 1 and KES ${MAX_AMOUNT_KES}`);
    const accountReference = req.accountReference.trim();
    if (accountReference.length < 1 || accountReference.length > 12)
      return invalid('AccountReference', 'the account reference has 1 to 12 characters');
    if (!PRINTABLE.test(accountReference))
      return invalid(
        'AccountReference',
        "letters, digits, spaces and punctuation only (it is shown on the buyer's phone)",
      );
    const description = (req.description ?? accountReference).trim().slice(0, 13) || accountReference;
    if (!PRINTABLE.test(description)) return invalid('TransactionDesc', 'letters, digits, spaces and punctuation only');
    const urlProblem = callbackUrlProblem(req.callbackUrl, this.account.environment, 'stk');
    if (urlProblem) return invalid('CallBackURL', urlProblem);

    const timestamp = darajaTimestamp(this.clock.date());
    const businessShortCode = this.businessShortCode;
    const transactionType = this.account.type === 'till' ? 'CustomerBuyGoodsOnline' : 'CustomerPayBillOnline';
    const sent: StkPushSent = {
      businessShortCode,
      partyB: this.account.shortcode,
      transactionType,
      timestamp,
      phone,
      amount,
      accountReference,
    };
    const body = {
      BusinessShortCode: businessShortCode,
      Password: stkPassword(businessShortCode, this.account.passkey, timestamp),
      Timestamp: timestamp,
      TransactionType: transactionType,
      Amount: amount,
      PartyA: phone,
      PartyB: this.account.shortcode,
      PhoneNumber: phone,
      CallBackURL: req.callbackUrl,
      AccountReference: accountReference,
      TransactionDesc: description,
    };
    const r = await this.authorised('stkpush', '/mpesa/stkpush/v1/processrequest', body);
    if (!r.ok) return r;
    const { status, json } = r.value;
    if (
      status === 200 &&
      json &&
      String(json.ResponseCode ?? '') === '0' &&
      typeof json.CheckoutRequestID === 'string' &&
      json.CheckoutRequestID !== ''
    ) {
      return {
        ok: true,
        value: {
          merchantRequestId: String(json.MerchantRequestID ?? ''),
          checkoutRequestId: json.CheckoutRequestID,
          responseDescription: String(json.ResponseDescription ?? ''),
          customerMessage: String(json.CustomerMessage ?? ''),
          sent,
        },
      };
    }
    return { ok: false, error: this.failure('stkpush', status, json) };
  }

  /** The state of an STK Push: `pending` until the buyer answers (500.001.1001 "being processed"). */
  async stkQuery(checkoutRequestId: string): Promise<DarajaResult<StkQueryState>> {
    if (!/^[A-Za-z0-9_\-]{1,64}$/.test(checkoutRequestId))
      return invalid('CheckoutRequestID', 'not a CheckoutRequestID');
    const timestamp = darajaTimestamp(this.clock.date());
    const businessShortCode = this.businessShortCode;
    const body = {
      BusinessShortCode: businessShortCode,
      Password: stkPassword(businessShortCode, this.account.passkey, timestamp),
      Timestamp: timestamp,
      CheckoutRequestID: checkoutRequestId,
    };
    const r = await this.authorised('stkquery', '/mpesa/stkpushquery/v1/query', body);
    if (!r.ok) return r;
    const { status, json } = r.value;
    if (
      status === 200 &&
      json &&
      String(json.ResponseCode ?? '') === '0' &&
      (typeof json.ResultCode === 'string' || typeof json.ResultCode === 'number')
    ) {
      const resultCode = stkResultCodeText(json.ResultCode);
      return {
        ok: true,
        value: {
          state: 'final',
          merchantRequestId: String(json.MerchantRequestID ?? ''),
          checkoutRequestId: String(json.CheckoutRequestID ?? checkoutRequestId),
          resultCode,
          resultDesc: String(json.ResultDesc ?? ''),
          outcome: stkOutcome(resultCode),
        },
      };
    }
    const error = this.failure('stkquery', status, json);
    if (error.kind === 'pending') return { ok: true, value: { state: 'pending', message: error.message } };
    return { ok: false, error };
  }

  // -------------------------------------------------------------------------------------------
  // C2B

  async registerC2bUrls(reg: C2bRegistration): Promise<DarajaResult<C2bRegistered>> {
    if (reg.responseType !== 'Completed' && reg.responseType !== 'Cancelled')
      return invalid('ResponseType', 'Completed or Cancelled (sentence case)');
    for (const [field, url] of [
      ['ConfirmationURL', reg.confirmationUrl],
      ['ValidationURL', reg.validationUrl],
    ] as const) {
      const problem = callbackUrlProblem(url, this.account.environment, 'c2b');
      if (problem) return invalid(field, problem);
    }
    const body = {
      ShortCode: this.businessShortCode,
      ResponseType: reg.responseType,
      ConfirmationURL: reg.confirmationUrl,
      ValidationURL: reg.validationUrl,
    };
    const r = await this.authorised('registerurl', '/mpesa/c2b/v1/registerurl', body);
    if (!r.ok) return r;
    const { status, json } = r.value;
    if (status === 200 && json && String(json.ResponseCode ?? '') === '0') {
      return {
        ok: true,
        // Daraja spells it OriginatorCoversationID.
        value: {
          originatorConversationId: String(json.OriginatorCoversationID ?? json.OriginatorConversationID ?? ''),
          responseDescription: String(json.ResponseDescription ?? ''),
        },
      };
    }
    return { ok: false, error: this.failure('registerurl', status, json) };
  }

  // -------------------------------------------------------------------------------------------
  // Transport

  /** POSTs with the shared token; once more with a new token if Daraja says it is invalid. */
  private async authorised(endpoint: string, path: string, body: Json): Promise<DarajaResult<HttpAnswer>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      if (!token.ok) return token;
      const r = await this.http(
        endpoint,
        'POST',
        path,
        { authorization: `Bearer ${token.value}`, 'content-type': 'application/json' },
        JSON.stringify(body),
      );
      if (!r.ok) return r;
      const code = r.value.json?.errorCode;
      if (code === '404.001.03' && attempt === 0) {
        await this.options.tokenStore.invalidate(this.account.id, token.value);
        this.options.logger?.debug(
          { account: this.account.id, endpoint },
          'daraja refused the access token; fetching a new one',
        );
        continue;
      }
      return r;
    }
  }

  private async http(
    endpoint: string,
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<DarajaResult<HttpAnswer>> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.clock.setTimer(this.timeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    try {
      const res = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers: { accept: 'application/json', ...headers },
        body,
        signal: controller.signal,
        redirect: 'error',
      });
      const raw = await readCapped(res);
      let json: Json | undefined;
      try {
        const parsed: unknown = raw === '' ? undefined : JSON.parse(raw);
        json = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : undefined;
      } catch {
        json = undefined;
      }
      return { ok: true, value: { status: res.status, json } };
    } catch (err) {
      const kind = timedOut ? 'timeout' : 'network';
      const message = timedOut
        ? `no answer from Daraja within ${this.timeoutMs} ms`
        : `cannot reach Daraja: ${describeNetworkError(err)}`;
      this.options.logger?.warn({ account: this.account.id, endpoint, kind }, 'daraja request failed');
      return { ok: false, error: darajaError(kind, message) };
    } finally {
      timer.cancel();
    }
  }

  /** A typed error from a non-success answer (logged without anything secret). */
  private failure(endpoint: string, status: number, json: Json | undefined): DarajaError {
    let error: DarajaError;
    if (json && typeof json.errorCode === 'string') {
      const message = typeof json.errorMessage === 'string' ? json.errorMessage.slice(0, 300) : '';
      error = darajaError(classifyDarajaError(json.errorCode, message, status), message, {
        code: json.errorCode,
        httpStatus: status,
      });
    } else if (json && json.ResponseCode !== undefined && String(json.ResponseCode) !== '0') {
      const message = String(json.ResponseDescription ?? json.errorMessage ?? '').slice(0, 300);
      error = darajaError('invalid-request', message, { code: String(json.ResponseCode), httpStatus: status });
    } else if (status >= 500) {
      error = darajaError('internal', `Daraja answered HTTP ${status}`, { httpStatus: status });
    } else {
      error = darajaError('unexpected', `Daraja answered HTTP ${status} with an unexpected body`, {
        httpStatus: status,
      });
    }
    this.options.logger?.warn(
      { account: this.account.id, endpoint, kind: error.kind, code: error.code, httpStatus: status },
      'daraja request failed',
    );
    return error;
  }
}

function invalid(field: string, message: string): { ok: false; error: DarajaError } {
  return { ok: false, error: { ...darajaError('invalid-request', `${field}: ${message}`), field } };
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY) break;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? 'unknown error';
}
