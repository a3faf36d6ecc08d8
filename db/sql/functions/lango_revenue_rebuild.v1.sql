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
  -- reports.sales is the one definition of a sale (ledger entries and activated vouchers); its
  -- day is already the tenant's current one. Called by the application or the migrating role,
  -- for which lango_report_tenants() lets every tenant through.
  INSERT INTO revenue_rollup (tenant_id, day, plan_id, channel, sales, refunds, gross_amount, refunded_amount)
  SELECT tenant_id, day, coalesce(plan_id, '00000000-0000-0000-0000-000000000000'::uuid), channel,
         count(*) FILTER (WHERE kind = 'credit'), count(*) FILTER (WHERE kind = 'refund'),
         coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0), coalesce(-sum(amount) FILTER (WHERE kind = 'refund'), 0)
  FROM reports.sales WHERE tenant_id = p_tenant
  GROUP BY 1, 2, 3, 4;
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
