/**
 * Report roles: read-only PostgreSQL logins for psql, Metabase or Grafana that see one tenant's
 * rows through the views of schema reports and nothing else. A report role
 *  - is a member of lango_reports (src/db/roles.ts grants that group USAGE on schema reports,
 *    SELECT on its views and EXECUTE on lango_report_tenants(), nothing in public);
 *  - is registered in report_roles with its tenant; every view filters on
 *    lango_report_tenants(), which reads that table (SECURITY DEFINER) for session_user. The
 *    role cannot change either: it may not write report_roles, cannot SET ROLE (no other
 *    membership) nor SET SESSION AUTHORIZATION (not a superuser), and has no CREATE anywhere, so
 *    it cannot define a function or view to get around the views' security barrier.
 * Made with the migrating connection (it needs CREATEROLE), like `lango migrate`.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { REPORTS_GROUP } from '../../db/roles';

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface ReportRole {
  role: string;
  password: string;
  tenantId: string;
  tenantSlug: string;
  database: string;
}

/** The tenant by id or slug. */
async function tenantOf(h: Knex | Knex.Transaction, ref: string): Promise<{ id: string; slug: string }> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
  const r = await h.raw(`SELECT id, slug FROM tenants WHERE ${isUuid ? 'id = ?::uuid' : 'slug = ?'}`, [ref]);
  if (!r.rows[0]) throw new AppError('TENANT_NOT_FOUND', `no tenant with id or slug ${ref}`);
  return r.rows[0];
}

export async function createReportRole(
  db: Knex,
  o: { tenant: string; name?: string; password?: string },
): Promise<ReportRole> {
  const group = await db.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [REPORTS_GROUP]);
  if (!group.rows[0])
    throw new AppError(
      'INVALID_STATE',
      `role ${REPORTS_GROUP} does not exist: run lango migrate as a role that may create roles`,
    );
  const tenant = await tenantOf(db, o.tenant);
  const name = o.name ?? `lango_report_${tenant.slug.replace(/-/g, '_')}_${randomBytes(3).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new AppError('VALIDATION_FAILED', 'a report role name is 1-63 of a-z, 0-9 and _, not starting with a digit');
  const password = o.password ?? randomBytes(18).toString('base64url');
  return withTransaction(db, async (trx) => {
    const exists = await trx.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [name]);
    if (exists.rows[0]) throw new AppError('CONFLICT', `role ${name} already exists`);
    const database: string = (await trx.raw('SELECT current_database() AS d')).rows[0].d;
    await trx.raw(
      `CREATE ROLE ${ident(name)} LOGIN PASSWORD ${literal(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT IN ROLE ${ident(REPORTS_GROUP)}`,
    );
    await trx.raw(`ALTER ROLE ${ident(name)} SET search_path = reports`);
    await trx.raw(`ALTER ROLE ${ident(name)} SET default_transaction_read_only = on`);
    await trx.raw(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(name)}`);
    await trx.raw('INSERT INTO report_roles (role_name, tenant_id) VALUES (?, ?)', [name, tenant.id]);
    return { role: name, password, tenantId: tenant.id, tenantSlug: tenant.slug, database };
  });
}

export async function dropReportRole(db: Knex, name: string): Promise<void> {
  await withTransaction(db, async (trx) => {
    const r = await trx.raw('DELETE FROM report_roles WHERE role_name = ? RETURNING role_name', [name]);
    if (!r.rows[0]) throw new AppError('NOT_FOUND', `${name} is not a report role`);
    const database: string = (await trx.raw('SELECT current_database() AS d')).rows[0].d;
    await trx.raw(`REVOKE ALL ON DATABASE ${ident(database)} FROM ${ident(name)}`);
    await trx.raw(`DROP ROLE ${ident(name)}`);
  });
}

export async function listReportRoles(db: Knex): Promise<Array<{ role: string; tenantId: string; createdAt: string }>> {
  const r = await db.raw('SELECT role_name, tenant_id, created_at FROM report_roles ORDER BY created_at, role_name');
  return r.rows.map((x: { role_name: string; tenant_id: string; created_at: Date }) => ({
    role: x.role_name,
    tenantId: x.tenant_id,
    createdAt: x.created_at.toISOString(),
  }));
}
