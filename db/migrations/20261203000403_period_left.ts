import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/** One computation of a period's time and data left (lango_period_left), used by authorize v5. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_period_left', 1));
  await knex.raw(sqlObject('functions/lango_authorize_check', 5));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize_check', 4));
  await knex.raw(
    'DROP FUNCTION lango_period_left(uuid, text, uuid, timestamptz, timestamptz, bigint, integer, timestamptz)',
  );
}
