import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * auth_daily counts per database session (shard = pid % 16) instead of in one row per tenant,
 * day and reply, which every post-auth insert of the tenant had to lock in turn
 * (lango_auth_rollup v2). The report views sum the shards.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE auth_daily ADD COLUMN shard smallint NOT NULL DEFAULT 0;
    ALTER TABLE auth_daily DROP CONSTRAINT auth_daily_pkey;
    ALTER TABLE auth_daily ADD PRIMARY KEY (tenant_id, day, reply, reason, shard);
  `);
  await knex.raw(sqlObject('functions/lango_auth_rollup', 2));
  await knex.raw(sqlObject('views/auth_outcomes', 2));
  await knex.raw(sqlObject('views/auth_failures', 2));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('views/auth_outcomes', 1));
  await knex.raw(sqlObject('views/auth_failures', 1));
  await knex.raw(sqlObject('functions/lango_auth_rollup', 1));
  // Fold the shards into shard 0, then drop the column.
  await knex.raw(`
    INSERT INTO auth_daily AS a (tenant_id, day, reply, reason, shard, attempts, last_at)
      SELECT tenant_id, day, reply, reason, 0, sum(attempts)::bigint, max(last_at) FROM auth_daily WHERE shard <> 0 GROUP BY 1, 2, 3, 4
      ON CONFLICT (tenant_id, day, reply, reason, shard) DO UPDATE SET
        attempts = a.attempts + EXCLUDED.attempts, last_at = greatest(a.last_at, EXCLUDED.last_at);
    DELETE FROM auth_daily WHERE shard <> 0;
    ALTER TABLE auth_daily DROP CONSTRAINT auth_daily_pkey;
    ALTER TABLE auth_daily DROP COLUMN shard;
    ALTER TABLE auth_daily ADD PRIMARY KEY (tenant_id, day, reply, reason);
  `);
}
