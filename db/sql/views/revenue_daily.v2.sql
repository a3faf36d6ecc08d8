-- Revenue per tenant day, plan and channel (stk, c2b, manual, voucher), read from the rollup that
-- triggers keep (revenue_rollup, lango_revenue_rollup): the same sums as reports.sales, a few rows
-- per tenant day. A day, plan and channel whose sales were all moved to another plan is left out.
CREATE OR REPLACE VIEW reports.revenue_daily WITH (security_barrier = true) AS
SELECT r.tenant_id, r.day, nullif(r.plan_id, '00000000-0000-0000-0000-000000000000'::uuid) AS plan_id,
       pl.name AS plan_name, r.channel, r.sales, r.refunds, r.gross_amount, r.refunded_amount,
       (r.gross_amount - r.refunded_amount)::bigint AS net_amount
FROM public.revenue_rollup r
LEFT JOIN public.plans pl ON pl.id = r.plan_id
WHERE r.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]) AND (r.sales <> 0 OR r.refunds <> 0);
