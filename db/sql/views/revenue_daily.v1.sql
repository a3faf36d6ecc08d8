-- Revenue per tenant day, plan and channel (stk, c2b, manual, voucher), summed from reports.sales:
-- sales (credits and voucher activations), refunds, and the amounts in the tenant's minor units.
CREATE OR REPLACE VIEW reports.revenue_daily WITH (security_barrier = true) AS
SELECT s.tenant_id, s.day, s.plan_id, pl.name AS plan_name, s.channel,
       count(*) FILTER (WHERE s.kind = 'credit')::bigint AS sales,
       count(*) FILTER (WHERE s.kind = 'refund')::bigint AS refunds,
       coalesce(sum(s.amount) FILTER (WHERE s.kind = 'credit'), 0)::bigint AS gross_amount,
       coalesce(-sum(s.amount) FILTER (WHERE s.kind = 'refund'), 0)::bigint AS refunded_amount,
       sum(s.amount)::bigint AS net_amount
FROM reports.sales s
LEFT JOIN public.plans pl ON pl.id = s.plan_id
GROUP BY s.tenant_id, s.day, s.plan_id, pl.name, s.channel;
