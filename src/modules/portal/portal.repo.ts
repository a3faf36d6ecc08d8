/** Queries of the captive portal: its settings row, the plans it sells, the tenant's NAS addresses. */
import type { Knex } from 'knex';
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
export async function upsertSettings(h: Handle, tenantId: string, row: Partial<Omit<PortalSettingsRow, 'tenant_id' | 'updated_at'>>): Promise<PortalSettingsRow> {
  const [r] = await h('portal_settings')
    .insert({ tenant_id: tenantId, ...row, updated_at: h.fn.now() })
    .onConflict('tenant_id')
    .merge({ ...row, updated_at: h.fn.now() })
    .returning('*');
  return r as PortalSettingsRow;
}

/** Active plans marked sellable, cheapest first. */
export async function sellablePlans(h: Handle, tenantId: string): Promise<PlanRow[]> {
  return h('plans').where({ tenant_id: tenantId, active: true, sellable: true }).orderBy('price').orderBy('duration_seconds').orderBy('id').limit(50);
}

export async function findSellablePlan(h: Handle, tenantId: string, id: string): Promise<PlanRow | undefined> {
  return h('plans').where({ tenant_id: tenantId, id, active: true, sellable: true }).first();
}

/** The addresses (nasname) of the tenant's NAS, lower case. */
export async function nasAddresses(h: Handle, tenantId: string): Promise<string[]> {
  const rows: Array<{ nasname: string }> = await h('nas').where({ tenant_id: tenantId }).select('nasname');
  return rows.map((r) => r.nasname.toLowerCase());
}
