-- Add one difference to revenue_rollup on the tenant's day of p_at (a NULL plan is the zero uuid).
CREATE OR REPLACE FUNCTION lango_revenue_add(
  p_tenant uuid, p_at timestamptz, p_plan uuid, p_channel text,
  p_sales bigint, p_refunds bigint, p_gross bigint, p_refunded bigint
) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
  INSERT INTO revenue_rollup AS r (tenant_id, day, plan_id, channel, sales, refunds, gross_amount, refunded_amount)
  SELECT p_tenant, (p_at AT TIME ZONE t.time_zone)::date, coalesce(p_plan, '00000000-0000-0000-0000-000000000000'::uuid),
         p_channel, p_sales, p_refunds, p_gross, p_refunded
  FROM tenants t WHERE t.id = p_tenant
  ON CONFLICT (tenant_id, day, plan_id, channel) DO UPDATE SET
    sales = r.sales + EXCLUDED.sales, refunds = r.refunds + EXCLUDED.refunds,
    gross_amount = r.gross_amount + EXCLUDED.gross_amount, refunded_amount = r.refunded_amount + EXCLUDED.refunded_amount
$$;
