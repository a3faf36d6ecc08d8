import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors';
import { mapDbError } from '../db/knex';
import { assertTenantActive } from '../services/tenants.service';

export type Role = 'platform_admin' | 'tenant_admin' | 'tenant_operator';
export const ROLES = {
  platform: ['platform_admin'] as Role[],
  admin: ['platform_admin', 'tenant_admin'] as Role[],
  staff: ['platform_admin', 'tenant_admin', 'tenant_operator'] as Role[],
};

export interface Principal {
  kind: 'user' | 'api_key';
  id: string;
  role: Role;
  /** The user's or key's own tenant; null for a platform admin. */
  tenantId: string | null;
}

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

/** API keys look like lk_<prefix>_<secret>; only sha256(secret) is stored. */
export function newApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `lk_${prefix}_${secret}`, prefix, hash: sha256(secret) };
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

const API_KEY_RE = /^lk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/**
 * Resolves the caller on every request, in one indexed lookup each: an API key by its prefix
 * (with its tenant and creator), a JWT's user by id (with the tenant). The credential is
 * checked first; what it reveals after that (expired, suspended) is only told to its holder.
 */
export function createAuthenticator(db: Knex, jwtSecret: string) {
  return async function authenticate(req: Request): Promise<Principal | null> {
    const header = req.get('authorization');
    let credential = req.get('x-api-key') ?? undefined;
    if (!credential && header) {
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m) throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
      credential = m[1]!.trim();
    }
    if (!credential) return null;
    try {
      const key = API_KEY_RE.exec(credential);
      if (key) {
        const row = await db('api_keys as k')
          .join('tenants as t', 't.id', 'k.tenant_id')
          .leftJoin('users as c', 'c.id', 'k.created_by')
          .where('k.prefix', key[1])
          .first('k.id', 'k.role', 'k.tenant_id', 'k.key_hash', 'k.revoked_at', 'k.expires_at', 't.status as tenant_status', 'c.disabled_at as creator_disabled_at');
        const given = Buffer.from(sha256(key[2]!), 'hex');
        if (!row || row.revoked_at || !timingSafeEqual(given, Buffer.from(row.key_hash, 'hex'))) {
          throw new AppError('UNAUTHENTICATED', 'invalid or revoked API key');
        }
        if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) throw new AppError('API_KEY_EXPIRED', 'this API key has expired');
        // A key whose creator is disabled is refused until the creator is enabled again
        // (keys without a recorded creator: see docs/decisions.md).
        if (row.creator_disabled_at) throw new AppError('API_KEY_CREATOR_DISABLED', 'the user who created this API key is disabled');
        assertTenantActive(row.tenant_status);
        // Best effort: a failed timestamp update must not fail the request.
        db('api_keys').where({ id: row.id }).update({ last_used_at: db.fn.now() }).catch(() => undefined);
        return { kind: 'api_key', id: row.id, role: row.role, tenantId: row.tenant_id };
      }
      let claims: TokenClaims;
      try {
        claims = jwt.verify(credential, jwtSecret, { algorithms: ['HS256'], issuer: 'lango' }) as TokenClaims;
      } catch {
        throw new AppError('UNAUTHENTICATED', 'invalid or expired token');
      }
      const user = await db('users as u')
        .leftJoin('tenants as t', 't.id', 'u.tenant_id')
        .where('u.id', claims.sub)
        .first('u.id', 'u.role', 'u.tenant_id', 'u.disabled_at', 'u.token_version', 't.status as tenant_status');
      if (!user || user.disabled_at) throw new AppError('UNAUTHENTICATED', 'account disabled or removed');
      if (claims.ver !== user.token_version) throw new AppError('UNAUTHENTICATED', 'this token was revoked; log in again');
      if (user.tenant_id) assertTenantActive(user.tenant_status);
      return { kind: 'user', id: user.id, role: user.role, tenantId: user.tenant_id };
    } catch (err) {
      throw mapDbError(err);
    }
  };
}

/**
 * The tenant a request acts on: a tenant user's or key's own; a platform admin names one with
 * the X-Tenant-Id header.
 */
export function tenantOf(req: Request, p: Principal): string {
  if (p.tenantId) return p.tenantId;
  const t = req.get('x-tenant-id');
  if (!t) throw new AppError('VALIDATION_FAILED', 'platform admins must send X-Tenant-Id for tenant resources', { errors: [{ path: 'headers.x-tenant-id', message: 'required' }] });
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(t)) {
    throw new AppError('VALIDATION_FAILED', 'X-Tenant-Id must be a uuid', { errors: [{ path: 'headers.x-tenant-id', message: 'must be a uuid' }] });
  }
  return t.toLowerCase();
}
