import type { Knex } from 'knex';
import { AppError } from '../errors';
import { withTransaction } from '../db/knex';
import { Actor, audit, paginate, Page } from './context';
import { iso } from './tenants.service';
import { newApiKey } from '../http/auth';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  role: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  expiresAt: string | null;
  createdAt: string;
}

/** The longest an API key may be given (keys without expiresAt last until revoked). */
export const API_KEY_MAX_LIFETIME_DAYS = 730;

function view(r: any): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    lastUsedAt: r.last_used_at ? iso(r.last_used_at) : null,
    revokedAt: r.revoked_at ? iso(r.revoked_at) : null,
    expiresAt: r.expires_at ? iso(r.expires_at) : null,
    createdAt: iso(r.created_at),
  };
}

function checkExpiry(value: string): Date {
  const at = new Date(value);
  const bad = (message: string) => new AppError('VALIDATION_FAILED', `expiresAt ${message}`, { errors: [{ path: 'body.expiresAt', message }] });
  if (Number.isNaN(at.getTime())) throw bad('is not a date-time');
  if (at.getTime() <= Date.now()) throw bad('must be in the future');
  if (at.getTime() > Date.now() + API_KEY_MAX_LIFETIME_DAYS * 86400_000) throw bad(`must be within ${API_KEY_MAX_LIFETIME_DAYS} days`);
  return at;
}

export class ApiKeysService {
  constructor(private readonly db: Knex) {}

  /**
   * The full key is returned here once and never again. created_by is recorded for tenant
   * users only: while that user is disabled the key is refused. Keys made by a platform admin
   * (or the system) have no creator to follow and last until revoked or expired.
   */
  async create(actor: Actor, tenantId: string, input: { name: string; role: 'tenant_admin' | 'tenant_operator'; expiresAt?: string }): Promise<ApiKeyView & { key: string }> {
    const expiresAt = input.expiresAt === undefined ? null : checkExpiry(input.expiresAt);
    const k = newApiKey();
    return withTransaction(this.db, async (trx) => {
      const [r] = await trx('api_keys')
        .insert({ tenant_id: tenantId, name: input.name, prefix: k.prefix, key_hash: k.hash, role: input.role, created_by: actor.type === 'user' ? actor.id : null, expires_at: expiresAt })
        .returning('*');
      await audit(trx, { tenantId, actor, action: 'api_key.create', entity: 'api_key', entityId: r.id, data: { name: input.name, role: input.role, expiresAt: expiresAt?.toISOString() ?? null } });
      return { ...view(r), key: k.key };
    });
  }

  async list(tenantId: string, limit: number, offset: number): Promise<Page<ApiKeyView>> {
    return paginate(this.db('api_keys').where({ tenant_id: tenantId }).orderBy('created_at', 'desc').orderBy('id'), limit, offset, view);
  }

  async revoke(actor: Actor, tenantId: string, id: string): Promise<ApiKeyView> {
    return withTransaction(this.db, async (trx) => {
      const [r] = await trx('api_keys').where({ tenant_id: tenantId, id }).update({ revoked_at: trx.raw('COALESCE(revoked_at, now())') }).returning('*');
      if (!r) throw new AppError('API_KEY_NOT_FOUND', 'API key not found');
      await audit(trx, { tenantId, actor, action: 'api_key.revoke', entity: 'api_key', entityId: id });
      return view(r);
    });
  }
}
