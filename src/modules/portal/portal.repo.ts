/** Queries of the captive portal: its settings row, the plans it sells, the tenant's NAS addresses. */
import type { Knex } from 'knex';
import { hashPhone } from '../../mpesa/phone';
import type { PlanRow } from '../plans/plans.repo';

type Handle = Knex | Knex.Transaction;

export interface PortalSettingsRow {
  tenant_id: string;
  display_name: string | null;
  logo_data_url: string | null;
  primary_color: string;
  background_color: string;
  hotspot_dns_names: string[];
  paybill: string | null;
  till: string | null;
  support_phone: string | null;
  updated_at: Date;
}

export async function findSettings(h: Handle, tenantId: string): Promise<PortalSettingsRow | undefined> {
  return h('portal_settings').where({ tenant_id: tenantId }).first();
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
