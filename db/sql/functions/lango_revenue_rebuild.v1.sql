-- Recompute one tenant's revenue and funnel rollups from the base tables: after its time zone changed
-- (so every day is the tenant's again), and to fill them when the rollups were created. The same
-- sums as reports.sales and the funnel over raw payments.
CREATE OR REPLACE FUNCTION lango_revenue_rebuild(p_tenant uuid) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  tz text := (SELECT time_zone FROM tenants WHERE id = p_tenant);
BEGIN
  DELETE FROM revenue_rollup WHERE tenant_id = p_tenant;
  DELETE FROM funnel_rollup WHERE tenant_id = p_tenant;
  INSERT INTO revenue_rollup (tenant_id, day, plan_id, channel, sales, refunds, gross_amount, refunded_amount)
  SELECT tenant_id, day, plan_id, channel, sum(sales), sum(refunds), sum(gross), sum(refunded) FROM (
    SELECT l.tenant_id, (l.created_at AT TIME ZONE tz)::date AS day,
           coalesce(p.plan_id, '00000000-0000-0000-0000-000000000000'::uuid) AS plan_id, p.channel,
           (l.kind = 'credit')::int AS sales, (l.kind = 'refund')::int AS refunds,
           CASE WHEN l.kind = 'credit' THEN l.amount ELSE 0 END AS gross,
           CASE WHEN l.kind = 'refund' THEN -l.amount ELSE 0 END AS refunded
    FROM ledger_entries l JOIN payments p ON p.id = l.payment_id
    WHERE l.tenant_id = p_tenant
    UNION ALL
    SELECT v.tenant_id, (v.activated_at AT TIME ZONE tz)::date,
           coalesce(b.plan_id, '00000000-0000-0000-0000-000000000000'::uuid), 'voucher', 1, 0, b.price, 0
    FROM vouchers v JOIN voucher_batches b ON b.id = v.batch_id
    WHERE v.tenant_id = p_tenant AND v.activated_at IS NOT NULL
  ) s GROUP BY tenant_id, day, plan_id, channel;
  INSERT INTO funnel_rollup (tenant_id, day, channel, initiated, pending, completed, cancelled, failed, expired,
                             unallocated, refunded, completed_amount)
  SELECT tenant_id, (created_at AT TIME ZONE tz)::date, channel, count(*),
         count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'completed'),
         count(*) FILTER (WHERE state = 'cancelled'), count(*) FILTER (WHERE state = 'failed'),
         count(*) FILTER (WHERE state = 'expired'), count(*) FILTER (WHERE allocation = 'unallocated'),
         count(*) FILTER (WHERE allocation = 'refunded'), coalesce(sum(amount) FILTER (WHERE state = 'completed'), 0)
  FROM payments WHERE tenant_id = p_tenant
  GROUP BY 1, 2, 3;
END $$;
