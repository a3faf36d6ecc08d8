-- Usage per subscriber, NAS and day (the rollup's own rows): which router carries whose traffic.
-- Cheaper than usage_daily when the subscriber is not needed (no join, no regrouping).
CREATE OR REPLACE VIEW reports.usage_nas_daily WITH (security_barrier = true) AS
SELECT u.tenant_id, u.day, u.nas_id, u.username, u.input_octets, u.output_octets,
       u.input_octets + u.output_octets AS total_octets, u.session_seconds, u.sessions, u.last_seen_at
FROM public.usage_daily u
WHERE u.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
