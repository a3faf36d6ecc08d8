import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Reports (docs/reports.md): the `reports` schema of views an admin can query from psql or a BI
 * tool, the rollups they read instead of raw accounting, and tenant-scoped report roles.
 *
 *  - usage_daily: per tenant, tenant day, user and NAS, kept by a row trigger on radacct
 *    (lango_usage_rollup: the difference of each counter change lands on the day the packet
 *    arrived). Back-filled here from the existing radacct, each session on the day of its last
 *    update (the per-interim split of the past is not known).
 *  - auth_daily: per tenant, tenant day, reply and reason, kept by a row trigger on radpostauth;
 *    back-filled from radpostauth.
 *  - nas_acct_state: Accounting-On/Off counts per NAS (lango_acct_do v3).
 *  - report_roles: the login roles `lango report-role create` made, and their one tenant
 *    (lango_report_tenants(), used by every view).
 *
 * Tenants' time zones are read when a row is counted; a tenant that changes its time zone keeps
 * its past days as they were counted.
 */
const FUNCTIONS = [
  ['lango_usage_rollup', 1],
  ['lango_auth_rollup', 1],
  ['lango_report_tenants', 1],
  ['lango_acct_do', 3],
] as const;

export const REPORT_VIEWS = [
  'usage_daily',
  'usage_nas_daily',
  'usage_monthly',
  'top_users',
  'active_sessions',
  'auth_outcomes',
  'auth_failures',
  'nas_health',
  'enforcement_outcomes',
] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE usage_daily (
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      day date NOT NULL,
      username text NOT NULL,
      -- The nil uuid for sessions whose NAS was deleted (a primary key column cannot be NULL).
      nas_id uuid NOT NULL,
      input_octets bigint NOT NULL DEFAULT 0,
      output_octets bigint NOT NULL DEFAULT 0,
      session_seconds bigint NOT NULL DEFAULT 0,
      sessions integer NOT NULL DEFAULT 0,
      last_seen_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, day, username, nas_id)
    );
    CREATE INDEX usage_daily_nas_day_idx ON usage_daily (nas_id, day);
    CREATE INDEX usage_daily_tenant_user_day_idx ON usage_daily (tenant_id, username, day);

    CREATE TABLE auth_daily (
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      day date NOT NULL,
      reply text NOT NULL,
      reason text NOT NULL,
      attempts bigint NOT NULL DEFAULT 0,
      last_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, day, reply, reason)
    );

    CREATE TABLE nas_acct_state (
      nas_id uuid PRIMARY KEY REFERENCES nas(id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      accounting_on_count bigint NOT NULL DEFAULT 0,
      accounting_off_count bigint NOT NULL DEFAULT 0,
      last_on_off text NOT NULL,
      last_on_off_at timestamptz NOT NULL
    );

    CREATE TABLE report_roles (
      role_name text PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX report_roles_tenant_idx ON report_roles (tenant_id);

    INSERT INTO usage_daily (tenant_id, day, username, nas_id, input_octets, output_octets, session_seconds, sessions, last_seen_at)
    SELECT a.tenant_id, (coalesce(a.acctupdatetime, a.acctstoptime, a.acctstarttime, now()) AT TIME ZONE t.time_zone)::date,
           coalesce(a.username, ''), coalesce(a.nas_id, '00000000-0000-0000-0000-000000000000'::uuid),
           sum(coalesce(a.acctinputoctets, 0)), sum(coalesce(a.acctoutputoctets, 0)), sum(coalesce(a.acctsessiontime, 0)), count(*),
           max(coalesce(a.acctupdatetime, a.acctstoptime, a.acctstarttime, now()))
    FROM radacct a JOIN tenants t ON t.id = a.tenant_id
    GROUP BY 1, 2, 3, 4;

    INSERT INTO auth_daily (tenant_id, day, reply, reason, attempts, last_at)
    SELECT p.tenant_id, (p.authdate AT TIME ZONE t.time_zone)::date, coalesce(p.reply, ''), left(coalesce(p.reason, ''), 200), count(*), max(p.authdate)
    FROM radpostauth p JOIN tenants t ON t.id = p.tenant_id
    GROUP BY 1, 2, 3, 4;
  `);
  for (const [name, version] of FUNCTIONS) await knex.raw(sqlObject(`functions/${name}`, version));
  await knex.raw(`
    CREATE TRIGGER radacct_usage_rollup
      AFTER INSERT OR UPDATE OF acctinputoctets, acctoutputoctets, acctsessiontime, acctupdatetime ON radacct
      FOR EACH ROW EXECUTE FUNCTION lango_usage_rollup();
    CREATE TRIGGER radpostauth_auth_rollup AFTER INSERT ON radpostauth FOR EACH ROW EXECUTE FUNCTION lango_auth_rollup();
    CREATE SCHEMA reports;
    REVOKE ALL ON SCHEMA reports FROM PUBLIC;
  `);
  for (const name of REPORT_VIEWS) await knex.raw(sqlObject(`views/${name}`, 1));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP SCHEMA reports CASCADE;
    DROP TRIGGER radpostauth_auth_rollup ON radpostauth;
    DROP TRIGGER radacct_usage_rollup ON radacct;
  `);
  await knex.raw(sqlObject('functions/lango_acct_do', 2));
  await knex.raw(`
    DROP FUNCTION lango_report_tenants();
    DROP FUNCTION lango_auth_rollup();
    DROP FUNCTION lango_usage_rollup();
    DROP TABLE report_roles;
    DROP TABLE nas_acct_state;
    DROP TABLE auth_daily;
    DROP TABLE usage_daily;
  `);
}
