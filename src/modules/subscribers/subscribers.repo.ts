/**
 * Queries of subscribers and subscriptions, and of what FreeRADIUS reads for a subscriber:
 *   radcheck      Cleartext-Password (PAP, CHAP and MS-CHAPv2 all need the clear text)
 *   radusergroup  the plan's group
 *   radreply      Framed-IP-Address for a static IP
 */
import type { Knex } from 'knex';
import type { Handle } from '../../db/knex';

export interface SubscriberRow {
  id: string;
  tenant_id: string;
  username: string;
  status: 'active' | 'suspended';
  suspended_reason: string | null;
  plan_id: string | null;
  full_name: string | null;
  phone: string | null;
  email: string | null;
  mac_address: string | null;
  static_ip: string | null;
  notes: string | null;
  /** The reference a buyer types to pay by M-Pesa paybill (payments: C2B by account). */
  account_number: string;
  /** End of the latest active subscription (selected with the row). */
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface SubscriptionRow {
  id: string;
  plan_id: string | null;
  plan_name: string;
  price: number;
  data_quota_bytes: string | number | null;
  session_timeout_seconds: number | null;
  starts_at: Date;
  ends_at: Date;
  status: string;
  source: string;
  created_at: Date;
}

const EXPIRES_AT = `(SELECT max(sb.ends_at) FROM subscriptions sb WHERE sb.subscriber_id = s.id AND sb.status = 'active') AS expires_at`;

export async function findSubscriber(h: Handle, tenantId: string, id: string): Promise<SubscriberRow | undefined> {
  return h('subscribers as s')
    .select('s.*', h.raw(EXPIRES_AT))
    .where('s.tenant_id', tenantId)
    .andWhere('s.id', id)
    .first();
}

/** Locks the subscriber's row for the rest of the transaction (renewals and plan changes in turn). */
export async function lockSubscriber(trx: Knex.Transaction, tenantId: string, id: string): Promise<void> {
  await trx('subscribers').where({ tenant_id: tenantId, id }).forUpdate().first('id');
}

export function subscribersQuery(
  h: Handle,
  tenantId: string,
  q: {
    status?: string | undefined;
    planId?: string | undefined;
    q?: string | undefined;
    expired?: boolean | undefined;
  },
) {
  // Vouchers are subscribers of kind 'voucher' (modules/vouchers), listed by /vouchers.
  const b = h('subscribers as s').where('s.tenant_id', tenantId).andWhere('s.kind', 'account');
  if (q.status) b.andWhere('s.status', q.status);
  if (q.planId) b.andWhere('s.plan_id', q.planId);
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    b.andWhere((w) => w.whereILike('s.username', like).orWhereILike('s.full_name', like).orWhereILike('s.phone', like));
  }
  if (q.expired !== undefined) {
    const active = h.raw(`EXISTS (SELECT 1 FROM lango_covering_subscription(s.id, now()))`);
    if (q.expired) b.andWhereNot(active);
    else b.andWhere(active);
  }
  return b.select('s.*', h.raw(EXPIRES_AT)).orderBy([
    { column: 's.created_at', order: 'desc' },
    { column: 's.id', order: 'desc' },
  ]);
}

/** A username taken in the tenant is SUBSCRIBER_EXISTS (subscribers_tenant_id_username_key). */
export async function insertSubscriber(
  h: Handle,
  row: Pick<
    SubscriberRow,
    'tenant_id' | 'username' | 'plan_id' | 'full_name' | 'phone' | 'email' | 'mac_address' | 'static_ip' | 'notes'
  >,
): Promise<{ id: string }> {
  const [r] = await h('subscribers').insert(row).returning('id');
  return r;
}

export async function updateSubscriber(
  h: Handle,
  tenantId: string,
  id: string,
  row: Record<string, unknown>,
): Promise<void> {
  await h('subscribers').where({ tenant_id: tenantId, id }).update(row);
}

export async function deleteSubscriber(h: Handle, tenantId: string, id: string): Promise<void> {
  await h('subscribers').where({ tenant_id: tenantId, id }).del();
}

// Subscriptions

export async function insertSubscription(
  h: Handle,
  row: Omit<SubscriptionRow, 'id' | 'status' | 'created_at' | 'data_quota_bytes'> & {
    tenant_id: string;
    subscriber_id: string;
    data_quota_bytes: number | null;
  },
): Promise<SubscriptionRow> {
  const [r] = await h('subscriptions').insert(row).returning('*');
  return r;
}

/**
 * Sessions already open keep counting toward the period they started in (see
 * db/sql/functions/lango_snapshot_baselines.v1.sql); the worker repeats this at the start.
 */
export async function snapshotBaselines(h: Handle, subscriptionId: string): Promise<void> {
  await h.raw('SELECT lango_snapshot_baselines(?)', [subscriptionId]);
}

/** The end of the subscriber's last active period (null: none). */
export async function lastActiveEnd(h: Handle, subscriberId: string): Promise<Date | null> {
  const last = await h('subscriptions')
    .where({ subscriber_id: subscriberId, status: 'active' })
    .max<{ max: Date | null }[]>({ max: 'ends_at' });
  return last[0]?.max ? new Date(last[0].max) : null;
}

/** Future periods are cancelled; the running one is cut at `now`. */
export async function endPeriodsAt(h: Handle, subscriberId: string, now: Date): Promise<void> {
  await h('subscriptions')
    .where({ subscriber_id: subscriberId, status: 'active' })
    .andWhere('starts_at', '>', now)
    .update({ status: 'cancelled' });
  await h('subscriptions')
    .where({ subscriber_id: subscriberId, status: 'active' })
    .andWhere('ends_at', '>', now)
    .update({ ends_at: now });
}

export function subscriptionsQuery(h: Handle, tenantId: string, subscriberId: string) {
  return h('subscriptions').where({ tenant_id: tenantId, subscriber_id: subscriberId }).orderBy('starts_at', 'desc');
}

// What FreeRADIUS reads

export async function setPassword(h: Handle, tenantId: string, username: string, password: string): Promise<void> {
  await h('radcheck').where({ tenant_id: tenantId, username, attribute: 'Cleartext-Password' }).del();
  await h('radcheck').insert({
    tenant_id: tenantId,
    username,
    attribute: 'Cleartext-Password',
    op: ':=',
    value: password,
  });
}

export async function setGroup(h: Handle, tenantId: string, username: string, groupname: string | null): Promise<void> {
  await h('radusergroup').where({ tenant_id: tenantId, username }).del();
  if (groupname) await h('radusergroup').insert({ tenant_id: tenantId, username, groupname, priority: 1 });
}

export async function setStaticIp(h: Handle, tenantId: string, username: string, ip: string | null): Promise<void> {
  await h('radreply').where({ tenant_id: tenantId, username, attribute: 'Framed-IP-Address' }).del();
  if (ip)
    await h('radreply').insert({ tenant_id: tenantId, username, attribute: 'Framed-IP-Address', op: ':=', value: ip });
}

/** Every FreeRADIUS row that could let the user in (radacct, the usage record, stays). */
export async function deleteRadiusRows(h: Handle, tenantId: string, username: string): Promise<void> {
  for (const t of ['radcheck', 'radreply', 'radusergroup']) await h(t).where({ tenant_id: tenantId, username }).del();
}
