import type { Knex } from 'knex';
import { paginate, Page, visibleActorId } from './context';
import { iso } from './tenants.service';

export interface AuditEntryView {
  id: number;
  action: string;
  entity: string;
  entityId: string | null;
  /** user | api_key | system | platform (a platform admin, whose id is not shown) */
  actorType: string;
  actorId: string | null;
  data: unknown;
  requestId: string | null;
  createdAt: string;
}

/** Reads the audit trail that services write with audit() in context.ts. */
export class AuditService {
  constructor(private readonly db: Knex) {}

  async list(tenantId: string, q: { limit: number; offset: number; entity?: string; entityId?: string }): Promise<Page<AuditEntryView>> {
    const b = this.db('audit_log').where({ tenant_id: tenantId }).orderBy('id', 'desc');
    if (q.entity) b.andWhere({ entity: q.entity });
    if (q.entityId) b.andWhere({ entity_id: q.entityId });
    return paginate(b, q.limit, q.offset, (a) => ({
      id: Number(a.id),
      action: a.action,
      entity: a.entity,
      entityId: a.entity_id,
      actorType: a.actor_type,
      actorId: visibleActorId(a.actor_type, a.actor_id),
      data: a.data,
      requestId: a.request_id,
      createdAt: iso(a.created_at),
    }));
  }
}
