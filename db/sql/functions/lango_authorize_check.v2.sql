-- lango_authorize_check() with the soft block. For a tenant whose expiry_action is soft_block,
-- a subscriber who is only out of time or data (not suspended, not on a foreign device) is
-- accepted instead of rejected, with three more control attributes that policy.d/lango turns
-- into the reply:
--   Lango-Soft-Block       the walled-garden address list -> Mikrotik-Address-List
--   Lango-Rate-Limit       a trickle rate                 -> Mikrotik-Rate-Limit
--   Lango-Session-Timeout  short, so the router asks again after a payment
-- and Class "lango-soft-block", which the NAS echoes in accounting: the worker recognises a
-- soft-blocked session in radacct by it and never "expires" it again.
--
-- Why a Disconnect first and not a CoA (protocols.md G5): RouterOS applies Mikrotik-Address-List
-- only at login; a CoA can change the rate limit and timeouts of a live session but not put it in
-- an address list. So the worker disconnects the session (reason soft_block) and the router's
-- automatic re-login (cookie / MAC login) comes back here and lands in the list.
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
