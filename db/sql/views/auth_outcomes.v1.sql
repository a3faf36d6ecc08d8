-- Authentication outcomes per tenant day, reply and reason, from the rollup auth_daily (fed by
-- radpostauth).
CREATE OR REPLACE VIEW reports.auth_outcomes WITH (security_barrier = true) AS
SELECT a.tenant_id, a.day, a.reply, nullif(a.reason, '') AS reason, a.attempts, a.last_at
FROM public.auth_daily a
WHERE a.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
