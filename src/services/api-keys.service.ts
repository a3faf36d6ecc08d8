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
  createdAt: string;
}

function view(r: any): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    role: r.role,
    lastUsedAt: r.last_used_at ? iso(r.last_used_at) : null,
    revokedAt: r.revoked_at ? iso(r.revoked_at) : null,
    createdAt: iso(r.created_at),
  };
}

export class ApiKeysService {
  constructor(private readonly db: Knex) {}

  /** The full key is returned here once and never again. */
  async create(actor: Actor, tenantId: string, input: { name: string; role: 'tenant_admin' | 'tenant_operator' }): Promise<ApiKeyView & { key: string }> {
    const k = newApiKey();
    return withTransaction(this.db, async (trx) => {
      const [r] = await trx('api_keys')
        .insert({ tenant_id: tenantId, name: input.name, prefix: k.prefix, key_hash: k.hash, role: input.role, created_by: actor.type === 'user' ? actor.id : null })
        .returning('*');
      await audit(trx, { tenantId, actor, action: 'api_key.create', entity: 'api_key', entityId: r.id, data: { name: input.name, role: input.role } });
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
