-- One row per sale or refund, the source of the revenue reports: each ledger entry of a payment
-- (a credit of an M-Pesa STK, C2B or manual payment, or a refund of one, negative) and each
-- voucher at its activation (its first Access-Accept: the only moment Lango sees a printed voucher
-- sold; its batch's price). `day` is the tenant's day of `at`; the plan is the payment's (what it
-- bought once allocated, NULL while unallocated) or the voucher batch's.
CREATE OR REPLACE VIEW reports.sales WITH (security_barrier = true) AS
SELECT l.tenant_id, l.created_at AS at, (l.created_at AT TIME ZONE t.time_zone)::date AS day,
       p.channel, l.kind, p.plan_id, l.amount::bigint AS amount, l.payment_id, NULL::uuid AS voucher_id, NULL::uuid AS batch_id
FROM public.ledger_entries l
JOIN public.payments p ON p.id = l.payment_id
JOIN public.tenants t ON t.id = l.tenant_id
WHERE l.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
UNION ALL
SELECT v.tenant_id, v.activated_at AS at, (v.activated_at AT TIME ZONE t.time_zone)::date AS day,
       'voucher' AS channel, 'credit' AS kind, b.plan_id, b.price::bigint AS amount, NULL::uuid AS payment_id, v.id AS voucher_id, v.batch_id
FROM public.vouchers v
JOIN public.voucher_batches b ON b.id = v.batch_id
JOIN public.tenants t ON t.id = v.tenant_id
WHERE v.activated_at IS NOT NULL AND v.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
