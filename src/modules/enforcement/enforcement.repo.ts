/** Reads of the outbox for the API, and the tenant's enforcement settings (columns of tenants). */
import type { Handle } from '../../db/knex';
import type { EnforcementKind, EnforcementReason, EnforcementStatus, RadiusAttributeValue } from './contract';

export interface ActionRow {
  id: string;
  tenant_id: string;
  kind: EnforcementKind;
  reason: EnforcementReason;
  status: EnforcementStatus;
  subscriber_id: string | null;
  nas_id: string | null;
  radacct_id: string | null;
  username: string;
  acct_session_id: string;
  framed_ip: string | null;
  attributes: RadiusAttributeValue[];
  context: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
  error_cause: number | null;
  last_error: string | null;
  rtt_ms: number | null;
  fallback_status: string | null;
  fallback_removed: number | null;
  fallback_error: string | null;
  fallback_at: Date | null;
  requested_by_type: string;
  requested_by: string | null;
  due_at: Date;
  next_attempt_at: Date;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export async function findAction(h: Handle, where: { id: string; tenant_id?: string }): Promise<ActionRow | undefined> {
  return h('enforcement_actions').where(where).first();
}

/** The staff action of a session: the one in flight first, else the newest. */
export async function findStaffAction(h: Handle, tenantId: string, radacctId: number): Promise<ActionRow | undefined> {
  return h('enforcement_actions')
    .where({ tenant_id: tenantId, radacct_id: radacctId, reason: 'staff' })
    .orderByRaw(`status IN ('pending', 'sending') DESC, created_at DESC`)
    .first();
}

export function actionsQuery(
  h: Handle,
  tenantId: string,
  q: {
    status?: string | undefined;
    reason?: string | undefined;
    kind?: string | undefined;
    subscriberId?: string | undefined;
    sessionId?: number | undefined;
    nasId?: string | undefined;
  },
) {
  const b = h('enforcement_actions').where({ tenant_id: tenantId });
  if (q.status) b.andWhere({ status: q.status });
  if (q.reason) b.andWhere({ reason: q.reason });
  if (q.kind) b.andWhere({ kind: q.kind });
  if (q.subscriberId) b.andWhere({ subscriber_id: q.subscriberId });
  if (q.sessionId !== undefined) b.andWhere({ radacct_id: q.sessionId });
  if (q.nasId) b.andWhere({ nas_id: q.nasId });
  return b.orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
}

/** A session of the tenant, for the staff "disconnect" button. */
export async function findSessionToDisconnect(h: Handle, tenantId: string, radacctId: number) {
  return h('radacct')
    .where({ tenant_id: tenantId, radacctid: radacctId })
    .first<{ radacctid: string; username: string; acctstoptime: Date | null } | undefined>(
      'radacctid',
      'username',
      'acctstoptime',
    );
}

export async function findSubscriberId(h: Handle, tenantId: string, username: string): Promise<string | null> {
  const s = await h('subscribers').where({ tenant_id: tenantId, username }).first('id');
  return s?.id ?? null;
}

export interface SettingsRow {
  expiry_action: 'disconnect' | 'soft_block';
  walled_garden_list: string;
  soft_block_rate_limit: string;
  soft_block_session_timeout: number;
}

export async function findSettings(h: Handle, tenantId: string): Promise<SettingsRow | undefined> {
  return h('tenants').where({ id: tenantId }).first();
}

export async function updateSettings(
  h: Handle,
  tenantId: string,
  row: Record<string, unknown>,
): Promise<SettingsRow | undefined> {
  const [t] = await h('tenants').where({ id: tenantId }).update(row).returning('*');
  return t;
}
