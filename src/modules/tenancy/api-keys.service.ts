import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import type { Clock } from '../../lib/clock';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isoOrNull } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { newApiKey } from './credentials';
import { apiKeysQuery, insertApiKey, revokeApiKey, type ApiKeyRow } from './tenancy.repo';
import type { ApiKeyView, CreateApiKey, CreatedApiKey } from './tenancy.schemas';

/** The longest an API key may be given (keys without expiresAt last until revoked). */
export const API_KEY_MAX_LIFETIME_DAYS = 730;

function apiKeyView(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    lastUsedAt: isoOrNull(r.last_used_at),
    revokedAt: isoOrNull(r.revoked_at),
    expiresAt: isoOrNull(r.expires_at),
    createdAt: iso(r.created_at),
  };
}

export class ApiKeysService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  private checkExpiry(value: string): Date {
    const at = new Date(value);
    const bad = (message: string) =>
      new AppError('VALIDATION_FAILED', `expiresAt ${message}`, { errors: [{ path: 'body.expiresAt', message }] });
    if (Number.isNaN(at.getTime())) throw bad('is not a date-time');
    const now = this.clock.now();
    if (at.getTime() <= now) throw bad('must be in the future');
    if (at.getTime() > now + API_KEY_MAX_LIFETIME_DAYS * 86400_000)
      throw bad(`must be within ${API_KEY_MAX_LIFETIME_DAYS} days`);
    return at;
  }

  /**
   * The full key is returned here once and never again. created_by is recorded for tenant
   * users only: while that user is disabled the key is refused. Keys made by a platform admin
   * (or the system) have no creator to follow and last until revoked or expired.
   */
  async create(actor: Actor, tenantId: string, input: CreateApiKey): Promise<CreatedApiKey> {
    const expiresAt = input.expiresAt === undefined ? null : this.checkExpiry(input.expiresAt);
    const k = newApiKey();
    return withTransaction(this.db, async (trx) => {
      const r = await insertApiKey(trx, {
        tenant_id: tenantId,
        name: input.name,
        prefix: k.prefix,
        key_hash: k.hash,
        role: input.role,
        created_by: actor.type === 'user' ? actor.id : null,
        expires_at: expiresAt,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'api_key.create',
        entity: 'api_key',
        entityId: r.id,
        data: { name: input.name, role: input.role, expiresAt: expiresAt?.toISOString() ?? null },
      });
      return { ...apiKeyView(r), key: k.key };
    });
  }

  async list(tenantId: string, limit: number, offset: number): Promise<Page<ApiKeyView>> {
    return paginate(apiKeysQuery(this.db, tenantId), limit, offset, apiKeyView);
  }

  async revoke(actor: Actor, tenantId: string, id: string): Promise<ApiKeyView> {
    return withTransaction(this.db, async (trx) => {
      const r = await revokeApiKey(trx, tenantId, id);
      if (!r) throw new AppError('API_KEY_NOT_FOUND', 'API key not found');
      await audit(trx, { tenantId, actor, action: 'api_key.revoke', entity: 'api_key', entityId: id });
      return apiKeyView(r);
    });
  }
}
