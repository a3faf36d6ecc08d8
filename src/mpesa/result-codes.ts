/**
 * What Daraja's codes mean, as typed values (reference/protocols.md 3.1-3.4, gotchas G6-G9).
 *
 * Two families:
 *  - an STK transaction's ResultCode (callback and query): 0 paid, 1032 cancelled, ... Numbers
 *    in callbacks, strings in queries, and sometimes not numbers at all (`SFC_IC0003`);
 *  - an API call's errorCode (`400.002.02`, `500.003.02`, ...), with 500.001.1001 meaning four
 *    different things told apart only by errorMessage.
 */

/** The end of an STK Push as the buyer's phone saw it. */
export type StkOutcome =
  | 'paid'
  | 'insufficient-funds'
  | 'amount-out-of-limits'
  | 'rule-limited'
  | 'subscriber-locked'
  | 'expired'
  | 'push-error'
  | 'cancelled'
  | 'unreachable'
  | 'wrong-pin'
  | 'type-mismatch'
  | 'credential-locked'
  | 'other';

const STK_OUTCOMES: Record<string, StkOutcome> = {
  '0': 'paid',
  '1': 'insufficient-funds',
  '2': 'amount-out-of-limits',
  '3': 'amount-out-of-limits',
  '4': 'amount-out-of-limits',
  '8': 'amount-out-of-limits',
  '17': 'rule-limited',
  '1001': 'subscriber-locked',
  '1019': 'expired',
  '1025': 'push-error',
  '9999': 'push-error',
  '1032': 'cancelled',
  '1037': 'unreachable',
  '2001': 'wrong-pin',
  '2028': 'type-mismatch',
  SFC_IC0003: 'type-mismatch',
  '8006': 'credential-locked',
};

/** A ResultCode as Daraja sent it, normalised to a string (`0`, `1032`, `SFC_IC0003`). */
export function stkResultCodeText(code: number | string): string {
  if (typeof code === 'number') return String(code);
  const t = code.trim();
  return /^\d+$/.test(t) ? String(Number(t)) : t;
}

export function stkOutcome(code: number | string): StkOutcome {
  return STK_OUTCOMES[stkResultCodeText(code)] ?? 'other';
}

/**
 * How a ledger should end a pending payment on this outcome: paid, cancelled by the buyer, or
 * failed (the phone never answered and the prompt expired count as expired).
 */
export function stkPaymentState(outcome: StkOutcome): 'completed' | 'cancelled' | 'expired' | 'failed' {
  switch (outcome) {
    case 'paid':
      return 'completed';
    case 'cancelled':
      return 'cancelled';
    case 'expired':
    case 'unreachable':
      return 'expired';
    default:
      return 'failed';
  }
}

/** A line a buyer can read for each outcome (English; a caller may translate by outcome). */
export const STK_OUTCOME_MESSAGES: Readonly<Record<StkOutcome, string>> = Object.freeze({
  paid: 'Payment received.',
  'insufficient-funds': 'Your M-Pesa balance is not enough for this payment.',
  'amount-out-of-limits': 'This amount is outside your M-Pesa limits.',
  'rule-limited': 'The same payment was just tried; wait two minutes before trying again.',
  'subscriber-locked': 'Another M-Pesa request is in progress on your phone; try again in a minute.',
  expired: 'The M-Pesa prompt expired before it was answered.',
  'push-error': 'The M-Pesa prompt could not be sent to your phone.',
  cancelled: 'You cancelled the M-Pesa prompt.',
  unreachable: 'Your phone could not be reached; check that it is on and has network.',
  'wrong-pin': 'The M-Pesa PIN was wrong.',
  'type-mismatch': 'This collection account is set up wrongly (paybill or till); tell the operator.',
  'credential-locked': 'M-Pesa refused the request (locked credentials).',
  other: 'The payment did not go through.',
});

// ---------------------------------------------------------------------------------------------
// API errors: {"requestId","errorCode","errorMessage"}

/** What an API error from Daraja (or the way to it) means for the caller. */
export type DarajaErrorKind =
  /** 400.002.02 and other 400s: a field Daraja refused (the message names it). */
  | 'invalid-request'
  /** 400.008.01 / 400.008.02: consumer key/secret refused, or a malformed OAuth request. */
  | 'auth-failed'
  /** 404.001.03: the access token is not (or no longer) valid; a new one may help once. */
  | 'invalid-token'
  /** 404.001.01 / 405.001: wrong endpoint or method (a bug or a wrong base URL). */
  | 'wrong-endpoint'
  /** 500.001.1001 "being processed": an STK query before the buyer answered. */
  | 'pending'
  /** 500.001.1001 "unable to lock subscriber": another prompt is open; wait at least a minute. */
  | 'subscriber-locked'
  /** 500.001.1001 wrong credentials / merchant does not exist: shortcode or passkey wrong. */
  | 'bad-credentials'
  /** 500.003.02: system busy or Spike Arrest (too many requests per second). */
  | 'busy'
  /** 500.003.03: quota violation. */
  | 'quota'
  /** 500.003.1001 and other Daraja 5xx codes: internal error. */
  | 'internal'
  /** No answer in time. */
  | 'timeout'
  /** Connection refused, reset, DNS... */
  | 'network'
  /** An answer that is not Daraja's (HTML from a proxy, empty body, unknown shape). */
  | 'unexpected';

