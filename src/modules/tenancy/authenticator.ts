import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import type { Clock } from '../../lib/clock';
import { mapDbError } from '../../db/errors';
import { apiKeyMatches, parseApiKey, verifyToken } from './credentials';
import type { Principal } from './principals';
import { findApiKeyByPrefix, findTokenUser, touchApiKey } from './tenancy.repo';
import { assertTenantActive } from './tenants.service';

/**
 * Resolves a staff credential (an API key or a JWT, however the caller carried it) to its
 * principal, in one indexed lookup each: an API key by its prefix (with its tenant and
 * creator), a JWT's user by id (with the tenant). The credential is checked first; what it
 * reveals after that (expired, suspended) is only told to its holder.
 */
export class Authenticator {
  private readonly db: Knex;
  private readonly jwtSecret: string;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; jwtSecret: string; clock: Clock }) {
    this.db = deps.db;
    this.jwtSecret = deps.jwtSecret;
    this.clock = deps.clock;
  }

  async authenticate(credential: string): Promise<Principal> {
    try {
      const key = parseApiKey(credential);
      return key ? await this.apiKey(key.prefix, key.secret) : await this.token(credential);
    } catch (err) {
      throw mapDbError(err);
    }
  }

  private async apiKey(prefix: string, secret: string): Promise<Principal> {
    const row = await findApiKeyByPrefix(this.db, prefix);
    if (!row || row.revoked_at || !apiKeyMatches(secret, row.key_hash)) {
      throw new AppError('UNAUTHENTICATED', 'invalid or revoked API key');
    }
    if (row.expires_at && new Date(row.expires_at).getTime() <= this.clock.now())
      throw new AppError('API_KEY_EXPIRED', 'this API key has expired');
    // A key whose creator is disabled is refused until the creator is enabled again
    // (keys without a recorded creator: see docs/decisions.md).
    if (row.creator_disabled_at)
      throw new AppError('API_KEY_CREATOR_DISABLED', 'the user who created this API key is disabled');
    assertTenantActive(row.tenant_status);
    // Best effort: a failed timestamp update must not fail the request.
    touchApiKey(this.db, row.id).catch(() => undefined);
    return { kind: 'api_key', id: row.id, role: row.role, tenantId: row.tenant_id };
  }

  private async token(credential: string): Promise<Principal> {
    const claims = verifyToken(this.jwtSecret, credential);
    if (!claims) throw new AppError('UNAUTHENTICATED', 'invalid or expired token');
    const user = await findTokenUser(this.db, claims.sub);
    if (!user || user.disabled_at) throw new AppError('UNAUTHENTICATED', 'account disabled or removed');
    if (claims.ver !== user.token_version)
      throw new AppError('UNAUTHENTICATED', 'this token was revoked; log in again');
    if (user.tenant_id) assertTenantActive(user.tenant_status);
    return { kind: 'user', id: user.id, role: user.role, tenantId: user.tenant_id };
  }
}
