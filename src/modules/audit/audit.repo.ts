import type { Handle } from '../../db/knex';
import type { Actor } from './actor';

export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  entity: string;
  entity_id: string | null;
  data: unknown;
  request_id: string | null;
  created_at: Date;
}

export interface AuditEntry {
  tenantId: string | null;
  actor: Actor;
  action: string;
  entity: string;
  entityId?: string | null;
  data?: Record<string, unknown>;
  requestId?: string;
}

/** Every module writes its audit entries with this, in the transaction of the change. */
export async function audit(h: Handle, entry: AuditEntry): Promise<void> {
  await h('audit_log').insert({
    tenant_id: entry.tenantId,
    actor_type: entry.actor.type,
    actor_id: entry.actor.id,
    action: entry.action,
    entity: entry.entity,
    entity_id: entry.entityId ?? null,
    data: JSON.stringify(entry.data ?? {}),
    request_id: entry.requestId ?? null,
  });
}

/** A tenant's entries, newest first (select and order included, for paginate). */
export function auditEntriesQuery(
  h: Handle,
  tenantId: string,
  q: { entity?: string | undefined; entityId?: string | undefined },
) {
  const b = h('audit_log').where({ tenant_id: tenantId }).orderBy('id', 'desc');
  if (q.entity) b.andWhere({ entity: q.entity });
  if (q.entityId) b.andWhere({ entity_id: q.entityId });
  return b;
}
