/**
 * Least privilege in PostgreSQL (issue: a stored password once ran SQL as FreeRADIUS's role,
 * which was a superuser). Three roles:
 *
 *   owner   owns every Lango object (NOLOGIN `lango_owner` when migrations run as a superuser,
 *           otherwise the non-superuser that runs them). The rlm_sql entry points are
 *           SECURITY DEFINER functions, so they run as this role: it must never be a superuser.
 *   app     the API's and the worker's login (DATABASE_URL): reads and writes Lango's tables
 *           (not the migration bookkeeping), executes Lango's functions, nothing else. Not a
 *           superuser, no CREATEDB/CREATEROLE/replication.
 *   radius  FreeRADIUS's login (LANGO_RADIUS_DATABASE_URL): EXECUTE on the functions
 *           freeradius/mods-config/sql/main/postgresql/queries.conf and the dynamic-clients server
 *           call, and nothing else: no table, no sequence, no other function.
 *
 * applyPrivileges() runs after every `lango migrate` (idempotent): it creates missing roles when
 * it may, gives every object to the owner, and sets the grants from scratch, so an object added
 * by a later migration is covered without anyone remembering to grant it. Database-wide it also
 * revokes TEMPORARY and CREATE from PUBLIC (nothing outside Lango's tables can be written) and,
 * when run as a superuser, server-side large-object creation.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { parsePostgresUrl } from '../freeradius/conninfo';
import { withTransaction } from './knex';

/** Functions FreeRADIUS calls (queries.conf and sites-available/dynamic-clients). */
export const RADIUS_ENTRY_POINTS = [
  'lango_authorize(text, text, text, text)',
  'lango_authorize_reply(text, text)',
  'lango_user_groups(text, text)',
  'lango_postauth(text, text, text, text, text, text, text, text)',
  'lango_acct(text, text, text, text, text, text, text, text, text, text, bigint, bigint, bigint, bigint, bigint, bigint, text, text, text, text, text, text, text, text, text, text, text, text, text)',
  'lango_client_secret(text)',
  'lango_client_require_ma(text)',
  'lango_voucher_login(text, text, text)',
  // Not called by FreeRADIUS: `lango radius` says FreeRADIUS answered its probe (src/db/heartbeats.ts).
  'lango_heartbeat(text, text)',
] as const;

export const OWNER_ROLE = 'lango_owner';
/** NOLOGIN group of the tenant report roles: USAGE on schema reports, SELECT on its views. */
export const REPORTS_GROUP = 'lango_reports';

export interface LoginRole {
  name: string;
  /** Set (or reset) the role's password when given. */
  password?: string;
}

export interface DatabaseRoles {
  app?: LoginRole;
  radius?: LoginRole;
}

export class DatabaseRoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseRoleError';
  }
}

/** The login role (user and password) a postgres:// URL names. */
export function loginRoleOf(url: string): LoginRole {
  const params = new Map(parsePostgresUrl(url).params);
  const name = params.get('user');
  if (!name) throw new DatabaseRoleError('the database URL names no user');
  const password = params.get('password');
  return password === undefined ? { name } : { name, password };
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** CREATE ROLE that tolerates a concurrent creator (the role is cluster-wide). */
async function ensureRole(db: Knex, name: string, login: boolean): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const exists = await db.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [name]);
    if (exists.rows.length > 0) return;
    try {
      await db.raw(
        `CREATE ROLE ${ident(name)} ${login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION`,
      );
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // 42710 duplicate_object, 23505 unique_violation: created by someone else meanwhile.
      if ((code === '42710' || code === '23505') && attempt < 3) continue;
      if (code === '42501') {
        throw new DatabaseRoleError(
          `role ${name} does not exist and ${'the migrating role'} may not create roles: create it first ` +
            `(CREATE ROLE ${name} ${login ? 'LOGIN PASSWORD ...' : 'NOLOGIN'}) or run lango migrate as a superuser`,
        );
      }
      throw err;
    }
  }
}

async function setPassword(db: Knex, role: LoginRole): Promise<void> {
  if (role.password === undefined) return;
  const cur = await db.raw('SELECT rolcanlogin FROM pg_roles WHERE rolname = ?', [role.name]);
  for (let attempt = 0; ; attempt++) {
    try {
      await db.raw(
        `ALTER ROLE ${ident(role.name)} ${cur.rows[0]?.rolcanlogin ? '' : 'LOGIN'} PASSWORD ${literal(role.password)}`,
      );
      return;
    } catch (err) {
      // "tuple concurrently updated" when two processes set it at once: retry.
      if ((err as { code?: string }).code === 'XX000' && attempt < 3) continue;
      throw err;
    }
  }
}

