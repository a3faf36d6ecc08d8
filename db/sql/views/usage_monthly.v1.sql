-- Usage per subscriber per month (the tenant's calendar month; month is its first day).
CREATE OR REPLACE VIEW reports.usage_monthly WITH (security_barrier = true) AS
SELECT u.tenant_id, date_trunc('month', u.day)::date AS month, u.username, s.id AS subscriber_id,
       sum(u.input_octets)::bigint AS input_octets, sum(u.output_octets)::bigint AS output_octets,
       sum(u.input_octets + u.output_octets)::bigint AS total_octets,
       sum(u.session_seconds)::bigint AS session_seconds, sum(u.sessions)::bigint AS sessions
FROM public.usage_daily u
LEFT JOIN public.subscribers s ON s.tenant_id = u.tenant_id AND s.username = u.username
WHERE u.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY u.tenant_id, date_trunc('month', u.day)::date, u.username, s.id;
