/**
 * Kenyan M-Pesa phone numbers as Daraja wants them: 12 digits, `2547XXXXXXXX` or `2541XXXXXXXX`
 * (0110/0111 Safaricom numbers exist; a strict `2547` check rejects real buyers). What people
 * type (`0712 345 678`, `+254712345678`, `712345678`) is normalised; anything else is refused
 * with a reason a form can show.
 *
 * C2B notifications no longer carry the payer's number in clear: since 15 July 2024 `MSISDN` is
 * the SHA-256 of the number (hex), older and sandbox ones are masked (`25470****149`) or plain.
 * `hashPhone()` computes what Daraja sends for a number, so a subscriber's stored hash can be
 * compared with a notification's; `readC2bMsisdn()` says which of the forms a value is.
 */
import { createHash } from 'node:crypto';

/** A normalised number: `2547XXXXXXXX` or `2541XXXXXXXX`. */
export type Msisdn = string & { readonly __msisdn: unique symbol };

export type PhoneProblem = 'empty' | 'characters' | 'length' | 'country' | 'network';

export class PhoneNumberError extends Error {
  constructor(
    readonly problem: PhoneProblem,
    message: string,
  ) {
    super(message);
    this.name = 'PhoneNumberError';
  }
}

export type PhoneParse = { ok: true; msisdn: Msisdn } | { ok: false; problem: PhoneProblem; message: string };

const MSISDN = /^254[17]\d{8}$/;
/** What a person may type around the digits. */
const DECORATION = /[\s\-().]/g;

export function isMsisdn(value: unknown): value is Msisdn {
  return typeof value === 'string' && MSISDN.test(value);
}

/** Normalises a phone number without throwing. */
export function parsePhone(input: unknown): PhoneParse {
  const fail = (problem: PhoneProblem, message: string): PhoneParse => ({ ok: false, problem, message });
  if (typeof input === 'number' && Number.isSafeInteger(input) && input > 0) input = String(input);
  if (typeof input !== 'string') return fail('empty', 'a phone number is required');
  const raw = input.replace(DECORATION, '');
  if (raw.length === 0) return fail('empty', 'a phone number is required');
  const plus = raw.startsWith('+');
  const digits = plus ? raw.slice(1) : raw;
  if (!/^\d+$/.test(digits))
    return fail('characters', 'a phone number has only digits, an optional leading + and spaces or dashes');
  let national: string;
  if (plus || (digits.startsWith('254') && digits.length > 10)) {
    if (!digits.startsWith('254')) return fail('country', 'only Kenyan numbers (+254) can pay with M-Pesa');
    national = digits.slice(3);
    // +254 0712... is a common slip: the trunk 0 does not belong after the country code.
    if (national.length === 10 && national.startsWith('0')) national = national.slice(1);
  } else if (digits.startsWith('0')) {
    national = digits.slice(1);
  } else {
    national = digits;
  }
  if (national.length !== 9) {
    return fail('length', 'a Kenyan mobile number has 10 digits starting with 07 or 01 (or 254 followed by 9 digits)');
  }
  if (national[0] !== '7' && national[0] !== '1') {
    return fail('network', 'a Kenyan mobile number starts with 07 or 01 (2547 or 2541)');
  }
  return { ok: true, msisdn: `254${national}` as Msisdn };
}

/** Normalises a phone number to `2547XXXXXXXX` / `2541XXXXXXXX`; throws PhoneNumberError. */
export function normalisePhone(input: unknown): Msisdn {
  const r = parsePhone(input);
  if (!r.ok) throw new PhoneNumberError(r.problem, r.message);
  return r.msisdn;
}

/**
 * The SHA-256 (lower-case hex) of the normalised number, as Daraja puts it in a C2B
 * notification's `MSISDN`: the hash of the 12 digits `2547XXXXXXXX`, no `+`, no leading 0.
 */
export function hashPhone(input: unknown): string {
  return createHash('sha256').update(normalisePhone(input), 'utf8').digest('hex');
}

/** Masks a number the way Daraja does in older C2B notifications: `25470****149`. */
export function maskPhone(msisdn: Msisdn): string {
  return `${msisdn.slice(0, 5)}****${msisdn.slice(9)}`;
}

/** A C2B notification's MSISDN, whichever form it came in. */
export type C2bMsisdn =
  | { kind: 'plain'; msisdn: Msisdn; hash: string }
  | { kind: 'hashed'; hash: string }
  | { kind: 'masked'; masked: string; prefix: string; suffix: string }
  | { kind: 'absent' }
  | { kind: 'unreadable'; value: string };

const HASH = /^[0-9a-f]{64}$/i;
const MASKED = /^(\d{3,9})\*+(\d{1,6})$/;

export function readC2bMsisdn(value: unknown): C2bMsisdn {
  if (typeof value === 'number') value = String(value);
  if (typeof value !== 'string' || value.trim() === '') return { kind: 'absent' };
  const v = value.trim();
  if (HASH.test(v)) return { kind: 'hashed', hash: v.toLowerCase() };
  const masked = MASKED.exec(v);
  if (masked) return { kind: 'masked', masked: v, prefix: masked[1]!, suffix: masked[2]! };
  const plain = parsePhone(v);
  if (plain.ok) return { kind: 'plain', msisdn: plain.msisdn, hash: hashPhone(plain.msisdn) };
  return { kind: 'unreadable', value: v.slice(0, 64) };
}

/** Whether a known number could be the one behind a C2B MSISDN (a masked one matches many). */
export function msisdnMatches(c2b: C2bMsisdn, msisdn: Msisdn): boolean {
  switch (c2b.kind) {
    case 'plain':
      return c2b.msisdn === msisdn;
    case 'hashed':
      return c2b.hash === hashPhone(msisdn);
    case 'masked':
      return c2b.masked.length === msisdn.length && msisdn.startsWith(c2b.prefix) && msisdn.endsWith(c2b.suffix);
    default:
      return false;
  }
}