async function isSuperuser(db: Knex, role: string): Promise<boolean> {
  const r = await db.raw('SELECT rolsuper FROM pg_roles WHERE rolname = ?', [role]);
  return r.rows[0]?.rolsuper === true;
}

/** Refuse roles that would defeat the point (a superuser app or FreeRADIUS login). */
async function checkLoginRole(db: Knex, kind: string, role: LoginRole, migrator: string): Promise<void> {
  if (role.name === migrator)
    throw new DatabaseRoleError(`the ${kind} role (${role.name}) must not be the role that runs the migrations`);
  const r = await db.raw(
    'SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = ?',
    [role.name],
  );
  const row = r.rows[0];
  if (row && (row.rolsuper || row.rolcreaterole || row.rolcreatedb || row.rolreplication || row.rolbypassrls)) {
    throw new DatabaseRoleError(
      `the ${kind} role (${role.name}) must not be a superuser or hold CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS`,
    );
  }
}

export async function applyPrivileges(db: Knex, roles: DatabaseRoles): Promise<{ owner: string }> {
  const me: string = (await db.raw('SELECT current_user AS u')).rows[0].u;
  const superuser = await isSuperuser(db, me);
  const owner = superuser ? OWNER_ROLE : me;
  if (superuser) await ensureRole(db, OWNER_ROLE, false);
  for (const [kind, role] of Object.entries(roles) as Array<[string, LoginRole | undefined]>) {
    if (!role) continue;
    await checkLoginRole(db, kind, role, me);
    await ensureRole(db, role.name, true);
    await setPassword(db, role);
  }

  // The group every report role (`lango report-role create`) is a member of; without the right
  // to create it, report roles are not available (the API still reads the views).
  let reportsGroup: string | undefined;
  try {
    await ensureRole(db, REPORTS_GROUP, false);
    reportsGroup = REPORTS_GROUP;
  } catch (err) {
    if (!(err instanceof DatabaseRoleError)) throw err;
  }

  await withTransaction(db, async (trx) => {
    // Serialise concurrent runs on one database (two `lango migrate` at once).
    await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('lango:privileges'))`);
    if (superuser) {
      const objects = await trx.raw(
        `SELECT format('ALTER %s %s OWNER TO %I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, c.oid::regclass, ?::text) AS stmt
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('public', 'reports') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
           AND pg_get_userbyid(c.relowner) <> ?
         UNION ALL
         SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, ?::text)
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> ?`,
        [owner, owner, owner, owner],
      );
      for (const { stmt } of objects.rows as Array<{ stmt: string }>) await trx.raw(stmt);
      await trx.raw(
        `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'reports') THEN EXECUTE format('ALTER SCHEMA reports OWNER TO %I', ${literal(owner)}); END IF; END $$`,
      );
      // Large objects are storage outside Lango's tables that any role may create by default.
      await trx.raw(
        `REVOKE EXECUTE ON FUNCTION lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea), lo_import(text), lo_import(text, oid) FROM PUBLIC`,
      );
    }
    await trx.raw(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    // radacct's monthly partitions are made by lango_radacct_partition (SECURITY DEFINER, run by
    // the worker as app): creating a partition of radacct needs its owner and CREATE on the schema
    // (decisions.md 78). The owner already owns, and may drop, every table here.
    if (superuser) await trx.raw(`GRANT CREATE ON SCHEMA public TO ${ident(owner)}`);
    await trx.raw(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC`);
    await applyDatabasePrivileges(trx, roles);

    const { app, radius } = roles;
    if (app) {
      const a = ident(app.name);
      await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${a}`);
      await trx.raw(`GRANT USAGE ON SCHEMA public TO ${a}`);
      await trx.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${a}`);
      await trx.raw(`REVOKE ALL ON lango_migrations, lango_migrations_lock FROM ${a}`);
      await trx.raw(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${a}`);
      await trx.raw(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${a}`);
    }
    await grantReports(trx, reportsGroup, app?.name);
    if (radius) {
      const r = ident(radius.name);
      await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`);
      await trx.raw(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${r}`);
      await trx.raw(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM ${r}`);
      await trx.raw(`GRANT USAGE ON SCHEMA public TO ${r}`);
      for (const fn of RADIUS_ENTRY_POINTS) await trx.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO ${r}`);
    }
  });
  return { owner };
}