export interface DarajaError {
  readonly kind: DarajaErrorKind;
  /** Daraja's errorCode (or ResponseCode when it was not "0"); absent for transport failures. */
  readonly code?: string;
  /** Daraja's errorMessage (never contains our secrets; safe to log, not to show to buyers). */
  readonly message: string;
  readonly httpStatus?: number;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;
  /** The least wait before retrying, when Daraja says (subscriber lock: 60 s). */
  readonly retryAfterMs?: number;
  /** For `invalid-request` refused before sending: the Daraja field at fault. */
  readonly field?: string;
}

const RETRYABLE: ReadonlySet<DarajaErrorKind> = new Set([
  'pending',
  'subscriber-locked',
  'busy',
  'quota',
  'internal',
  'timeout',
  'network',
  'invalid-token',
]);

/**
 * A line a buyer can read when the request itself failed (English; translate by kind). Daraja's
 * own errorMessage is for logs and staff, never for buyers.
 */
export const DARAJA_ERROR_MESSAGES: Readonly<Record<DarajaErrorKind, string>> = Object.freeze({
  'invalid-request': 'The payment request was not accepted; check the phone number and amount.',
  'auth-failed': 'M-Pesa payments are not available right now (the operator must check the M-Pesa settings).',
  'invalid-token': 'M-Pesa is not answering right now; try again in a moment.',
  'wrong-endpoint': 'M-Pesa payments are not available right now (the operator must check the M-Pesa settings).',
  pending: 'The payment is still being processed; answer the prompt on your phone.',
  'subscriber-locked': 'Another M-Pesa request is open on your phone; finish or cancel it, then try again in a minute.',
  'bad-credentials': 'M-Pesa payments are not available right now (the operator must check the M-Pesa settings).',
  busy: 'M-Pesa is busy right now; try again in a few minutes.',
  quota: 'M-Pesa is busy right now; try again in a few minutes.',
  internal: 'M-Pesa is not answering right now; try again in a few minutes.',
  timeout: 'M-Pesa did not answer in time; if a prompt reaches your phone you can still pay, otherwise try again.',
  network: 'M-Pesa cannot be reached right now; try again in a few minutes.',
  unexpected: 'M-Pesa is not answering right now; try again in a few minutes.',
});

export function darajaError(
  kind: DarajaErrorKind,
  message: string,
  extra: { code?: string; httpStatus?: number } = {},
): DarajaError {
  const e: DarajaError = {
    kind,
    message,
    retryable: RETRYABLE.has(kind),
    ...(extra.code !== undefined ? { code: extra.code } : {}),
    ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
    ...(kind === 'subscriber-locked' ? { retryAfterMs: 60_000 } : {}),
  };
  return e;
}

/** Maps Daraja's errorCode (and, for 500.001.1001, its errorMessage: G7) to a kind. */
export function classifyDarajaError(code: string, message: string, httpStatus?: number): DarajaErrorKind {
  const c = code.trim();
  if (c === '500.001.1001') {
    const m = message.toLowerCase();
    if (m.includes('being processed') || m.includes('processing')) return 'pending';
    if (m.includes('lock')) return 'subscriber-locked';
    if (m.includes('credential') || m.includes('merchant') || m.includes('does not exist')) return 'bad-credentials';
    return 'internal';
  }
  switch (c) {
    case '400.008.01':
    case '400.008.02':
      return 'auth-failed';
    case '404.001.03':
      return 'invalid-token';
    case '404.001.01':
    case '405.001':
      return 'wrong-endpoint';
    case '500.003.02':
      return 'busy';
    case '500.003.03':
      return 'quota';
    case '500.003.1001':
      return 'internal';
  }
  if (c.startsWith('400.')) return 'invalid-request';
  if (c.startsWith('404.')) return 'wrong-endpoint';
  if (c.startsWith('500.')) return 'internal';
  if (httpStatus !== undefined && httpStatus >= 500) return 'internal';
  return 'invalid-request';
}
