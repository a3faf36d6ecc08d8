-- The NAS a packet belongs to: by source address, and by NAS-Identifier when several NAS
-- share an address (behind a NAT or VPN concentrator). An exact identifier match wins.
-- Only approved NAS exist for RADIUS (see lango_client()).
CREATE OR REPLACE FUNCTION lango_nas_find(src text, ident text) RETURNS TABLE (nas_id uuid, tenant_id uuid)
LANGUAGE sql STABLE AS $$
  SELECT n.id, n.tenant_id FROM nas n
  WHERE n.nasname = src AND n.approved_at IS NOT NULL AND (n.identifier IS NULL OR n.identifier = ident)
  ORDER BY n.identifier IS NULL
  LIMIT 1
$$;
