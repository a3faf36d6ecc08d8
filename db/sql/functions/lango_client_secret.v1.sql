-- The secret of a source address for FreeRADIUS's dynamic clients (NULL: unknown client).
CREATE OR REPLACE FUNCTION lango_client_secret(src text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT n.secret FROM nas n WHERE n.nasname = src ORDER BY n.identifier IS NULL DESC, n.created_at LIMIT 1
$$;
