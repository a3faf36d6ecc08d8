/** Queries of plans and of their FreeRADIUS groups (radgroupreply/radgroupcheck). */
import type { Handle } from '../../db/knex';

export interface PlanRow {
  id: string;
  tenant_id: string;
  name: string;
  groupname: string;
  price: number;
  duration_seconds: number;
  data_quota_bytes: string | number | null;
  rate_limit: string | null;
  session_timeout_seconds: number | null;
  idle_timeout_seconds: number | null;
  simultaneous_use: number;
  interim_interval_seconds: number;
  active: boolean;
  sellable: boolean;
  /** Expiry reminder lead time (payments' SMS), seconds; null: no reminder. */
  reminder_lead_seconds: number | null;
  created_at: Date;
  updated_at: Date;
}

export async function insertPlan(h: Handle, row: Omit<PlanRow, 'created_at' | 'updated_at'>): Promise<PlanRow> {
  const [p] = await h('plans').insert(row).returning('*');
  return p;
}

export async function findPlan(h: Handle, tenantId: string, id: string): Promise<PlanRow | undefined> {
  return h('plans').where({ tenant_id: tenantId, id }).first();
}

export function plansQuery(h: Handle, tenantId: string, q: { active?: boolean | undefined }) {
  const b = h('plans').where({ tenant_id: tenantId }).orderBy('name').orderBy('id');
  if (q.active !== undefined) b.andWhere({ active: q.active });
  return b;
}

export async function updatePlan(
  h: Handle,
  tenantId: string,
  id: string,
  row: Record<string, unknown>,
): Promise<PlanRow | undefined> {
  const [p] = await h('plans').where({ tenant_id: tenantId, id }).update(row).returning('*');
  return p;
}

/** Refused while subscribers are on the plan (subscribers_plan_id_fkey: PLAN_IN_USE). */
export async function deletePlan(h: Handle, tenantId: string, id: string): Promise<void> {
  await h('plans').where({ tenant_id: tenantId, id }).del();
}

type GroupRow = { tenant_id: string; groupname: string; attribute: string; op: string; value: string };

/** The group's rows, replaced. */
export async function writeGroup(
  h: Handle,
  tenantId: string,
  groupname: string,
  rows: { reply: GroupRow[]; check: GroupRow[] },
): Promise<void> {
  await deleteGroupRows(h, tenantId, groupname);
  await h('radgroupreply').insert(rows.reply);
  await h('radgroupcheck').insert(rows.check);
}

export async function deleteGroupRows(h: Handle, tenantId: string, groupname: string): Promise<void> {
  await h('radgroupreply').where({ tenant_id: tenantId, groupname }).del();
  await h('radgroupcheck').where({ tenant_id: tenantId, groupname }).del();
}

/** Members of the group (radusergroup), for a plan being deleted. */
export async function deleteGroupMembers(h: Handle, tenantId: string, groupname: string): Promise<void> {
  await h('radusergroup').where({ tenant_id: tenantId, groupname }).del();
}
