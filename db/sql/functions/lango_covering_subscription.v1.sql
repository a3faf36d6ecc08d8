-- "The subscriber is covered at t": the active subscription with starts_at <= t < ends_at
-- (the one ending last when periods overlap), or no row. The one definition used by authorize
-- (lango_authorize_check) and by the worker's checks, so they cannot disagree.
CREATE OR REPLACE FUNCTION lango_covering_subscription(p_subscriber uuid, p_at timestamptz)
RETURNS TABLE (id uuid, starts_at timestamptz, ends_at timestamptz, data_quota_bytes bigint, session_timeout_seconds integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT sb.id, sb.starts_at, sb.ends_at, sb.data_quota_bytes, sb.session_timeout_seconds
    FROM subscriptions sb
    WHERE sb.subscriber_id = p_subscriber AND sb.status = 'active'
      AND sb.starts_at <= p_at AND sb.ends_at > p_at
    ORDER BY sb.ends_at DESC
    LIMIT 1;
END $$;
