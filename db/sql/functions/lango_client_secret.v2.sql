-- The secret of a source address for FreeRADIUS's dynamic clients ('' for an unknown address or
-- a NAS not approved yet). Encoded by lango_rad_value(): unlang unescapes the %{sql:} output when
-- it assigns it to FreeRADIUS-Client-Secret, and the secret must arrive as stored, whatever it
-- holds. NAS that share an address share the secret. Runs with the owner's rights.
CREATE OR REPLACE FUNCTION lango_client_secret(src text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN coalesce((
    SELECT lango_rad_value(n.secret) FROM nas n
    WHERE n.nasname = src AND n.approved_at IS NOT NULL
    ORDER BY n.identifier IS NULL DESC, n.created_at LIMIT 1), '');
END $$;
