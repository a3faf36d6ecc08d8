-- Active (accounting open) sessions per NAS, from radacct's partial index on open sessions.
CREATE OR REPLACE VIEW reports.active_sessions WITH (security_barrier = true) AS
SELECT n.tenant_id, n.id AS nas_id, n.shortname AS nas_name, n.nasname AS nas_address,
       count(a.radacctid)::bigint AS active_sessions, count(DISTINCT a.username)::bigint AS active_users,
       min(a.acctstarttime) AS oldest_start, max(a.acctupdatetime) AS last_update_at
FROM public.nas n
LEFT JOIN public.radacct a ON a.nas_id = n.id AND a.acctstoptime IS NULL
WHERE n.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[])
GROUP BY n.tenant_id, n.id, n.shortname, n.nasname;
