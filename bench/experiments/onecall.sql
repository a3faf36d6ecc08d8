-- Experiment: authorize in one round trip. The reply rows ride along as check items (into
-- control) and policy.d/lango-authorize copies the known reply attributes into the reply.
CREATE OR REPLACE FUNCTION lango_authorize_all(src text, ident_hex text, user_hex text, calling_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r record;
  v_tenant text;
BEGIN
  FOR r IN SELECT * FROM lango_authorize(src, ident_hex, user_hex, calling_hex) LOOP
    IF r.attribute = 'Lango-Tenant-Id' THEN v_tenant := r.value; END IF;
    id := r.id; username := r.username; attribute := r.attribute; value := r.value; op := r.op;
    RETURN NEXT;
  END LOOP;
  IF v_tenant IS NOT NULL THEN
    RETURN QUERY SELECT * FROM lango_authorize_reply(v_tenant, user_hex);
  END IF;
END $$;
