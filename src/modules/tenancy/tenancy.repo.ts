/** Queries of tenants, staff users and API keys: functions of a handle that may be a transaction. */
import type { Handle } from '../../db/knex';
import type { Role } from './principals';

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
  time_zone: string;
  currency: string;
  status: 'active' | 'suspended';
  created_at: Date;
}

export interface UserRow {
  id: string;
  tenant_id: string | null;
  email: string;
  name: string | null;
  password_hash: string;
  role: Role;
  disabled_at: Date | null;
  token_version: number;
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  role: Role;
  created_by: string | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
}

// Tenants

export async function insertTenant(
  h: Handle,
  row: Pick<TenantRow, 'name' | 'slug' | 'time_zone' | 'currency'>,
): Promise<TenantRow> {
  const [t] = await h('tenants').insert(row).returning('*');
  return t;
}

export async function findTenant(h: Handle, id: string): Promise<TenantRow | undefined> {
  return h('tenants').where({ id }).first();
}

export async function findTenantBySlug(h: Handle, slug: string): Promise<TenantRow | undefined> {
  return h('tenants').where({ slug }).first();
}

export function tenantsQuery(h: Handle) {
  return h('tenants')
    .select('*')
    .orderBy([{ column: 'created_at', order: 'desc' }, 'id']);
}

export async function updateTenant(
  h: Handle,
  id: string,
  row: Record<string, unknown>,
): Promise<TenantRow | undefined> {
  const [t] = await h('tenants').where({ id }).update(row).returning('*');
  return t;
}

// Staff users

export async function insertUser(
  h: Handle,
  row: Pick<UserRow, 'tenant_id' | 'email' | 'name' | 'password_hash' | 'role'>,
): Promise<UserRow> {
  const [u] = await h('users').insert(row).returning('*');
  return u;
}

export async function findUser(h: Handle, id: string): Promise<UserRow | undefined> {
  return h('users').where({ id }).first();
}

/** Enabled accounts with this email (any case), with their tenant's status; at one tenant when a slug is given. */
export async function loginCandidates(
  h: Handle,
  email: string,
  tenantSlug?: string,
): Promise<Array<UserRow & { tenant_status: string | null }>> {
  const q = h('users as u')
    .leftJoin('tenants as t', 't.id', 'u.tenant_id')
    .whereRaw('lower(u.email) = lower(?)', [email])
    .whereNull('u.disabled_at')
    .select('u.*', 't.status as tenant_status');
  if (tenantSlug !== undefined) q.andWhere('t.slug', tenantSlug);
  return q;
}

export async function touchLogin(h: Handle, id: string): Promise<void> {
  await h('users').where({ id }).update({ last_login_at: h.fn.now() });
}

/** Ends every token of the user: they all carry the old version. */
export async function bumpTokenVersion(
  h: Handle,
  id: string,
): Promise<{ id: string; tenant_id: string | null } | undefined> {
  const [u] = await h('users')
    .where({ id })
    .update({ token_version: h.raw('token_version + 1'), updated_at: h.fn.now() })
    .returning(['id', 'tenant_id']);
  return u;
}

export function usersQuery(h: Handle, tenantId: string) {
  return h('users').where({ tenant_id: tenantId }).orderBy('created_at').orderBy('id');
}

export async function updateUser(
  h: Handle,
  tenantId: string,
  id: string,
  row: Record<string, unknown>,
): Promise<UserRow | undefined> {
  const [u] = await h('users').where({ id, tenant_id: tenantId }).update(row).returning('*');
  return u;
}

/** What a JWT's user is now: one primary-key lookup on every request. */
export async function findTokenUser(h: Handle, id: string) {
  return h('users as u').leftJoin('tenants as t', 't.id', 'u.tenant_id').where('u.id', id).first<
    | {
        id: string;
        role: Role;
        tenant_id: string | null;
        disabled_at: Date | null;
        token_version: number;
        tenant_status: string | null;
      }
    | undefined
  >('u.id', 'u.role', 'u.tenant_id', 'u.disabled_at', 'u.token_version', 't.status as tenant_status');
}

// API keys

export async function insertApiKey(
  h: Handle,
  row: Pick<ApiKeyRow, 'tenant_id' | 'name' | 'prefix' | 'key_hash' | 'role' | 'created_by' | 'expires_at'>,
): Promise<ApiKeyRow> {
  const [r] = await h('api_keys').insert(row).returning('*');
  return r;
}

export function apiKeysQuery(h: Handle, tenantId: string) {
  return h('api_keys').where({ tenant_id: tenantId }).orderBy('created_at', 'desc').orderBy('id');
}

export async function revokeApiKey(h: Handle, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [r] = await h('api_keys')
    .where({ tenant_id: tenantId, id })
    .update({ revoked_at: h.raw('COALESCE(revoked_at, now())') })
    .returning('*');
  return r;
}

/** A key by its prefix, with its tenant's status and whether its creator is disabled. */
export async function findApiKeyByPrefix(h: Handle, prefix: string) {
  return h('api_keys as k')
    .join('tenants as t', 't.id', 'k.tenant_id')
    .leftJoin('users as c', 'c.id', 'k.created_by')
    .where('k.prefix', prefix)
    .first<
      | {
          id: string;
          role: Role;
          tenant_id: string;
          key_hash: string;
          revoked_at: Date | null;
          expires_at: Date | null;
          tenant_status: string;
          creator_disabled_at: Date | null;
        }
      | undefined
    >(
      'k.id',
      'k.role',
      'k.tenant_id',
      'k.key_hash',
      'k.revoked_at',
      'k.expires_at',
      't.status as tenant_status',
      'c.disabled_at as creator_disabled_at',
    );
}

export async function touchApiKey(h: Handle, id: string): Promise<void> {
  await h('api_keys').where({ id }).update({ last_used_at: h.fn.now() });
}
