import type { Knex } from 'knex';

/**
 * enforcement_actions.superseded_at: when a timeout or failed action stopped standing in the way
 * of a new action for the same session and reason.
 *
 * The worker's checks queue a Disconnect once per session and reason; one that timed out or
 * failed may be queued again after requeueAfterSeconds. That rule used to be a NOT EXISTS in the
 * checks' INSERT, which reads the statement's snapshot, while the partial unique index stopped
 * covering the row at the moment its outcome was written: a check racing with the outcome write
 * queued a second Disconnect. From 20261201000302 on, the once-per-session index covers timeout
 * and failed rows too, until a check (or a staff action) sets superseded_at; see src/jobs/checks.ts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE enforcement_actions ADD COLUMN superseded_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE enforcement_actions DROP COLUMN superseded_at');
}
