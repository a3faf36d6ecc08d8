/** CHAP (RFC 1994 / RFC 2865 §2.2, §5.3): CHAP-Password = Ident + MD5(Ident + password + challenge). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NamedAttribute } from './attributes';
import { RadiusCodecError } from './errors';

function checkIdent(ident: number): void {
  if (!Number.isInteger(ident) || ident < 0 || ident > 255) {
    throw new RadiusCodecError('INVALID_ARGUMENT', `CHAP ident must be 0..255, got ${ident}`);
  }
}

export function chapResponse(ident: number, password: string | Buffer, challenge: Buffer): Buffer {
  checkIdent(ident);
  return createHash('md5')
    .update(Buffer.from([ident]))
    .update(typeof password === 'string' ? Buffer.from(password, 'utf8') : password)
    .update(challenge)
    .digest();
}

/** The 17-byte CHAP-Password value. */
export function buildChapPassword(ident: number, password: string | Buffer, challenge: Buffer): Buffer {
  return Buffer.concat([Buffer.from([ident]), chapResponse(ident, password, challenge)]);
}

/** Server side: check a received CHAP-Password against the cleartext password. */
export function verifyChapPassword(chapPassword: Buffer, password: string | Buffer, challenge: Buffer): boolean {
  const ident = chapPassword[0];
  if (chapPassword.length !== 17 || ident === undefined) return false;
  return timingSafeEqual(chapPassword.subarray(1), chapResponse(ident, password, challenge));
}

export interface ChapOptions {
  /** Default: random. */
  readonly ident?: number;
  /** Default: 16 random bytes. */
  readonly challenge?: Buffer;
  /**
   * Put the challenge in the Request Authenticator instead of a CHAP-Challenge attribute
   * (must then be 16 bytes); pass the returned `authenticator` to encodeRequest.
   */
  readonly useRequestAuthenticator?: boolean;
}

export interface ChapAttributes {
  readonly attributes: NamedAttribute[];
  /** Set when useRequestAuthenticator: the Access-Request must use it as its authenticator. */
  readonly authenticator?: Buffer;
}

export function chapAttributes(password: string | Buffer, opts: ChapOptions = {}): ChapAttributes {
  const ident = opts.ident ?? randomBytes(1)[0] ?? 0;
  const challenge = opts.challenge ?? randomBytes(16);
  const value = buildChapPassword(ident, password, challenge);
  if (opts.useRequestAuthenticator) {
    if (challenge.length !== 16) {
      throw new RadiusCodecError('INVALID_ARGUMENT', 'a challenge used as Request Authenticator must be 16 bytes');
    }
    return { attributes: [{ name: 'CHAP-Password', value }], authenticator: challenge };
  }
  return {
    attributes: [
      { name: 'CHAP-Password', value },
      { name: 'CHAP-Challenge', value: challenge },
    ],
  };
}
