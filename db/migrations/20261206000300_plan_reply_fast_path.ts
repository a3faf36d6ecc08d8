import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * The plan-reply fast path (issue 12 item 3, docs/decisions.md 72): lango_authorize v4 returns
 * the five attributes every plan writes as typed Lango-Reply-* control attributes, which
 * freeradius/policy.d/lango-authorize copies into the reply with one update; every other
 * reply row still comes as a Lango-Reply row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize', 4));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize', 3));
}
