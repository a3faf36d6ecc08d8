-- v6: an account (subscribers.kind = 'account') no longer looks for a voucher: two relations
-- (vouchers, voucher_batches) and one query less per login. PostgreSQL 15 keeps only 16
-- relation locks per transaction on its fast path; authorize in one round trip (lango_authorize
-- v3) took 21, and every lock beyond 16 goes through the shared lock table, whose partition
-- locks (LWLock:LockManager) the backends then wait on at 16 logins in flight.
-- v5: the time and data left of a period come from lango_period_left(), for subscribers and for
-- vouchers alike (v4 computed them twice).
-- authorize: the decision for one Access-Request, scoped to the tenant of the NAS it came from.
-- Returns the user's check items (credentials, the plan's Simultaneous-Use) and the decision as
-- Lango-* control attributes (freeradius/dictionary):
--   Lango-Tenant-Id, Lango-Nas-Id    who is asking
--   Lango-Throttled                  too many failed password checks for this name through this
--                                    NAS: rejected before the password is looked at (the same for
--                                    names that do not exist, so it reveals nothing); v4 also: too
--                                    many failed logins through this NAS, for unknown names and
--                                    vouchers (guessing codes)
--   Lango-Reject-Reason              service (tenant) suspended / account suspended / expired /
--                                    no subscription / quota / device; applied only after the
--                                    password matched (policy.d/lango)
--   Lango-Session-Timeout            seconds left (capped by the plan's session cap)
--   Lango-Total-Limit(-Gigawords)    bytes left in the period, split at 2^32 for MikroTik
--   Lango-Soft-Block, Lango-Rate-Limit  the tenant's walled garden instead of a reject
--   Lango-Voucher-Id                 the user is a voucher (v4): post-auth binds the device and, at
--                                    the first Accept, starts the voucher's clock
--                                    (lango_voucher_login(), policy.d/lango-authorize)
-- Nothing is returned for an unknown NAS or user, so rlm_sql answers notfound -> reject.
-- Values are returned as stored; lango_authorize() encodes them for rlm_sql.
CREATE OR REPLACE FUNCTION lango_authorize_check(src text, ident_hex text, user_hex text, calling_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_user text := lango_text(user_hex);
  v_nas record;
  v_tenant record;
  v_subscriber record;
  v_sub record;
  v_now timestamptz := now();
  v_reason text;
  v_timeout bigint;
  v_left bigint;
  v_voucher record;
  v_mac text;
  v_found boolean;
BEGIN
  SELECT * INTO v_nas FROM lango_nas_find(src, lango_text(ident_hex));
  IF NOT FOUND THEN RETURN; END IF;
  SELECT t.status, t.expiry_action, t.walled_garden_list, t.soft_block_rate_limit, t.soft_block_session_timeout,
         t.auth_fail_limit, t.auth_fail_window_seconds, t.voucher_guess_limit
    INTO v_tenant
  FROM tenants t WHERE t.id = v_nas.tenant_id;

  IF lango_auth_failures(v_nas.tenant_id, v_nas.nas_id, v_user, v_tenant.auth_fail_window_seconds, v_tenant.auth_fail_limit)
     >= v_tenant.auth_fail_limit THEN
    RETURN QUERY SELECT 0, v_user, 'Lango-Tenant-Id'::text, v_nas.tenant_id::text, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Nas-Id'::text, v_nas.nas_id::text, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Throttled'::text, 'Too many failed logins, try again later'::text, ':='::text;
    RETURN;
  END IF;

  SELECT s.id, s.status, s.mac_address, s.kind INTO v_subscriber
  FROM subscribers s WHERE s.tenant_id = v_nas.tenant_id AND s.username = v_user;
  v_found := FOUND;

  -- Guessing voucher codes (v4): past tenants.voucher_guess_limit failed logins through this NAS
  -- in the window, unknown names and vouchers are throttled before the password is looked at,
  -- answered alike, so a right guess is not told from a wrong one. Accounts are not affected.
  IF (NOT v_found OR v_subscriber.kind = 'voucher')
     AND lango_nas_failures(v_nas.nas_id, v_tenant.auth_fail_window_seconds, v_tenant.voucher_guess_limit) >= v_tenant.voucher_guess_limit THEN
    RETURN QUERY SELECT 0, v_user, 'Lango-Tenant-Id'::text, v_nas.tenant_id::text, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Nas-Id'::text, v_nas.nas_id::text, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Throttled'::text, 'Too many failed logins, try again later'::text, ':='::text;
    RETURN;
  END IF;
  IF NOT v_found THEN RETURN; END IF;

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

  -- A voucher (v4): its own rules (revoked, unused past its use-by date, devices), and until
  -- its first Accept no subscription: the allowance is the batch's, the clock not started.
  -- v6: looked up only for subscribers of kind 'voucher' (the only ones vouchers.repo makes).
  v_found := false;
  IF v_subscriber.kind = 'voucher' THEN
    SELECT v.id, v.activated_at, v.revoked_at, b.expires_at, b.device_limit, b.duration_seconds,
           b.data_quota_bytes, b.session_timeout_seconds
      INTO v_voucher
    FROM vouchers v JOIN voucher_batches b ON b.tenant_id = v.tenant_id AND b.id = v.batch_id
    WHERE v.tenant_id = v_nas.tenant_id AND v.subscriber_id = v_subscriber.id;
    v_found := FOUND;
  END IF;
  IF v_found THEN
    v_mac := lango_mac(lango_text(calling_hex));
    IF v_tenant.status <> 'active' THEN
      v_reason := 'Service suspended';
    ELSIF v_voucher.revoked_at IS NOT NULL THEN
      v_reason := 'Voucher revoked';
    ELSIF v_voucher.activated_at IS NULL AND v_voucher.expires_at IS NOT NULL AND v_voucher.expires_at <= v_now THEN
      v_reason := 'Voucher expired';
    ELSIF v_mac IS NULL THEN
      v_reason := 'Device not identified';
    ELSIF NOT EXISTS (SELECT 1 FROM voucher_devices d WHERE d.voucher_id = v_voucher.id AND d.mac_address = v_mac)
          AND (SELECT count(*) FROM voucher_devices d WHERE d.voucher_id = v_voucher.id) >= v_voucher.device_limit THEN
      v_reason := 'Voucher already in use on another device';
    ELSIF v_voucher.activated_at IS NULL THEN
      v_timeout := v_voucher.duration_seconds;
      IF v_voucher.session_timeout_seconds IS NOT NULL THEN
        v_timeout := least(v_timeout, v_voucher.session_timeout_seconds);
      END IF;
      IF v_voucher.data_quota_bytes IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit'::text, (v_voucher.data_quota_bytes % 4294967296)::text, ':='::text;
        RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit-Gigawords'::text, (v_voucher.data_quota_bytes / 4294967296)::text, ':='::text;
      END IF;
      RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_timeout::text, ':='::text;
    ELSE
      SELECT * INTO v_sub FROM lango_covering_subscription(v_subscriber.id, v_now);
      IF NOT FOUND THEN
        v_reason := 'Voucher expired';
      ELSE
        SELECT l.seconds_left, l.bytes_left INTO v_timeout, v_left
        FROM lango_period_left(v_nas.tenant_id, v_user, v_sub.id, v_sub.starts_at, v_sub.ends_at,
                               v_sub.data_quota_bytes, v_sub.session_timeout_seconds, v_now) l;
        IF v_timeout < 1 THEN
          v_reason := 'Voucher expired';
        ELSIF v_left <= 0 THEN
          v_reason := 'Data quota exhausted';
        ELSE
          IF v_left IS NOT NULL THEN
            RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit'::text, (v_left % 4294967296)::text, ':='::text;
            RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit-Gigawords'::text, (v_left / 4294967296)::text, ':='::text;
          END IF;
          RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_timeout::text, ':='::text;
        END IF;
      END IF;
    END IF;
    IF v_reason IS NOT NULL THEN
      RETURN QUERY SELECT 0, v_user, 'Lango-Reject-Reason'::text, v_reason, ':='::text;
    ELSE
      RETURN QUERY SELECT 0, v_user, 'Lango-Voucher-Id'::text, v_voucher.id::text, ':='::text;
    END IF;
    -- A voucher has nothing to renew, so it is never soft-blocked.
    RETURN;
  END IF;

  IF v_tenant.status <> 'active' THEN
    v_reason := 'Service suspended';
  ELSIF v_subscriber.status <> 'active' THEN
    v_reason := 'Account suspended';
  ELSE
    SELECT * INTO v_sub FROM lango_covering_subscription(v_subscriber.id, v_now);
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
      SELECT l.seconds_left, l.bytes_left INTO v_timeout, v_left
      FROM lango_period_left(v_nas.tenant_id, v_user, v_sub.id, v_sub.starts_at, v_sub.ends_at,
                             v_sub.data_quota_bytes, v_sub.session_timeout_seconds, v_now) l;
      IF v_timeout < 1 THEN
        v_reason := 'Subscription expired';
      ELSIF v_left <= 0 THEN
        v_reason := 'Data quota exhausted';
      ELSE
        IF v_left IS NOT NULL THEN
          RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit'::text, (v_left % 4294967296)::text, ':='::text;
          RETURN QUERY SELECT 0, v_user, 'Lango-Total-Limit-Gigawords'::text, (v_left / 4294967296)::text, ':='::text;
        END IF;
        RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_timeout::text, ':='::text;
      END IF;
    END IF;
  END IF;

  -- Soft block: out of time or data (never suspended or a foreign device) at a tenant that
  -- sends such users to the pay page instead of rejecting them.
  IF v_reason IN ('Subscription expired', 'No active subscription', 'Data quota exhausted')
     AND v_tenant.expiry_action = 'soft_block' THEN
    RETURN QUERY SELECT 0, v_user, 'Lango-Soft-Block'::text, v_tenant.walled_garden_list, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Rate-Limit'::text, v_tenant.soft_block_rate_limit, ':='::text;
    RETURN QUERY SELECT 0, v_user, 'Lango-Session-Timeout'::text, v_tenant.soft_block_session_timeout::text, ':='::text;
    v_reason := NULL;
  END IF;

  IF v_reason IS NOT NULL THEN
    RETURN QUERY SELECT 0, v_user, 'Lango-Reject-Reason'::text, v_reason, ':='::text;
  END IF;
END $$;
