/**
 * Daraja's inbound bodies, parsed by hand (they are not ours to make strict): the STK callback
 * and the C2B validation/confirmation notifications (reference/protocols.md 3.3, 3.5).
 *
 * Tolerant where Daraja varies (numbers as strings and strings as numbers, `ResultCode:
 * "SFC_IC0003"`, a `Balance` item without a Value, missing optional fields), strict where money
 * is concerned: a success without an amount or a receipt, a negative or fractional-cent amount,
 * an unknown shape, are `{ ok: false, reason }` and must never be credited. Nothing here throws
 * on any input.
 *
 * Also the exact bodies Daraja expects back.
 */
import { readC2bMsisdn, parsePhone, type C2bMsisdn, type Msisdn } from './phone';
import { stkOutcome, stkResultCodeText, type StkOutcome } from './result-codes';

export type Invalid = { ok: false; reason: string };

export interface StkCallback {
  ok: true;
  merchantRequestId: string;
  checkoutRequestId: string;
  /** As sent, normalised to text: `0`, `1032`, `SFC_IC0003`. */
  resultCode: string;
  resultDesc: string;
  outcome: StkOutcome;
  /** Present when the outcome is `paid` (and then all of amount and receipt are present). */
  payment?: StkPayment;
}

export interface StkPayment {
  /** Integer minor units (cents): KES 1.00 -> 100. */
  amountMinor: number;
  receipt: string;
  /** TransactionDate as sent (`YYYYMMDDHHmmss`, Nairobi time), if any. */
  transactionDate?: string;
  /** TransactionDate as an instant (read as Africa/Nairobi, UTC+3), if it was a valid one. */
  transactedAt?: Date;
  /** The payer, normalised, if it was a readable number. */
  phone?: Msisdn;
  /** Any other items by Name (e.g. Balance), values as text; absent values as null. */
  extra: Record<string, string | null>;
}

export interface C2bNotification {
  ok: true;
  transactionType: string;
  transId: string;
  /** TransTime as sent (`YYYYMMDDHHmmss`, Nairobi time). */
  transTime: string;
  transactedAt?: Date;
  /** Integer minor units (cents). */
  amountMinor: number;
  businessShortCode: string;
  /** The account number the payer typed (paybill); empty for tills. */
  billRefNumber: string;
  invoiceNumber: string;
  orgAccountBalance: string;
  thirdPartyTransId: string;
  msisdn: C2bMsisdn;
  firstName: string;
  middleName: string;
  lastName: string;
}

const MAX_ID = 64;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text from a string or a finite number (Daraja sends either); undefined otherwise. */
function text(v: unknown, max = 256): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (t.length > max || /[\u0000-\u001f\u007f]/.test(t)) return undefined;
  return t;
}

/** An identifier: letters, digits and a few separators, bounded. */
function ident(v: unknown): string | undefined {
  const t = text(v, MAX_ID);
  return t !== undefined && /^[A-Za-z0-9_.:\-]+$/.test(t) ? t : undefined;
}

/**
 * KES as a number or a decimal string -> integer cents; undefined unless positive with at most
 * two decimals and at most 1,000,000,000.
 */
export function amountToMinor(v: unknown): number | undefined {
  let s: string;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    s = v.toFixed(2);
    if (Math.abs(Number(s) - v) > 1e-9) return undefined;
  } else if (typeof v === 'string') {
    s = v.trim();
  } else return undefined;
  const m = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) return undefined;
  const minor = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return minor > 0 && minor <= 100_000_000_000 ? minor : undefined;
}

/** `YYYYMMDDHHmmss` in Nairobi time (UTC+3, no DST) -> the instant; undefined if not a real time. */
export function nairobiTimestampToDate(v: unknown): Date | undefined {
  const s = text(v, 14);
  if (s === undefined) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    se > 59
  )
    return undefined;
  return new Date(ms - 3 * 3600_000);
}

// ---------------------------------------------------------------------------------------------
// STK callback: {"Body":{"stkCallback":{...}}}

