import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Enforcement: the CoA/Disconnect outbox, the worker's scheduling state, the per-tenant soft
 * block settings, and lango_authorize_check() extended with the soft block.
 *
 * enforcement_actions is an outbox: a row is written in the same transaction as the change that
 * causes it (suspension, plan change, deletion, a staff click) or by the worker's checks
 * (subscription end, quota, soft block), and sent after commit by `lango worker`. The NAS address,
 * CoA port and secret are NOT copied into the row: they are read from nas when the action is
 * sent, so a corrected secret applies to actions already queued.
 *
 * Life of a row: pending -> sending (claimed with FOR UPDATE SKIP LOCKED; claimed_by and a
 * claimed_until lease) -> ack | nak | timeout | failed, or back to pending with next_attempt_at
 * for a retry, or cancelled when the cause no longer holds at send time. A worker killed while
 * holding a lease loses nothing: another worker claims rows whose lease ran out.
 *
 * Two partial unique indexes keep the queue from doubling:
 *  - (radacct_id, reason) while pending: a second suspension of the same session, a double
 *    click on "disconnect", a second plan change before the first was sent (that one updates the
 *    pending row's attributes instead) are all the same action;
 *  - (radacct_id, reason) from queued to answered, for the causes that the worker's periodic
 *    checks rediscover on every run (expired, quota, suspended, soft_block, deleted, unblock):
 *    a session still open in radacct after its Disconnect-ACK (the Stop is on its way) is not
 *    disconnected again. Timeouts, failures and cancellations are not in it: those may be
 *    queued again later.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    ALTER TABLE tenants
      ADD COLUMN expiry_action text NOT NULL DEFAULT 'disconnect' CHECK (expiry_action IN ('disconnect', 'soft_block')),
      ADD COLUMN walled_garden_list text NOT NULL DEFAULT 'lango-blocked' CHECK (walled_garden_list ~ '^[A-Za-z0-9._-]{1,63}$'),
      ADD COLUMN soft_block_rate_limit text NOT NULL DEFAULT '64k/64k' CHECK (length(soft_block_rate_limit) BETWEEN 1 AND 128),
      ADD COLUMN soft_block_session_timeout integer NOT NULL DEFAULT 900 CHECK (soft_block_session_timeout BETWEEN 60 AND 86400);

    CREATE TABLE enforcement_actions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      subscriber_id uuid REFERENCES subscribers(id) ON DELETE SET NULL,
      nas_id uuid REFERENCES nas(id) ON DELETE SET NULL,
      -- No foreign key: radacct is FreeRADIUS's table, append-mostly and due to be partitioned.
      radacct_id bigint,
      username text NOT NULL,
      acct_session_id text NOT NULL,
      framed_ip inet,
      nas_ip inet,
      kind text NOT NULL CHECK (kind IN ('disconnect', 'coa')),
      reason text NOT NULL CHECK (reason IN ('expired', 'quota', 'suspended', 'plan_change', 'staff', 'soft_block', 'deleted', 'unblock')),
      -- RADIUS attributes a CoA carries, [{"name": "Mikrotik-Rate-Limit", "value": "2M/5M"}].
      attributes jsonb NOT NULL DEFAULT '[]'::jsonb,
      -- Why, for people: subscription, plans, the soft block's cause...
      context jsonb NOT NULL DEFAULT '{}'::jsonb,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'ack', 'nak', 'timeout', 'failed', 'cancelled')),
      attempts integer NOT NULL DEFAULT 0,
      max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 20),
      -- When the action became due (e.g. the subscription's end): lateness = completed_at - due_at.
      due_at timestamptz NOT NULL DEFAULT now(),
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      claimed_by text,
      claimed_until timestamptz,
      error_cause integer,
      last_error text,
      rtt_ms integer,
      -- RouterOS API fallback after a timeout (src/mikrotik/fallback.ts).
      fallback_status text CHECK (fallback_status IN ('removed', 'not_found', 'failed')),
      fallback_removed integer,
      fallback_error text,
      fallback_at timestamptz,
      requested_by_type text NOT NULL DEFAULT 'system' CHECK (requested_by_type IN ('user', 'api_key', 'system')),
      requested_by uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    CREATE UNIQUE INDEX enforcement_actions_pending_unique ON enforcement_actions (radacct_id, reason)
      WHERE status = 'pending' AND radacct_id IS NOT NULL;
    CREATE UNIQUE INDEX enforcement_actions_once_unique ON enforcement_actions (radacct_id, reason)
      WHERE status IN ('pending', 'sending', 'ack', 'nak') AND radacct_id IS NOT NULL
        AND reason IN ('expired', 'quota', 'suspended', 'soft_block', 'deleted', 'unblock');
    CREATE INDEX enforcement_actions_due_idx ON enforcement_actions (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX enforcement_actions_lease_idx ON enforcement_actions (claimed_until) WHERE status = 'sending';
    CREATE INDEX enforcement_actions_radacct_idx ON enforcement_actions (radacct_id);
    CREATE INDEX enforcement_actions_tenant_created_idx ON enforcement_actions (tenant_id, created_at DESC, id);
    CREATE INDEX enforcement_actions_subscriber_idx ON enforcement_actions (subscriber_id, created_at DESC);

    -- Positions of the worker's incremental checks (e.g. the last subscription end handled).
    CREATE TABLE enforcement_cursors (
      name text PRIMARY KEY,
      position timestamptz NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- The expiry scheduler's next wake-up: the first active subscription end after now.
    CREATE INDEX subscriptions_active_ends_idx ON subscriptions (ends_at) WHERE status = 'active';
  `);
  // Any write to subscriptions re-arms the worker's expiry timer (see the function's file).
  await knex.raw(sqlObject('functions/lango_subscriptions_changed', 1));
  await knex.raw(`
    CREATE TRIGGER subscriptions_rearm_expiry
      AFTER INSERT OR DELETE OR UPDATE OF starts_at, ends_at, status ON subscriptions
      FOR EACH STATEMENT EXECUTE FUNCTION lango_subscriptions_changed();
  `);
  // lango_authorize_check() with the soft block (see the file's header).
  await knex.raw(sqlObject('functions/lango_authorize_check', 2));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize_check', 1));
  await knex.raw(String.raw`
    DROP TRIGGER subscriptions_rearm_expiry ON subscriptions;
    DROP FUNCTION lango_subscriptions_changed();
    DROP INDEX subscriptions_active_ends_idx;
    DROP TABLE enforcement_cursors;
    DROP TABLE enforcement_actions;
    ALTER TABLE tenants
      DROP COLUMN soft_block_session_timeout,
      DROP COLUMN soft_block_rate_limit,
      DROP COLUMN walled_garden_list,
      DROP COLUMN expiry_action;
  `);
}
