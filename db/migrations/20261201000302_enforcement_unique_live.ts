import type { Knex } from 'knex';

/**
 * The outbox's uniqueness, made to hold across every transition of a row.
 *
 *  - enforcement_actions_live_unique: one live (pending OR sending) action per session and
 *    reason. The old index covered pending only, so a second click on "disconnect" (or a second
 *    plan change) while the first was sending inserted a second row; when both went back to
 *    pending (a retry, a released or reclaimed lease) the outcome UPDATE violated the index, and
 *    since outcomes were written in one batch, the whole outbox stalled. Now a row moving between
 *    pending and sending never leaves the index, so no such move can collide; a new request for
 *    a session that has one in flight is answered with that one (or merged into it: a plan
 *    change rewrites its attributes and the worker sends it again, src/jobs/outbox.ts).
 *  - enforcement_actions_once_unique: for the reasons the worker's checks rediscover on every run,
 *    one action per session and reason from queued through answered, and through timeout or
 *    failed until superseded_at is set (20261201000300). The row stays in the index at the moment
 *    its outcome is written, so a check racing with that write conflicts instead of queueing a
 *    second Disconnect.
 *  - enforcement_actions_requeue_idx: the timeout/failed rows the checks supersede once
 *    requeueAfterSeconds have passed.
 */
const ONCE_REASONS = `('expired', 'quota', 'suspended', 'soft_block', 'deleted', 'unblock', 'tenant_suspended')`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX enforcement_actions_pending_unique;
    DROP INDEX enforcement_actions_once_unique;
    CREATE UNIQUE INDEX enforcement_actions_live_unique ON enforcement_actions (radacct_id, reason)
      WHERE status IN ('pending', 'sending') AND radacct_id IS NOT NULL;
    CREATE UNIQUE INDEX enforcement_actions_once_unique ON enforcement_actions (radacct_id, reason)
      WHERE status IN ('pending', 'sending', 'ack', 'nak', 'timeout', 'failed') AND superseded_at IS NULL
        AND radacct_id IS NOT NULL AND reason IN ${ONCE_REASONS};
    CREATE INDEX enforcement_actions_requeue_idx ON enforcement_actions (updated_at)
      WHERE status IN ('timeout', 'failed') AND superseded_at IS NULL
        AND radacct_id IS NOT NULL AND reason IN ${ONCE_REASONS};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX enforcement_actions_requeue_idx;
    DROP INDEX enforcement_actions_once_unique;
    DROP INDEX enforcement_actions_live_unique;
    CREATE UNIQUE INDEX enforcement_actions_pending_unique ON enforcement_actions (radacct_id, reason)
      WHERE status = 'pending' AND radacct_id IS NOT NULL;
    CREATE UNIQUE INDEX enforcement_actions_once_unique ON enforcement_actions (radacct_id, reason)
      WHERE status IN ('pending', 'sending', 'ack', 'nak') AND radacct_id IS NOT NULL
        AND reason IN ${ONCE_REASONS};
  `);
}
