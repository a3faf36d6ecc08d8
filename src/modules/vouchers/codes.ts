/**
 * Voucher codes: drawn with node:crypto's randomInt (a CSPRNG, no modulo bias) over an alphabet
 * without look-alikes. The minimum lengths keep guessing impractical (CONTEXT.md has the math):
 * every alphabet's minimum gives at least 2^43 codes.
 */
import { randomInt } from 'node:crypto';

export type CodeAlphabet = 'numeric' | 'alphanumeric';

/** Letters and digits without 0/O, 1/I/L: 31 symbols, upper case (codes are typed on phones). */
export const ALPHABETS: Readonly<Record<CodeAlphabet, string>> = {
  numeric: '0123456789',
  alphanumeric: 'ABCDEFGHJKMNPQRSTUVWXYZ23456789',
};

/** Shortest code per alphabet: 31^9 = 2^44.6, 10^13 = 2^43.2 codes. */
export const MIN_LENGTH: Readonly<Record<CodeAlphabet, number>> = { numeric: 13, alphanumeric: 9 };
export const DEFAULT_LENGTH: Readonly<Record<CodeAlphabet, number>> = { numeric: 14, alphanumeric: 10 };
export const MAX_LENGTH = 32;

/** log2 of the number of codes of this alphabet and length. */
export function keyspaceBits(alphabet: CodeAlphabet, length: number): number {
  return length * Math.log2(ALPHABETS[alphabet].length);
}

export function randomCode(alphabet: CodeAlphabet, length: number): string {
  const symbols = ALPHABETS[alphabet];
  let code = '';
  for (let i = 0; i < length; i++) code += symbols[randomInt(symbols.length)];
  return code;
}

/** `n` distinct codes (distinct among themselves; the database decides against the tenant's others). */
export function randomCodes(
  alphabet: CodeAlphabet,
  length: number,
  n: number,
  avoid: ReadonlySet<string> = new Set(),
): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    const c = randomCode(alphabet, length);
    if (!avoid.has(c)) out.add(c);
  }
  return [...out];
}

/** What a buyer types, normalised: upper case, spaces and dashes removed. */
export function normalizeCode(typed: string): string {
  return typed.replace(/[\s-]+/g, '').toUpperCase();
}
