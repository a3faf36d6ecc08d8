-- What a covering subscription period still allows at `p_now`: seconds (up to the period's end,
-- capped by the plan's session cap) and, for a period with a data quota, bytes
-- (lango_period_usage). Bytes are only counted while time is left. The one computation used by
-- authorize for subscribers and for vouchers after their first login.
CREATE OR REPLACE FUNCTION lango_period_left(p_tenant uuid, p_username text, p_subscription uuid, p_starts_at timestamptz,
                                             p_ends_at timestamptz, p_quota bigint, p_session_cap integer, p_now timestamptz,
                                             OUT seconds_left bigint, OUT bytes_left bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  seconds_left := floor(extract(epoch FROM p_ends_at - p_now));
  IF p_session_cap IS NOT NULL THEN
    seconds_left := least(seconds_left, p_session_cap);
  END IF;
  IF seconds_left >= 1 AND p_quota IS NOT NULL THEN
    bytes_left := p_quota - lango_period_usage(p_tenant, p_username, p_subscription, p_starts_at);
  END IF;
END $$;
