import type { Knex } from 'knex';

/**
 * Data only: resolves the rows that the unique indexes of 20261201000302 would refuse, so the
 * index can be built on a database that the old rules let drift (and unwedges one whose outbox
 * was stuck on enforcement_actions_pending_unique).
 *
 * 1. Several live (pending or sending) actions for one session and reason, e.g. a second click on
 *    "disconnect" while the first was being sent: one is kept, the others are cancelled with
 *    last_error naming the one kept. Kept: for a plan change the newest (it carries the current
 *    rate limit); otherwise the one being sent, else the oldest.
 * 2. Timeout/failed actions of the once-per-session reasons: all but the newest per session and
 *    reason are superseded, and all of them when an action for that session and reason is queued
 *    or answered; the newest keeps blocking a new one until the checks' requeue delay passes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    WITH ranked AS (
      SELECT id,
             first_value(id) OVER w AS keep_id,
             row_number() OVER w AS n
      FROM enforcement_actions
      WHERE status IN ('pending', 'sending') AND radacct_id IS NOT NULL
      WINDOW w AS (PARTITION BY radacct_id, reason
                   ORDER BY (reason <> 'plan_change' AND status = 'sending') DESC,
                            CASE WHEN reason = 'plan_change' THEN created_at END DESC NULLS LAST,
                            created_at, id)
    )
    UPDATE enforcement_actions e
    SET status = 'cancelled', claimed_by = NULL, claimed_until = NULL, completed_at = now(), updated_at = now(),
        last_error = 'duplicate of ' || r.keep_id || ' for the same session and reason'
    FROM ranked r
    WHERE e.id = r.id AND r.n > 1
  `);
  await knex.raw(`
    WITH ranked AS (
      SELECT e.id,
             row_number() OVER (PARTITION BY e.radacct_id, e.reason ORDER BY e.updated_at DESC, e.id) AS n,
             EXISTS (SELECT 1 FROM enforcement_actions o
                     WHERE o.radacct_id = e.radacct_id AND o.reason = e.reason
                       AND o.status IN ('pending', 'sending', 'ack', 'nak')) AS answered_or_queued
      FROM enforcement_actions e
      WHERE e.status IN ('timeout', 'failed') AND e.radacct_id IS NOT NULL
        AND e.reason IN ('expired', 'quota', 'suspended', 'soft_block', 'deleted', 'unblock', 'tenant_suspended')
    )
    UPDATE enforcement_actions e SET superseded_at = now()
    FROM ranked r
    WHERE e.id = r.id AND (r.n > 1 OR r.answered_or_queued)
  `);
}

export async function down(): Promise<void> {
  // Data changes are not undone: the cancelled duplicates stay cancelled.
}
