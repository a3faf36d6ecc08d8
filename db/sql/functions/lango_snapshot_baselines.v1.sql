-- Record, for a subscription period, the counters of the subscriber's sessions that began
-- before the period: lango_period_usage() then counts only what they use after it. Called when
-- a period is created (the API, a payment) and by the worker when a period starts. Only counters
-- reported no later than the period's start are taken (a later report would include the new
-- period's own bytes and under-count it), and a later call can only raise a baseline, so the
-- period never counts less than its own bytes (at most one interim interval more). Returns the
-- sessions recorded.
CREATE OR REPLACE FUNCTION lango_snapshot_baselines(p_subscription uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_n integer;
BEGIN
  INSERT INTO subscription_baselines AS b (tenant_id, subscription_id, radacct_id, octets)
  SELECT sb.tenant_id, sb.id, a.radacctid, coalesce(a.acctinputoctets, 0) + coalesce(a.acctoutputoctets, 0)
  FROM subscriptions sb
  JOIN subscribers s ON s.id = sb.subscriber_id
  JOIN radacct a ON a.tenant_id = s.tenant_id AND a.username = s.username AND a.acctstoptime IS NULL
  WHERE sb.id = p_subscription
    AND a.acctstarttime < sb.starts_at
    AND coalesce(a.acctupdatetime, a.acctstarttime) <= sb.starts_at
  ON CONFLICT (subscription_id, radacct_id) DO UPDATE SET octets = greatest(b.octets, EXCLUDED.octets), taken_at = now();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;
