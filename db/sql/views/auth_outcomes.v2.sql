-- Authentication outcomes per tenant day, reply and reason, from the rollup auth_daily (fed by
-- radpostauth). v2: the sum of auth_daily's shards (lango_auth_rollup v2).
CREATE OR REPLACE VIEW reports.auth_outcomes WITH (security_barrier = true) AS
SELECT a.tenant_id, a.day, a.reply, nullif(a.reason, '') AS reason, sum(a.attempts)::bigint AS attempts, max(a.last_at) AS last_at
FROM public.auth_daily a
WHERE a.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY a.tenant_id, a.day, a.reply, a.reason;
