import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * lango_acct_do v4: acctupdatetime never goes back. Accounting goes to SQL first and to the
 * local spool only while SQL fails, so after an outage a replayed older Interim can arrive after
 * a newer one written directly (docs/accounting-spool.md, decisions.md 64).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_acct_do', 4));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_acct_do', 3));
}
