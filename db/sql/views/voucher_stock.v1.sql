-- Voucher sales and stock per batch: how many of its vouchers are still in stock (unused, not
-- revoked, not past the use-by date), sold (activated), revoked before use, or expired unused,
-- and what the sold ones brought in (activations x the batch's price).
CREATE OR REPLACE VIEW reports.voucher_stock WITH (security_barrier = true) AS
SELECT b.tenant_id, b.id AS batch_id, (b.created_at AT TIME ZONE t.time_zone)::date AS created_day,
       b.plan_id, b.plan_name, b.price, b.quantity, b.expires_at, b.note,
       count(v.id) FILTER (WHERE v.activated_at IS NULL AND v.revoked_at IS NULL AND (b.expires_at IS NULL OR b.expires_at > now()))::bigint AS in_stock,
       count(v.id) FILTER (WHERE v.activated_at IS NOT NULL)::bigint AS sold,
       count(v.id) FILTER (WHERE v.activated_at IS NULL AND v.revoked_at IS NOT NULL)::bigint AS revoked_unused,
       count(v.id) FILTER (WHERE v.activated_at IS NULL AND v.revoked_at IS NULL AND b.expires_at <= now())::bigint AS expired_unused,
       (count(v.id) FILTER (WHERE v.activated_at IS NOT NULL) * b.price)::bigint AS sold_amount,
       min(v.activated_at) AS first_sold_at, max(v.activated_at) AS last_sold_at
FROM public.voucher_batches b
JOIN public.tenants t ON t.id = b.tenant_id
LEFT JOIN public.vouchers v ON v.batch_id = b.id
WHERE b.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY b.tenant_id, b.id, t.time_zone;
