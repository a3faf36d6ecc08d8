-- Per NAS: when accounting was last seen, Accounting-On/Off counts, open sessions, and the
-- outcomes of CoA/Disconnect requests sent to it in the last 24 hours.
CREATE OR REPLACE VIEW reports.nas_health WITH (security_barrier = true) AS
SELECT n.tenant_id, n.id AS nas_id, n.shortname AS nas_name, n.nasname AS nas_address, n.kind,
       n.approved_at IS NOT NULL AS approved,
       nullif(greatest(coalesce(u.last_seen_at, '-infinity'), coalesce(st.last_on_off_at, '-infinity')), '-infinity') AS last_accounting_at,
       coalesce(st.accounting_on_count, 0)::bigint AS accounting_on_count,
       coalesce(st.accounting_off_count, 0)::bigint AS accounting_off_count,
       st.last_on_off_at,
       (SELECT count(*) FROM public.radacct a WHERE a.nas_id = n.id AND a.acctstoptime IS NULL)::bigint AS active_sessions,
       coalesce(e.ack, 0)::bigint AS coa_ack_24h, coalesce(e.nak, 0)::bigint AS coa_nak_24h,
       coalesce(e.timeout, 0)::bigint AS coa_timeout_24h, coalesce(e.failed, 0)::bigint AS coa_failed_24h,
       coalesce(e.pending, 0)::bigint AS coa_pending
FROM public.nas n
LEFT JOIN public.nas_acct_state st ON st.nas_id = n.id
LEFT JOIN LATERAL (
  SELECT max(d.last_seen_at) AS last_seen_at FROM public.usage_daily d
  WHERE d.nas_id = n.id AND d.day = (SELECT max(d2.day) FROM public.usage_daily d2 WHERE d2.nas_id = n.id)
) u ON true
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE x.status = 'ack') AS ack, count(*) FILTER (WHERE x.status = 'nak') AS nak,
         count(*) FILTER (WHERE x.status = 'timeout') AS timeout, count(*) FILTER (WHERE x.status = 'failed') AS failed,
         count(*) FILTER (WHERE x.status IN ('pending', 'sending')) AS pending
  FROM public.enforcement_actions x
  WHERE x.tenant_id = n.tenant_id AND x.nas_id = n.id AND x.created_at >= now() - interval '24 hours'
) e ON true
WHERE n.tenant_id = ANY ((SELECT public.lango_report_tenants())::uuid[]);
