-- Bytes (in + out) used in a subscription period: every session that overlaps the period
-- (started in it, still open, or closed after it began; looked for in the 31 days before its
-- start so it stays index-backed), each counted from its baseline in subscription_baselines
-- (its counters when the period began, see lango_snapshot_baselines()) when it has one. A
-- session that straddles the start without a baseline counts in full: never an under-count.
-- The one definition used by authorize and by the worker's quota check.
CREATE OR REPLACE FUNCTION lango_period_usage(p_tenant uuid, p_username text, p_subscription uuid, p_starts_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (
    SELECT coalesce(sum(greatest(0, coalesce(a.acctinputoctets, 0) + coalesce(a.acctoutputoctets, 0) - coalesce(b.octets, 0))), 0)::bigint
    FROM radacct a
    LEFT JOIN subscription_baselines b ON b.subscription_id = p_subscription AND b.radacct_id = a.radacctid
    WHERE a.tenant_id = p_tenant AND a.username = p_username
      AND a.acctstarttime >= p_starts_at - interval '31 days'
      AND (a.acctstarttime >= p_starts_at OR a.acctstoptime IS NULL OR a.acctstoptime > p_starts_at));
END $$;
