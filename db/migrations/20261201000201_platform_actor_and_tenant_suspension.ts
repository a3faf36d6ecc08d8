import type { Knex } from 'knex';

/**
 * Two new values in the audit and outbox tables.
 *
 *  - Actor type 'platform' (audit_log.actor_type, enforcement_actions.requested_by_type): a
 *    platform admin acting on a tenant. The id is kept for the platform's own investigations;
 *    tenant-facing reads show "platform" without it, so a tenant never learns a platform
 *    admin's user id (which, with the JWT secret, is all a forged token needs).
 *  - Outbox reason 'tenant_suspended': the Disconnects queued when a platform admin suspends a
 *    tenant. Not 'suspended': the worker cancels those when the subscriber is active, which a
 *    suspended tenant's subscribers are. It joins the once-per-session index like the other
 *    disconnect causes, so suspending twice queues nothing new for a session already handled.
 */
const ONCE_REASONS_BEFORE = `'expired', 'quota', 'suspended', 'soft_block', 'deleted', 'unblock'`;
const REASONS_BEFORE = `'expired', 'quota', 'suspended', 'plan_change', 'staff', 'soft_block', 'deleted', 'unblock'`;

function onceIndex(reasons: string): string {
  return `CREATE UNIQUE INDEX enforcement_actions_once_unique ON enforcement_actions (radacct_id, reason)
      WHERE status IN ('pending', 'sending', 'ack', 'nak') AND radacct_id IS NOT NULL
        AND reason IN (${reasons});`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check,
      ADD CONSTRAINT audit_log_actor_type_check CHECK (actor_type IN ('user', 'api_key', 'system', 'platform'));
    ALTER TABLE enforcement_actions DROP CONSTRAINT enforcement_actions_requested_by_type_check,
      ADD CONSTRAINT enforcement_actions_requested_by_type_check CHECK (requested_by_type IN ('user', 'api_key', 'system', 'platform'));

    ALTER TABLE enforcement_actions DROP CONSTRAINT enforcement_actions_reason_check,
      ADD CONSTRAINT enforcement_actions_reason_check CHECK (reason IN (${REASONS_BEFORE}, 'tenant_suspended'));
    DROP INDEX enforcement_actions_once_unique;
    ${onceIndex(`${ONCE_REASONS_BEFORE}, 'tenant_suspended'`)}
  `);
}

/** The previous schema cannot hold tenant-suspension rows: down drops them. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DELETE FROM enforcement_actions WHERE reason = 'tenant_suspended';
    DROP INDEX enforcement_actions_once_unique;
    ${onceIndex(ONCE_REASONS_BEFORE)}
    ALTER TABLE enforcement_actions DROP CONSTRAINT enforcement_actions_reason_check,
      ADD CONSTRAINT enforcement_actions_reason_check CHECK (reason IN (${REASONS_BEFORE}));

    ALTER TABLE enforcement_actions DROP CONSTRAINT enforcement_actions_requested_by_type_check,
      ADD CONSTRAINT enforcement_actions_requested_by_type_check CHECK (requested_by_type IN ('user', 'api_key', 'system'));
    ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_type_check,
      ADD CONSTRAINT audit_log_actor_type_check CHECK (actor_type IN ('user', 'api_key', 'system'));
  `);
}
