/**
 * MikroTik hotspot CHAP (protocols.md 2.4): the router's $(chap-id) and $(chap-challenge) are
 * octal-escaped bytes ("\371\032..."); the login form's password is hex
 * MD5(chap-id || password || chap-challenge) over the decoded bytes. The page computes it in
 * the browser (src/http/portal/login-script.ts); this is the same computation for the page
 * without JavaScript and for tests.
 */
import { createHash } from 'node:crypto';

const OCTAL = /^(?:\\[0-3][0-7]{2})+$/;

export function isOctalEscaped(s: string): boolean {
  return OCTAL.test(s);
}

export function decodeOctal(s: string): Buffer {
  if (!isOctalEscaped(s)) throw new Error('not octal-escaped bytes');
  const out = Buffer.alloc(s.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 4 + 1, i * 4 + 4), 8);
  return out;
}

export function encodeOctal(b: Uint8Array): string {
  return Array.from(b, (x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
}

export function chapResponse(chapId: string, password: string, chapChallenge: string): string {
  return createHash('md5')
    .update(decodeOctal(chapId))
    .update(password, 'utf8')
    .update(decodeOctal(chapChallenge))
    .digest('hex');
}
