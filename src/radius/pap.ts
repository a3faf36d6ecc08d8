/** User-Password hiding, RFC 2865 §5.2. */
import { createHash } from 'node:crypto';
import { RadiusCodecError } from './errors';

export const MAX_PASSWORD_LENGTH = 128;

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** b(i) = MD5(secret + previous), previous = request authenticator, then the previous cipher block. */
function xorChain(input: Buffer, secret: Buffer, authenticator: Buffer, decrypt: boolean): Buffer {
  const out = Buffer.alloc(input.length);
  let previous = authenticator;
  for (let offset = 0; offset < input.length; offset += 16) {
    const b = createHash('md5').update(secret).update(previous).digest();
    for (let i = 0; i < 16; i++) out[offset + i] = (input[offset + i] ?? 0) ^ (b[i] ?? 0);
    previous = (decrypt ? input : out).subarray(offset, offset + 16);
  }
  return out;
}

/** NUL-pad to a multiple of 16 (at least 16, at most 128 bytes) and hide. */
export function encryptUserPassword(password: string | Buffer, secret: string | Buffer, authenticator: Buffer): Buffer {
  const clear = toBuffer(password);
  if (clear.length > MAX_PASSWORD_LENGTH) {
    throw new RadiusCodecError('PASSWORD_TOO_LONG', `User-Password longer than ${MAX_PASSWORD_LENGTH} bytes`);
  }
  if (authenticator.length !== 16) throw new RadiusCodecError('INVALID_ARGUMENT', 'authenticator must be 16 bytes');
  const padded = Buffer.alloc(Math.max(16, Math.ceil(clear.length / 16) * 16));
  clear.copy(padded);
  return xorChain(padded, toBuffer(secret), authenticator, false);
}

/** Reverse of encryptUserPassword; trailing NUL padding is removed. */
export function decryptUserPassword(cipher: Buffer, secret: string | Buffer, authenticator: Buffer): Buffer {
  if (cipher.length === 0 || cipher.length % 16 !== 0 || cipher.length > MAX_PASSWORD_LENGTH) {
    throw new RadiusCodecError('INVALID_VALUE', 'User-Password length must be a multiple of 16, at most 128');
  }
  if (authenticator.length !== 16) throw new RadiusCodecError('INVALID_ARGUMENT', 'authenticator must be 16 bytes');
  const clear = xorChain(cipher, toBuffer(secret), authenticator, true);
  let end = clear.length;
  while (end > 0 && clear[end - 1] === 0) end--;
  return clear.subarray(0, end);
}
