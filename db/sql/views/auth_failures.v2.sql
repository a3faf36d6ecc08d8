-- Rejected authentications per tenant day and reason ('unknown' when FreeRADIUS gave none).
-- v2: the sum of auth_daily's shards (lango_auth_rollup v2).
CREATE OR REPLACE VIEW reports.auth_failures WITH (security_barrier = true) AS
SELECT a.tenant_id, a.day, coalesce(nullif(a.reason, ''), 'unknown') AS reason, sum(a.attempts)::bigint AS failures, max(a.last_at) AS last_at
FROM public.auth_daily a
WHERE a.reply = 'Access-Reject' AND a.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY a.tenant_id, a.day, a.reason;
