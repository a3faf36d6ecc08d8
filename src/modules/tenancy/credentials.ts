/** The crypto of staff credentials: JWTs and API keys. No database here. */
import jwt from 'jsonwebtoken';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './principals';

export interface TokenClaims {
  sub: string;
  role: Role;
  tid: string | null;
  /** users.token_version when the token was issued; a bump ends every older token. */
  ver: number;
}

export function signToken(secret: string, ttlSeconds: number, claims: TokenClaims): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: ttlSeconds, issuer: 'lango' });
}

/** The claims of a valid token signed with `secret`, or null. */
export function verifyToken(secret: string, token: string): TokenClaims | null {
  try {
    return jwt.verify(token, secret, { algorithms: ['HS256'], issuer: 'lango' }) as TokenClaims;
  } catch {
    return null;
  }
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** API keys look like lk_<prefix>_<secret>; only sha256(secret) is stored. */
export function newApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `lk_${prefix}_${secret}`, prefix, hash: sha256(secret) };
}

const API_KEY_RE = /^lk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The prefix and secret of something shaped like an API key, or null (then it may be a JWT). */
export function parseApiKey(credential: string): { prefix: string; secret: string } | null {
  const m = API_KEY_RE.exec(credential);
  return m ? { prefix: m[1]!, secret: m[2]! } : null;
}

/** Constant-time comparison of a key's secret with the stored hash. */
export function apiKeyMatches(secret: string, keyHash: string): boolean {
  const given = Buffer.from(sha256(secret), 'hex');
  const stored = Buffer.from(keyHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}
