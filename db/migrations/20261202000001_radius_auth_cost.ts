import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Win back what the hardening added to every login (measured with track_functions = all on the
 * benchmark's data: PostgreSQL time per login 1.54 ms -> 0.77 ms, bench/results/radius-2026-12-02*):
 *
 *  - radpostauth_failures_idx: the failed-login throttle (lango_auth_failures) counted a user's
 *    recent rows through radpostauth_tenant_user_idx and filtered NAS, reply and reason row by
 *    row: 0.30 ms per login for a user with a few dozen accepted logins in the window. The
 *    partial index holds only the rows it counts (rejects without a policy reason), so the
 *    usual answer, none, is one index probe; inserts of accepts do not touch it.
 *  - lango_text v3: STABLE, so that PostgreSQL inlines it (see the file).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX radpostauth_failures_idx ON radpostauth (tenant_id, nas_id, username, authdate)
      WHERE reply = 'Access-Reject' AND reason IS NULL
  `);
  await knex.raw(sqlObject('functions/lango_text', 3));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_text', 2));
  await knex.raw('DROP INDEX radpostauth_failures_idx');
}