/**
 * Schema reports: the application role and the report roles' group read its views, nothing
 * else; the views decide which tenants' rows a login sees (lango_report_tenants()).
 */
async function grantReports(trx: Knex.Transaction, group: string | undefined, app: string | undefined): Promise<void> {
  const has = await trx.raw(`SELECT 1 FROM pg_namespace WHERE nspname = 'reports'`);
  if (has.rows.length === 0) return;
  await trx.raw(`REVOKE ALL ON SCHEMA reports FROM PUBLIC`);
  await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA reports FROM PUBLIC`);
  if (group) {
    const g = ident(group);
    await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${g}`);
    await trx.raw(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM ${g}`);
    await trx.raw(`GRANT USAGE ON SCHEMA reports TO ${g}`);
    await trx.raw(`GRANT SELECT ON ALL TABLES IN SCHEMA reports TO ${g}`);
    await trx.raw(`GRANT EXECUTE ON FUNCTION lango_report_tenants() TO ${g}`);
  }
  if (app) {
    await trx.raw(`GRANT USAGE ON SCHEMA reports TO ${ident(app)}`);
    await trx.raw(`GRANT SELECT ON ALL TABLES IN SCHEMA reports TO ${ident(app)}`);
  }
}

/**
 * The database-level part: nobody but the owner creates schemas or temporary tables; the login
 * roles may connect. (Database ACLs are not copied by CREATE DATABASE ... TEMPLATE, so a copy of
 * a migrated database needs this again.)
 */
export async function applyDatabasePrivileges(h: Knex | Knex.Transaction, roles: DatabaseRoles): Promise<void> {
  const db: string = (await h.raw('SELECT current_database() AS d')).rows[0].d;
  await h.raw(`REVOKE TEMPORARY, CREATE ON DATABASE ${ident(db)} FROM PUBLIC`);
  for (const role of [roles.app, roles.radius])
    if (role) await h.raw(`GRANT CONNECT ON DATABASE ${ident(db)} TO ${ident(role.name)}`);
}

export interface StackDatabase {
  /** Runs the migrations and creates the roles. */
  adminUrl: string;
  /** API and worker. */
  appUrl: string;
  /** FreeRADIUS. */
  radiusUrl: string;
  roles: Required<DatabaseRoles>;
  /** Where the generated passwords are kept (for people who need the URLs). */
  passwordFile: string;
}

/**
 * The three connections of a stack started by `lango up` from one administrative URL: the login
 * roles lango_app and lango_radius on the same server and database, with random passwords kept
 * in <stateDir>/database-roles.json (mode 0600) so later runs and other processes reconnect.
 */
export function stackDatabase(adminUrl: string, stateDir: string): StackDatabase {
  const passwordFile = path.join(stateDir, 'database-roles.json');
  let saved: { app: LoginRole; radius: LoginRole } | undefined;
  if (existsSync(passwordFile)) saved = JSON.parse(readFileSync(passwordFile, 'utf8'));
  if (!saved?.app?.password || !saved.radius?.password) {
    saved = {
      app: { name: 'lango_app', password: randomBytes(18).toString('base64url') },
      radius: { name: 'lango_radius', password: randomBytes(18).toString('base64url') },
    };
    writeFileSync(passwordFile, JSON.stringify(saved, null, 2), { mode: 0o600 });
  }
  const urlOf = (role: LoginRole) => {
    const u = new URL(adminUrl);
    u.username = encodeURIComponent(role.name);
    u.password = encodeURIComponent(role.password ?? '');
    return u.toString();
  };
  return { adminUrl, appUrl: urlOf(saved.app), radiusUrl: urlOf(saved.radius), roles: saved, passwordFile };
}

/**
 * The API and the worker refuse to run as a superuser (or with cluster-level rights) in
 * production: that role is what a bug in Lango would act with. Outside production they warn.
 */
export async function checkApplicationRole(db: Knex, mode: string, warn: (msg: string) => void): Promise<void> {
  const r = await db.raw(
    'SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user',
  );
  const row = r.rows[0];
  if (!row || !(row.rolsuper || row.rolcreaterole || row.rolcreatedb || row.rolreplication || row.rolbypassrls)) return;
  const msg = `DATABASE_URL connects as ${row.name}, which is a superuser or holds cluster-level rights; use an application role (see README, "Database roles")`;
  if (mode === 'production') throw new DatabaseRoleError(msg);
  warn(msg);
}
