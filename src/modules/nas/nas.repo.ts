/** Queries of FreeRADIUS's nas table (Lango's columns added), scoped to a tenant unless said. */
import type { Knex } from 'knex';
import type { Handle } from '../../db/knex';

export interface NasRow {
  id: string;
  tenant_id: string;
  nasname: string;
  identifier: string | null;
  shortname: string;
  secret: string;
  kind: string;
  coa_port: number;
  description: string | null;
  api_username: string | null;
  api_password: string | null;
  api_port: number;
  api_tls: boolean;
  require_message_authenticator: boolean;
  approved_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export async function findNas(h: Handle, tenantId: string, id: string): Promise<NasRow | undefined> {
  return h('nas').where({ tenant_id: tenantId, id }).first();
}

/** By id alone: platform admins approving across tenants. */
export async function findNasById(h: Handle, id: string): Promise<NasRow | undefined> {
  return h('nas').where({ id }).first();
}

export function nasQuery(h: Handle, tenantId: string, q: { kind?: string | undefined; address?: string | undefined }) {
  const b = h('nas').where({ tenant_id: tenantId }).orderBy('shortname').orderBy('id');
  if (q.kind) b.andWhere({ kind: q.kind });
  if (q.address) b.andWhere({ nasname: q.address });
  return b;
}

/** Across tenants, with the tenant's name. */
export function pendingApprovalsQuery(h: Handle) {
  return h('nas as n')
    .join('tenants as t', 't.id', 'n.tenant_id')
    .whereNull('n.approved_at')
    .select('n.*', 't.name as tenant_name')
    .orderBy('n.created_at')
    .orderBy('n.id');
}

/** Serialises the address-sharing rules per address until the transaction ends. */
export async function lockAddress(trx: Knex.Transaction, address: string): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`nas:${address}`]);
}

/** Every other NAS at this address, any tenant. */
export async function nasAtAddress(
  h: Handle,
  address: string,
  exceptId?: string,
): Promise<Array<Pick<NasRow, 'tenant_id' | 'identifier' | 'secret' | 'approved_at'>>> {
  return h('nas')
    .where({ nasname: address })
    .modify((b) => {
      if (exceptId) b.whereNot({ id: exceptId });
    });
}

export async function insertNas(h: Handle, row: Record<string, unknown>): Promise<NasRow> {
  const [r] = await h('nas').insert(row).returning('*');
  return r;
}

export async function updateNas(
  h: Handle,
  where: { id: string; tenant_id?: string },
  row: Record<string, unknown>,
): Promise<NasRow> {
  const [r] = await h('nas').where(where).update(row).returning('*');
  return r;
}

export async function deleteNas(h: Handle, tenantId: string, id: string): Promise<NasRow | undefined> {
  const [r] = await h('nas').where({ tenant_id: tenantId, id }).del().returning('*');
  return r;
}

/** The tenant's name and slug, for the provisioning script. */
export async function findTenantName(h: Handle, tenantId: string): Promise<{ name: string; slug: string } | undefined> {
  return h('tenants').where({ id: tenantId }).first('name', 'slug');
}
