-- Enforcement (CoA/Disconnect) outcomes per tenant day (of the action's creation), kind, reason
-- and status, with the mean round trip and the worst lateness behind the time it was due.
CREATE OR REPLACE VIEW reports.enforcement_outcomes WITH (security_barrier = true) AS
SELECT x.tenant_id, (x.created_at AT TIME ZONE t.time_zone)::date AS day, x.kind, x.reason, x.status,
       count(*)::bigint AS actions,
       round(avg(x.rtt_ms))::int AS avg_rtt_ms,
       max(extract(epoch FROM x.completed_at - x.due_at))::int AS max_lateness_seconds
FROM public.enforcement_actions x
JOIN public.tenants t ON t.id = x.tenant_id
WHERE x.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY x.tenant_id, (x.created_at AT TIME ZONE t.time_zone)::date, x.kind, x.reason, x.status;
