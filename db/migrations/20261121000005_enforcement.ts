import type { Knex } from 'knex';

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

    -- Any write to subscriptions (the API, a payment, SQL by hand) re-arms the worker's expiry
    -- timer: the new or moved end may come before the one it sleeps until. Once per statement,
    -- delivered at commit, merged per transaction by Postgres; subscriptions are written at
    -- purchase rate, far from any hot path.
    CREATE FUNCTION lango_subscriptions_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('lango_enforcement', 'schedule');
      RETURN NULL;
    END $$;
    CREATE TRIGGER subscriptions_rearm_expiry
      AFTER INSERT OR DELETE OR UPDATE OF starts_at, ends_at, status ON subscriptions
      FOR EACH STATEMENT EXECUTE FUNCTION lango_subscriptions_changed();

    ${AUTHORIZE_CHECK_WITH_SOFT_BLOCK}
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(String.raw`
    ${AUTHORIZE_CHECK_PREVIOUS}
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

/**
 * lango_authorize_check() with the soft block. For a tenant whose expiry_action is soft_block,
 * a subscriber who is only out of time or data (not suspended, not on a foreign device) is
 * accepted instead of rejected, with three more control attributes that policy.d/lango turns
 * into the reply:
 *   Lango-Soft-Block       the walled-garden address list -> Mikrotik-Address-List
 *   Lango-Rate-Limit       a trickle rate                 -> Mikrotik-Rate-Limit
 *   Lango-Session-Timeout  short, so the router asks again after a payment
 * and Class "lango-soft-block", which the NAS echoes in accounting: the worker recognises a
 * soft-blocked session in radacct by it and never "expires" it again.
 *
 * Why a Disconnect first and not a CoA (protocols.md G5): RouterOS applies Mikrotik-Address-List
 * only at login; a CoA can change the rate limit and timeouts of a live session but not put it in
 * an address list. So the worker disconnects the session (reason soft_block) and the router's
 * automatic re-login (cookie / MAC login) comes back here and lands in the list.
 */
const AUTHORIZE_CHECK_WITH_SOFT_BLOCK = String.raw`
    CREATE OR REPLACE FUNCTION lango_authorize_check(src text, ident_hex text, user_hex text, calling_hex text)
    RETURNS TABLE (id integer, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
      v_user text := lango_text(user_hex);
      v_nas record;
      v_subscriber record;
      v_sub record;
      v_tenant record;
      v_now timestamptz := now();
      v_reason text;
      v_timeout bigint;
      v_used bigint;
      v_left bigint;
    BEGIN
      SELECT * INTO v_nas FROM lango_nas_find(src, lango_text(ident_hex));
      IF NOT FOUND THEN RETURN; END IF;

      SELECT s.id, s.status, s.mac_address INTO v_subscriber
      FROM subscribers s WHERE s.tenant_id = v_nas.tenant_id AND s.username = v_user;
      IF NOT FOUND THEN RETURN; END IF;

      RETURN QUERY
        SELECT c.id, c.username, c.attribute, c.value, c.op::text
        FROM radcheck c WHERE c.tenant_id = v_nas.tenant_id AND c.username = v_user
        ORDER BY c.id;
      RETURN QUERY
        SELECT gc.id, v_user, gc.attribute, gc.value, gc.op::text
        FROM radusergroup ug
        JOIN radgroupcheck gc ON gc.tenant_id = ug.tenant_id AND gc.groupname = ug.groupname
        WHERE ug.tenant_id = v_nas.tenant_id AND ug.username = v_user
        ORDER BY ug.priority, gc.id;
      RETURN QUERY SELECT 0, v_user, 'Lango-Tenant-Id'::text, v_nas.tenant_id::text, ':='::text;
      RETURN QUERY SELECT 0, v_user, 'Lango-Nas-Id'::text, v_nas.nas_id::text, ':='::text;

      IF v_subscriber.status <> 'active' THEN
        v_reason := 'Account suspended';
      ELSE
        SELECT sb.ends_at, sb.starts_at, sb.data_quota_bytes, sb.session_timeout_seconds INTO v_sub
        FROM subscriptions sb
        WHERE sb.subscriber_id = v_subscriber.id AND sb.status = 'active'
          AND sb.starts_at <= v_now AND sb.ends_at > v_now
        ORDER BY sb.ends_at DESC LIMIT 1;
        IF NOT FOUND THEN
          IF EXISTS (SELECT 1 FROM subscriptions sb WHERE sb.subscriber_id = v_subscriber.id
                     AND sb.status = 'active' AND sb.ends_at <= v_now) THEN
            v_reason := 'Subscription expired';
          ELSE
            v_reason := 'No active subscription';
          END IF;
        ELSIF v_subscriber.mac_address IS NOT NULL
              AND v_subscriber.mac_address IS DISTINCT FROM lango_mac(lango_text(calling_hex)) THEN
          v_reason := 'Device not allowed';
        ELSE
          v_timeout := floor(extract(epoch FROM v_sub.ends_at - v_now));
          IF v_sub.session_timeout_seconds IS NOT NULL THEN
            v_timeout := least(v_timeout, v_sub.session_timeout_seconds);
          END IF;
          IF v_timeout < 1 THEN
            v_reason := 'Subscription expired';
          ELSIF v_sub.data_quota_bytes IS NOT NULL THEN
            -- Sessions that overlap the period count in full (never under-count): those started
            -- in it, those still open, and closed ones that straddled its start (looked for in
            -- the 31 days before it, so every part of this stays index-backed).
            SELECT coalesce(sum(coalesce(a.acctinputoctets, 0) + coalesce(a.acctoutputoctets, 0)), 0) INTO v_used
            FROM radacct a
            WHERE a.tenant_id = v_nas.tenant_id AND a.username = v_user
              AND (a.acctstarttime >= v_sub.starts_at - interval '31 days')
              AND (a.acctstarttime >= v_sub.starts_at OR a.acctstoptime IS NULL OR a.acctstoptime > v_sub.starts_at);
            v_left := v_sub.data_quota_bytes - v_used;
            IF v_left <= 0 THEN
              v_reason := 'Data quota exhausted';
            ELSE
              RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit'::text, (v_left % 4294967296)::text, ':='::text;
              RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit-Gigawords'::text, (v_left / 4294967296)::text, ':='::text;
            END IF;
          END IF;
          IF v_reason IS NULL THEN
            RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_timeout::text, ':='::text;
          END IF;
        END IF;
      END IF;

      -- Soft block: out of time or data (never suspended or a foreign device) at a tenant that
      -- sends such users to the pay page instead of rejecting them.
      IF v_reason IN ('Subscription expired', 'No active subscription', 'Data quota exhausted') THEN
        SELECT t.expiry_action, t.walled_garden_list, t.soft_block_rate_limit, t.soft_block_session_timeout INTO v_tenant
        FROM tenants t WHERE t.id = v_nas.tenant_id;
        IF v_tenant.expiry_action = 'soft_block' THEN
          RETURN QUERY SELECT 0, v_user, 'Lango-Soft-Block'::text, v_tenant.walled_garden_list, ':='::text;
          RETURN QUERY SELECT 0, v_user, 'Lango-Rate-Limit'::text, v_tenant.soft_block_rate_limit, ':='::text;
          RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_tenant.soft_block_session_timeout::text, ':='::text;
          v_reason := NULL;
        END IF;
      END IF;

      IF v_reason IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_user, 'Lango-Reject-Reason'::text, v_reason, ':='::text;
      END IF;
    END $$;
`;

/** The body from 20261121000004_radius_policy_functions, restored by down(). */
const AUTHORIZE_CHECK_PREVIOUS = String.raw`
    CREATE OR REPLACE FUNCTION lango_authorize_check(src text, ident_hex text, user_hex text, calling_hex text)
    RETURNS TABLE (id integer, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
      v_user text := lango_text(user_hex);
      v_nas record;
      v_subscriber record;
      v_sub record;
      v_now timestamptz := now();
      v_reason text;
      v_timeout bigint;
      v_used bigint;
      v_left bigint;
    BEGIN
      SELECT * INTO v_nas FROM lango_nas_find(src, lango_text(ident_hex));
      IF NOT FOUND THEN RETURN; END IF;

      SELECT s.id, s.status, s.mac_address INTO v_subscriber
      FROM subscribers s WHERE s.tenant_id = v_nas.tenant_id AND s.username = v_user;
      IF NOT FOUND THEN RETURN; END IF;

      RETURN QUERY
        SELECT c.id, c.username, c.attribute, c.value, c.op::text
        FROM radcheck c WHERE c.tenant_id = v_nas.tenant_id AND c.username = v_user
        ORDER BY c.id;
      RETURN QUERY
        SELECT gc.id, v_user, gc.attribute, gc.value, gc.op::text
        FROM radusergroup ug
        JOIN radgroupcheck gc ON gc.tenant_id = ug.tenant_id AND gc.groupname = ug.groupname
        WHERE ug.tenant_id = v_nas.tenant_id AND ug.username = v_user
        ORDER BY ug.priority, gc.id;
      RETURN QUERY SELECT 0, v_user, 'Lango-Tenant-Id'::text, v_nas.tenant_id::text, ':='::text;
      RETURN QUERY SELECT 0, v_user, 'Lango-Nas-Id'::text, v_nas.nas_id::text, ':='::text;

      IF v_subscriber.status <> 'active' THEN
        v_reason := 'Account suspended';
      ELSE
        SELECT sb.ends_at, sb.starts_at, sb.data_quota_bytes, sb.session_timeout_seconds INTO v_sub
        FROM subscriptions sb
        WHERE sb.subscriber_id = v_subscriber.id AND sb.status = 'active'
          AND sb.starts_at <= v_now AND sb.ends_at > v_now
        ORDER BY sb.ends_at DESC LIMIT 1;
        IF NOT FOUND THEN
          IF EXISTS (SELECT 1 FROM subscriptions sb WHERE sb.subscriber_id = v_subscriber.id
                     AND sb.status = 'active' AND sb.ends_at <= v_now) THEN
            v_reason := 'Subscription expired';
          ELSE
            v_reason := 'No active subscription';
          END IF;
        ELSIF v_subscriber.mac_address IS NOT NULL
              AND v_subscriber.mac_address IS DISTINCT FROM lango_mac(lango_text(calling_hex)) THEN
          v_reason := 'Device not allowed';
        ELSE
          v_timeout := floor(extract(epoch FROM v_sub.ends_at - v_now));
          IF v_sub.session_timeout_seconds IS NOT NULL THEN
            v_timeout := least(v_timeout, v_sub.session_timeout_seconds);
          END IF;
          IF v_timeout < 1 THEN
            v_reason := 'Subscription expired';
          ELSIF v_sub.data_quota_bytes IS NOT NULL THEN
            -- Sessions that overlap the period count in full (never under-count): those started
            -- in it, those still open, and closed ones that straddled its start (looked for in
            -- the 31 days before it, so every part of this stays index-backed).
            SELECT coalesce(sum(coalesce(a.acctinputoctets, 0) + coalesce(a.acctoutputoctets, 0)), 0) INTO v_used
            FROM radacct a
            WHERE a.tenant_id = v_nas.tenant_id AND a.username = v_user
              AND (a.acctstarttime >= v_sub.starts_at - interval '31 days')
              AND (a.acctstarttime >= v_sub.starts_at OR a.acctstoptime IS NULL OR a.acctstoptime > v_sub.starts_at);
            v_left := v_sub.data_quota_bytes - v_used;
            IF v_left <= 0 THEN
              v_reason := 'Data quota exhausted';
            ELSE
              RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit'::text, (v_left % 4294967296)::text, ':='::text;
              RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit-Gigawords'::text, (v_left / 4294967296)::text, ':='::text;
            END IF;
          END IF;
          IF v_reason IS NULL THEN
            RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_timeout::text, ':='::text;
          END IF;
        END IF;
      END IF;

      IF v_reason IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_user, 'Lango-Reject-Reason'::text, v_reason, ':='::text;
      END IF;
    END $$;
`;
