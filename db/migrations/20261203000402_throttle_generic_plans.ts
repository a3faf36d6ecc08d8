import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * The failed-login throttles always use their generic plan (see lango_auth_failures.v2.sql):
 * measured with pgbench on the benchmark's data, one login's PostgreSQL time 1.70 -> 0.63 ms.
 */
const NAMES = ['lango_auth_failures', 'lango_nas_failures'];

export async function up(knex: Knex): Promise<void> {
  for (const name of NAMES) await knex.raw(sqlObject(`functions/${name}`, 2));
}

export async function down(knex: Knex): Promise<void> {
  for (const name of NAMES) {
    await knex.raw(sqlObject(`functions/${name}`, 1));
    await knex.raw(`ALTER FUNCTION ${name} RESET plan_cache_mode`);
  }
}
