import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Authorize in one round trip (issue 12 item 3): lango_authorize v3 also returns every reply
 * row of the plan's groups and of the user as Lango-Reply control attributes, applied by
 * freeradius/policy.d/lango-authorize; authorize_reply_query is empty. lango_authorize_check v6
 * looks for a voucher only for subscribers of kind 'voucher' (fewer relation locks per login).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize_check', 6));
  await knex.raw(sqlObject('functions/lango_authorize', 3));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize', 2));
  await knex.raw(sqlObject('functions/lango_authorize_check', 5));
}
