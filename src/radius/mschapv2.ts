/**
 * MS-CHAPv2 client side (RFC 2759) carried in RADIUS Microsoft VSAs (RFC 2548):
 * MS-CHAP-Challenge (authenticator challenge), MS-CHAP2-Response, MS-CHAP2-Success.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { getBuffer, type AttributeSource, type NamedAttribute } from './attributes';
import { desEncryptBlock, expandDesKey } from './des';
import { RadiusCodecError } from './errors';
import { md4 } from './md4';

const MAGIC1 = Buffer.from('Magic server to client signing constant', 'ascii');
const MAGIC2 = Buffer.from('Pad to make it do more than one iteration', 'ascii');

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function need(buf: Buffer, length: number, what: string): void {
  if (buf.length !== length) throw new RadiusCodecError('INVALID_ARGUMENT', `${what} must be ${length} bytes`);
}

/** RFC 2759 §8.3 NtPasswordHash: MD4 of the UTF-16LE password (at most 256 characters). */
export function ntPasswordHash(password: string): Buffer {
  if (password.length > 256)
    throw new RadiusCodecError('PASSWORD_TOO_LONG', 'MS-CHAP password longer than 256 characters');
  return md4(Buffer.from(password, 'utf16le'));
}

/** RFC 2759 §8.4 HashNtPasswordHash. */
export function hashNtPasswordHash(passwordHash: Buffer): Buffer {
  return md4(passwordHash);
}

/** The user name as hashed: any "DOMAIN\" prefix removed (RFC 2759 §8.2). */
export function challengeUserName(username: string): string {
  const slash = username.lastIndexOf('\\');
  return slash >= 0 ? username.slice(slash + 1) : username;
}

/** RFC 2759 §8.2 ChallengeHash: first 8 bytes of SHA1(PeerChallenge + AuthenticatorChallenge + UserName). */
export function challengeHash(peerChallenge: Buffer, authenticatorChallenge: Buffer, username: string): Buffer {
  need(peerChallenge, 16, 'peer challenge');
  need(authenticatorChallenge, 16, 'authenticator challenge');
  return sha1(peerChallenge, authenticatorChallenge, Buffer.from(challengeUserName(username), 'utf8')).subarray(0, 8);
}

/** RFC 2759 §8.5 ChallengeResponse: DES of the challenge under the three 7-byte thirds of the zero-padded hash. */
export function challengeResponse(challenge: Buffer, passwordHash: Buffer): Buffer {
  need(challenge, 8, 'challenge');
  need(passwordHash, 16, 'password hash');
  const z = Buffer.concat([passwordHash, Buffer.alloc(5)]);
  return Buffer.concat([0, 7, 14].map((at) => desEncryptBlock(expandDesKey(z.subarray(at, at + 7)), challenge)));
}

/** RFC 2759 §8.1 GenerateNTResponse. */
export function generateNtResponse(
  authenticatorChallenge: Buffer,
  peerChallenge: Buffer,
  username: string,
  password: string,
): Buffer {
  return challengeResponse(challengeHash(peerChallenge, authenticatorChallenge, username), ntPasswordHash(password));
}

/** RFC 2759 §8.7 GenerateAuthenticatorResponse: "S=" + 40 upper-case hex digits. */
export function generateAuthenticatorResponse(
  password: string,
  ntResponse: Buffer,
  peerChallenge: Buffer,
  authenticatorChallenge: Buffer,
  username: string,
): string {
  need(ntResponse, 24, 'NT-Response');
  const digest = sha1(hashNtPasswordHash(ntPasswordHash(password)), ntResponse, MAGIC1);
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, username);
  return `S=${sha1(digest, challenge, MAGIC2).toString('hex').toUpperCase()}`;
}

export interface MschapV2Exchange {
  readonly ident: number;
  readonly username: string;
  readonly password: string;
  readonly authenticatorChallenge: Buffer;
  readonly peerChallenge: Buffer;
  readonly ntResponse: Buffer;
}

export interface MschapV2Options {
  readonly ident?: number;
  readonly authenticatorChallenge?: Buffer;
  readonly peerChallenge?: Buffer;
}

/** Build MS-CHAP-Challenge and MS-CHAP2-Response (Ident, Flags 0, PeerChallenge, 8 reserved, NT-Response). */
export function mschapv2Attributes(
  username: string,
  password: string,
  opts: MschapV2Options = {},
): { attributes: NamedAttribute[]; exchange: MschapV2Exchange } {
  const ident = opts.ident ?? randomBytes(1)[0] ?? 0;
  if (!Number.isInteger(ident) || ident < 0 || ident > 255)
    throw new RadiusCodecError('INVALID_ARGUMENT', 'ident must be 0..255');
  const authenticatorChallenge = opts.authenticatorChallenge ?? randomBytes(16);
  const peerChallenge = opts.peerChallenge ?? randomBytes(16);
  const ntResponse = generateNtResponse(authenticatorChallenge, peerChallenge, username, password);
  const response = Buffer.concat([Buffer.from([ident, 0]), peerChallenge, Buffer.alloc(8), ntResponse]);
  return {
    attributes: [
      { name: 'MS-CHAP-Challenge', value: authenticatorChallenge },
      { name: 'MS-CHAP2-Response', value: response },
    ],
    exchange: { ident, username, password, authenticatorChallenge, peerChallenge, ntResponse },
  };
}

/**
 * Check MS-CHAP2-Success (Ident + "S=<40 hex>" [+ " M=..."]) from an Access-Accept against the
 * expected authenticator response. False when absent, malformed, for another ident, or wrong.
 */
export function verifyMschapv2Success(reply: AttributeSource, exchange: MschapV2Exchange): boolean {
  const success = getBuffer(reply, 'MS-CHAP2-Success');
  if (!success || success.length < 43 || success[0] !== exchange.ident) return false;
  const match = /^S=([0-9A-Fa-f]{40})/.exec(success.subarray(1).toString('latin1'));
  if (!match?.[1]) return false;
  const expected = generateAuthenticatorResponse(
    exchange.password,
    exchange.ntResponse,
    exchange.peerChallenge,
    exchange.authenticatorChallenge,
    exchange.username,
  );
  return timingSafeEqual(Buffer.from(`S=${match[1].toUpperCase()}`, 'latin1'), Buffer.from(expected, 'latin1'));
}