export function parseStkCallback(body: unknown): StkCallback | Invalid {
  const bad = (reason: string): Invalid => ({ ok: false, reason });
  if (!isRecord(body) || !isRecord(body.Body)) return bad('not an STK callback: no Body object');
  const cb = body.Body.stkCallback;
  if (!isRecord(cb)) return bad('not an STK callback: no Body.stkCallback object');
  const merchantRequestId = ident(cb.MerchantRequestID);
  if (merchantRequestId === undefined) return bad('MerchantRequestID missing or malformed');
  const checkoutRequestId = ident(cb.CheckoutRequestID);
  if (checkoutRequestId === undefined) return bad('CheckoutRequestID missing or malformed');
  const rawCode =
    typeof cb.ResultCode === 'number' || typeof cb.ResultCode === 'string' ? text(cb.ResultCode, 32) : undefined;
  if (rawCode === undefined || rawCode === '' || !/^[A-Za-z0-9_.\-]+$/.test(rawCode))
    return bad('ResultCode missing or malformed');
  const resultCode = stkResultCodeText(rawCode);
  const resultDesc = text(cb.ResultDesc, 1024) ?? '';
  const outcome = stkOutcome(resultCode);
  const parsed: StkCallback = { ok: true, merchantRequestId, checkoutRequestId, resultCode, resultDesc, outcome };
  if (outcome !== 'paid') return parsed;

  const meta = cb.CallbackMetadata;
  if (!isRecord(meta) || !Array.isArray(meta.Item)) return bad('a successful callback without CallbackMetadata.Item');
  if (meta.Item.length > 50) return bad('CallbackMetadata.Item has too many items');
  const items = new Map<string, unknown>();
  for (const item of meta.Item) {
    if (!isRecord(item)) return bad('a CallbackMetadata item is not an object');
    const name = text(item.Name, 64);
    if (name === undefined || name === '') return bad('a CallbackMetadata item without a Name');
    if (items.has(name)) return bad(`CallbackMetadata item ${name} appears twice`);
    items.set(name, item.Value);
  }
  const amountMinor = amountToMinor(items.get('Amount'));
  if (amountMinor === undefined) return bad('a successful callback without a valid Amount');
  const receipt = ident(items.get('MpesaReceiptNumber'));
  if (receipt === undefined || !/^[A-Z0-9]{6,20}$/i.test(receipt))
    return bad('a successful callback without a valid MpesaReceiptNumber');
  const payment: StkPayment = { amountMinor, receipt: receipt.toUpperCase(), extra: {} };
  const date = text(items.get('TransactionDate'), 32);
  if (date !== undefined && date !== '') {
    payment.transactionDate = date;
    const at = nairobiTimestampToDate(date);
    if (at) payment.transactedAt = at;
  }
  const phone = parsePhone(items.get('PhoneNumber'));
  if (phone.ok) payment.phone = phone.msisdn;
  for (const [name, value] of items) {
    if (['Amount', 'MpesaReceiptNumber', 'TransactionDate', 'PhoneNumber'].includes(name)) continue;
    payment.extra[name] = value === undefined || value === null ? null : (text(value, 256) ?? null);
  }
  parsed.payment = payment;
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// C2B validation / confirmation (the same body for both)

export function parseC2bNotification(body: unknown): C2bNotification | Invalid {
  const bad = (reason: string): Invalid => ({ ok: false, reason });
  if (!isRecord(body)) return bad('not a C2B notification: not a JSON object');
  const transId = ident(body.TransID);
  if (transId === undefined || !/^[A-Z0-9]{6,20}$/i.test(transId)) return bad('TransID missing or malformed');
  const amountMinor = amountToMinor(body.TransAmount);
  if (amountMinor === undefined) return bad('TransAmount missing or not a positive amount');
  const businessShortCode = text(body.BusinessShortCode, 16);
  if (businessShortCode === undefined || !/^\d{5,10}$/.test(businessShortCode))
    return bad('BusinessShortCode missing or malformed');
  const transTime = text(body.TransTime, 32) ?? '';
  const opt = (v: unknown, max = 128): string => text(v, max) ?? '';
  const n: C2bNotification = {
    ok: true,
    transactionType: opt(body.TransactionType, 64),
    transId: transId.toUpperCase(),
    transTime,
    amountMinor,
    businessShortCode,
    billRefNumber: opt(body.BillRefNumber, 64),
    invoiceNumber: opt(body.InvoiceNumber, 64),
    orgAccountBalance: opt(body.OrgAccountBalance, 64),
    thirdPartyTransId: opt(body.ThirdPartyTransID, 64),
    msisdn: readC2bMsisdn(body.MSISDN),
    firstName: opt(body.FirstName),
    middleName: opt(body.MiddleName),
    lastName: opt(body.LastName),
  };
  const at = nairobiTimestampToDate(transTime);
  if (at) n.transactedAt = at;
  return n;
}

// ---------------------------------------------------------------------------------------------
// What Daraja expects back

/** Acknowledges an STK callback: sent for every callback once it is stored, whatever it said. */
export const STK_CALLBACK_ACK = Object.freeze({ ResultCode: 0, ResultDesc: 'Accepted' });

/** Acknowledges a C2B confirmation. */
export const C2B_CONFIRMATION_ACK = Object.freeze({ ResultCode: 0, ResultDesc: 'Success' });

/** Accepts a C2B payment at validation. */
export const C2B_VALIDATION_ACCEPT = Object.freeze({ ResultCode: '0', ResultDesc: 'Accepted' });

/** Why a C2B validation refuses a payment, and Daraja's code for it. */
export const C2B_REJECT_CODES = Object.freeze({
  msisdn: 'C2B00011',
  account: 'C2B00012',
  amount: 'C2B00013',
  kyc: 'C2B00014',
  shortcode: 'C2B00015',
  other: 'C2B00016',
} as const);

export type C2bRejectReason = keyof typeof C2B_REJECT_CODES;

export function c2bValidationReject(reason: C2bRejectReason): { ResultCode: string; ResultDesc: 'Rejected' } {
  return { ResultCode: C2B_REJECT_CODES[reason], ResultDesc: 'Rejected' };
}
