import type { Knex } from 'knex';

/**
 * radpostauth is kept for `LANGO_POSTAUTH_RETENTION_DAYS` (src/jobs/login-log.ts): the worker
 * removes older rows in batches, oldest first, which needs an index on authdate alone. The
 * (tenant_id, authdate) index is dropped for it: no query reads it (the failed-login counts use
 * their partial indexes, the reports the auth_daily rollup, and a tenant's logins by user use
 * (tenant_id, username, authdate)), so each login still writes the same number of index entries,
 * and a smaller one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX radpostauth_authdate_idx ON radpostauth (authdate);
    DROP INDEX radpostauth_tenant_date_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX radpostauth_tenant_date_idx ON radpostauth (tenant_id, authdate);
    DROP INDEX radpostauth_authdate_idx;
  `);
}
