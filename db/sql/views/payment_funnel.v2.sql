-- The payment funnel per tenant day (of the payment's creation) and channel: every payment
-- initiated (an STK Push sent, a C2B or manual payment recorded) and where it is now, read from
-- the rollup that a trigger on payments keeps (funnel_rollup, lango_funnel_rollup).
-- unallocated and refunded are completed payments (credited) waiting for staff / paid back.
CREATE OR REPLACE VIEW reports.payment_funnel WITH (security_barrier = true) AS
SELECT f.tenant_id, f.day, f.channel, f.initiated, f.pending, f.completed, f.cancelled, f.failed, f.expired,
       f.unallocated, f.refunded, f.completed_amount
FROM public.funnel_rollup f
WHERE f.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]) AND f.initiated <> 0;
