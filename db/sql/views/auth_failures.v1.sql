-- Rejected authentications per tenant day and reason ('unknown' when FreeRADIUS gave none).
CREATE OR REPLACE VIEW reports.auth_failures WITH (security_barrier = true) AS
SELECT a.tenant_id, a.day, coalesce(nullif(a.reason, ''), 'unknown') AS reason, a.attempts AS failures, a.last_at
FROM public.auth_daily a
WHERE a.reply = 'Access-Reject' AND a.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
