import type { Knex } from 'knex';

/**
 * The worker claims due actions per NAS (src/modules/enforcement/outbox.repo.ts claimDue): for
 * each NAS with pending rows, at most the room of its window, oldest first. The old claim took
 * the oldest due rows of every NAS except the saturated ones, through the index on
 * next_attempt_at alone: in a burst (10,000 Disconnects on 10 NAS, windows full) every claim read
 * and skipped the pending rows of the saturated NAS, about 2,500 heap rows per claim, 0.85 ms of
 * Postgres per expired session (bench/results/enforcement-2026-12-02-2.md).
 *
 * enforcement_actions_due_nas_idx (nas_id, next_attempt_at) WHERE status = 'pending' serves the
 * three parts of the new claim: the distinct NAS with pending rows (a skip scan, one probe per
 * NAS), the oldest due rows of one NAS, and the rows without a NAS (nas_id IS NULL). It replaces
 * enforcement_actions_due_idx, so a row's writes touch as many indexes as before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX enforcement_actions_due_nas_idx ON enforcement_actions (nas_id, next_attempt_at) WHERE status = 'pending';
    DROP INDEX enforcement_actions_due_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX enforcement_actions_due_idx ON enforcement_actions (next_attempt_at) WHERE status = 'pending';
    DROP INDEX enforcement_actions_due_nas_idx;
  `);
}
