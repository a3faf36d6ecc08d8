-- Top users per tenant month by total octets (rank 1 = the heaviest).
CREATE OR REPLACE VIEW reports.top_users WITH (security_barrier = true) AS
SELECT m.tenant_id, m.month, m.username, m.subscriber_id, m.input_octets, m.output_octets, m.total_octets,
       m.session_seconds, rank() OVER (PARTITION BY m.tenant_id, m.month ORDER BY m.total_octets DESC)::int AS rank
FROM reports.usage_monthly m;
