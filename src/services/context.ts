import type { Knex } from 'knex';
import type { Handle } from '../db/knex';

export interface Actor {
  /**
   * 'platform': a platform admin acting on a tenant. The id is stored, but reads a tenant can
   * see show the actor as "platform" without it.
   */
  type: 'user' | 'api_key' | 'system' | 'platform';
  id: string | null;
}

/** The actor id a tenant may see: never a platform admin's. */
export function visibleActorId(type: string, id: string | null): string | null {
  return type === 'platform' ? null : id;
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
