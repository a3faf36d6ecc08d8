-- Active sessions over time: the worker's samples of open sessions per NAS (src/jobs/samples.ts),
-- one row per NAS and sampled instant, with the instant's tenant day.
CREATE OR REPLACE VIEW reports.session_samples WITH (security_barrier = true) AS
SELECT s.tenant_id, (s.sampled_at AT TIME ZONE t.time_zone)::date AS day, s.sampled_at AS at,
       s.nas_id, n.shortname AS nas_name, s.active_sessions, s.active_users
FROM public.session_samples s
JOIN public.tenants t ON t.id = s.tenant_id
JOIN public.nas n ON n.id = s.nas_id
WHERE s.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
