import type { Knex } from 'knex';
import type { Handle } from '../db/knex';

export interface Actor {
  type: 'user' | 'api_key' | 'system';
  id: string | null;
}

export const SYSTEM: Actor = { type: 'system', id: null };

export async function audit(
  h: Handle,
  entry: { tenantId: string | null; actor: Actor; action: string; entity: string; entityId?: string | null; data?: Record<string, unknown>; requestId?: string },
): Promise<void> {
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

export interface Page<T> {
  data: T[];
  page: { limit: number; offset: number; total: number };
}

export async function paginate<T>(q: Knex.QueryBuilder, limit: number, offset: number, map: (row: any) => T): Promise<Page<T>> {
  const countQ = q.clone().clearSelect().clearOrder().count<{ count: string }[]>({ count: '*' });
  const [rows, counted] = await Promise.all([q.clone().limit(limit).offset(offset), countQ]);
  return { data: (rows as any[]).map(map), page: { limit, offset, total: Number(counted[0]?.count ?? 0) } };
}
