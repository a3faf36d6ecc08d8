-- The payment funnel per tenant day (of the payment's creation) and channel: every payment
-- initiated (an STK Push sent, a C2B or manual payment recorded) and where it is now.
-- unallocated and refunded are completed payments (credited) waiting for staff / paid back.
CREATE OR REPLACE VIEW reports.payment_funnel WITH (security_barrier = true) AS
SELECT p.tenant_id, (p.created_at AT TIME ZONE t.time_zone)::date AS day, p.channel,
       count(*)::bigint AS initiated,
       count(*) FILTER (WHERE p.state = 'pending')::bigint AS pending,
       count(*) FILTER (WHERE p.state = 'completed')::bigint AS completed,
       count(*) FILTER (WHERE p.state = 'cancelled')::bigint AS cancelled,
       count(*) FILTER (WHERE p.state = 'failed')::bigint AS failed,
       count(*) FILTER (WHERE p.state = 'expired')::bigint AS expired,
       count(*) FILTER (WHERE p.allocation = 'unallocated')::bigint AS unallocated,
       count(*) FILTER (WHERE p.allocation = 'refunded')::bigint AS refunded,
       coalesce(sum(p.amount) FILTER (WHERE p.state = 'completed'), 0)::bigint AS completed_amount
FROM public.payments p
JOIN public.tenants t ON t.id = p.tenant_id
WHERE p.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY p.tenant_id, (p.created_at AT TIME ZONE t.time_zone)::date, p.channel;
