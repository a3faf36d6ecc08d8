/** Queries of the captive portal: its settings row, the plans it sells, the tenant's NAS addresses. */
import type { Knex } from 'knex';
import { hashPhone } from '../../mpesa/phone';
import type { PlanRow } from '../plans/plans.repo';

type Handle = Knex | Knex.Transaction;

export interface PortalSettingsRow {
  tenant_id: string;
  display_name: string | null;
  primary_color: string;
  background_color: string;
  hotspot_dns_names: string[];
  paybill: string | null;
  till: string | null;
  support_phone: string | null;
  trial_plan_id: string | null;
  trial_period_hours: number;
  updated_at: Date;
}

export async function findSettings(h: Handle, tenantId: string): Promise<PortalSettingsRow | undefined> {
  return h('portal_settings').where({ tenant_id: tenantId }).first();
}

export interface LogoRow {
  tenant_id: string;
  content_type: string;
  bytes: Buffer;
  sha256: string;
  updated_at: Date;
}

/** The logo's type, size and hash (not its bytes): what the settings show. */
export async function findLogoMeta(
  h: Handle,
  tenantId: string,
): Promise<{ content_type: string; size: number; sha256: string } | undefined> {
  return h('portal_logos')
    .where({ tenant_id: tenantId })
    .first('content_type', 'sha256', h.raw('octet_length(bytes)::int AS size'));
}

export async function findLogo(h: Handle, tenantId: string): Promise<LogoRow | undefined> {
  return h('portal_logos').where({ tenant_id: tenantId }).first();
}

export async function upsertLogo(h: Handle, row: Omit<LogoRow, 'updated_at'>): Promise<void> {
  await h('portal_logos')
    .insert({ ...row, updated_at: h.fn.now() })
    .onConflict('tenant_id')
    .merge({ content_type: row.content_type, bytes: row.bytes, sha256: row.sha256, updated_at: h.fn.now() });
}

export async function deleteLogo(h: Handle, tenantId: string): Promise<void> {
  await h('portal_logos').where({ tenant_id: tenantId }).del();
}

/** Insert or change the row (columns not named keep their value or default). */
export async function upsertSettings(
  h: Handle,
  tenantId: string,
  row: Partial<Omit<PortalSettingsRow, 'tenant_id' | 'updated_at'>>,
): Promise<PortalSettingsRow> {
  const [r] = await h('portal_settings')
    .insert({ tenant_id: tenantId, ...row, updated_at: h.fn.now() })
    .onConflict('tenant_id')
    .merge({ ...row, updated_at: h.fn.now() })
    .returning('*');
  return r as PortalSettingsRow;
}

/** Active plans marked sellable, cheapest first. */
export async function sellablePlans(h: Handle, tenantId: string): Promise<PlanRow[]> {
  return h('plans')
    .where({ tenant_id: tenantId, active: true, sellable: true })
    .orderBy('price')
    .orderBy('duration_seconds')
    .orderBy('id')
    .limit(50);
}

export async function findSellablePlan(h: Handle, tenantId: string, id: string): Promise<PlanRow | undefined> {
  return h('plans').where({ tenant_id: tenantId, id, active: true, sellable: true }).first();
}

/** The addresses (nasname) of the tenant's NAS, lower case. */
export async function nasAddresses(h: Handle, tenantId: string): Promise<string[]> {
  const rows: Array<{ nasname: string }> = await h('nas').where({ tenant_id: tenantId }).select('nasname');
  return rows.map((r) => r.nasname.toLowerCase());
}

/** The portal's own buyer for this phone (username hs-...), the newest if several. */
export async function findWalkInBuyer(
  h: Handle,
  tenantId: string,
  msisdn: string,
): Promise<{ id: string; username: string; status: string } | undefined> {
  return h('subscribers')
    .where({ tenant_id: tenantId, kind: 'account' })
    .andWhereLike('username', 'hs-%')
    .andWhere('phone_hash', hashPhone(msisdn))
    .orderBy('created_at', 'desc')
    .first('id', 'username', 'status');
}

/** The hotspot password FreeRADIUS checks (radcheck Cleartext-Password), for the page's CHAP. */
export async function hotspotPassword(
  h: Handle,
  tenantId: string,
  subscriberId: string,
): Promise<{ username: string; password: string } | undefined> {
  return h('subscribers as s')
    .join('radcheck as c', function () {
      this.on('c.tenant_id', 's.tenant_id').andOn('c.username', 's.username');
    })
    .where({ 's.tenant_id': tenantId, 's.id': subscriberId, 'c.attribute': 'Cleartext-Password' })
    .first('s.username as username', 'c.value as password');
}

/** The sellable plan an amount pays for: the dearest one it covers (the longest of equal price). */
export async function planForAmount(h: Handle, tenantId: string, amount: number): Promise<PlanRow | undefined> {
  return h('plans')
    .where({ tenant_id: tenantId, active: true, sellable: true })
    .andWhere('price', '<=', amount)
    .orderBy('price', 'desc')
    .orderBy('duration_seconds', 'desc')
    .orderBy('id')
    .first();
}

/** When the subscriber's covering period ends (lango_covering_subscription), or null. */
export async function coveredUntil(h: Handle, subscriberId: string, at: Date): Promise<Date | null> {
  const r = await h.raw<{ rows: Array<{ ends_at: Date }> }>(
    'SELECT ends_at FROM lango_covering_subscription(?::uuid, ?::timestamptz)',
    [subscriberId, at],
  );
  return r.rows[0]?.ends_at ?? null;
}

/** The user's open sessions (radacct), oldest first, with the device each came from. */
export async function openSessions(
  h: Handle,
  tenantId: string,
  username: string,
): Promise<Array<{ radacctid: number; mac: string | null }>> {
  const r = await h.raw<{ rows: Array<{ radacctid: string; mac: string | null }> }>(
    `SELECT a.radacctid, lango_mac(a.callingstationid) AS mac FROM radacct a
     WHERE a.tenant_id = ? AND a.username = ? AND a.acctstoptime IS NULL
     ORDER BY a.acctstarttime, a.radacctid`,
    [tenantId, username],
  );
  return r.rows.map((x) => ({ radacctid: Number(x.radacctid), mac: x.mac }));
}

/**
 * A trial. When this device or this phone had one whose period overlaps, the exclusion
 * constraints (portal_trials_device_once / _phone_once) refuse it, race-safe: trialConflict()
 * reads which from the error.
 */
export async function insertTrial(
  h: Handle,
  row: { tenant_id: string; mac_address: string; phone_hash: string; subscriber_id: string; plan_id: string },
  from: Date,
  until: Date,
): Promise<void> {
  await h('portal_trials').insert({
    ...row,
    blocks: h.raw("tstzrange(?::timestamptz, ?::timestamptz, '[)')", [from, until]),
  });
}

/** Which of the trial's limits a failed insertTrial() hit, if that was the cause. */
export function trialConflict(err: unknown): 'device' | 'phone' | undefined {
  const e = err as { code?: string; constraint?: string };
  if (e?.code !== '23P01') return undefined;
  if (e.constraint === 'portal_trials_device_once') return 'device';
  if (e.constraint === 'portal_trials_phone_once') return 'phone';
  return undefined;
}
