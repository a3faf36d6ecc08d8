/**
 * Where a request carries its credential, and which tenant it acts on. What a credential is
 * worth is tenancy's business (modules/tenancy/authenticator.ts).
 */
import type { Request } from 'express';
import { AppError } from '../../lib/errors';
import type { Authenticator } from '../../modules/tenancy/authenticator';
import type { Principal } from '../../modules/tenancy/principals';

/** The API's credential: X-API-Key, or Authorization: Bearer <JWT or API key>. Undefined: none. */
export function apiCredential(req: Request): string | undefined {
  const header = req.get('authorization');
  const key = req.get('x-api-key');
  if (key) return key;
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
  return m[1]!.trim();
}

/** The principal of an API request, or null without a credential. */
export function apiAuthentication(authenticator: Authenticator): (req: Request) => Promise<Principal | null> {
  return async (req) => {
    const credential = apiCredential(req);
    return credential ? authenticator.authenticate(credential) : null;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The tenant a request acts on: a tenant user's or key's own; a platform admin names one with
 * the X-Tenant-Id header.
 */
export function tenantOf(req: Request, p: Principal): string {
  if (p.tenantId) return p.tenantId;
  const t = req.get('x-tenant-id');
  if (!t)
    throw new AppError('VALIDATION_FAILED', 'platform admins must send X-Tenant-Id for tenant resources', {
      errors: [{ path: 'headers.x-tenant-id', message: 'required' }],
    });
  if (!UUID.test(t)) {
    throw new AppError('VALIDATION_FAILED', 'X-Tenant-Id must be a uuid', {
      errors: [{ path: 'headers.x-tenant-id', message: 'must be a uuid' }],
    });
  }
  return t.toLowerCase();
}
