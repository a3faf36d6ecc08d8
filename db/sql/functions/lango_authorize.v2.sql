-- authorize_check_query (the entry point FreeRADIUS calls): lango_authorize_check() plus
-- Simultaneous-Use, decided here, with every value encoded by lango_rad_value() so that rlm_sql
-- takes it literally (no xlat of `...`, no unquoting, no backslash unescaping). Runs with the
-- owner's rights (FreeRADIUS's database role may only execute the entry points) and a fixed
-- search_path.
CREATE OR REPLACE FUNCTION lango_authorize(src text, ident_hex text, user_hex text, calling_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  v_simul integer;
  v_tenant uuid;
  v_user text;
  v_rejected boolean := false;
BEGIN
  FOR r IN SELECT * FROM lango_authorize_check(src, ident_hex, user_hex, calling_hex) LOOP
    IF r.attribute = 'Simultaneous-Use' THEN
      v_simul := CASE WHEN r.value ~ '^[0-9]{1,9}$' THEN r.value::integer END;
      CONTINUE;
    END IF;
    IF r.attribute = 'Lango-Tenant-Id' THEN v_tenant := r.value::uuid; END IF;
    IF r.attribute IN ('Lango-Reject-Reason', 'Lango-Throttled') THEN v_rejected := true; END IF;
    v_user := r.username;
    id := r.id; username := r.username; attribute := r.attribute; value := lango_rad_value(r.value); op := r.op;
    RETURN NEXT;
  END LOOP;
  IF v_simul IS NOT NULL AND NOT v_rejected AND v_tenant IS NOT NULL
     AND (SELECT count(*) FROM radacct a WHERE a.tenant_id = v_tenant AND a.username = v_user AND a.acctstoptime IS NULL) >= v_simul THEN
    id := 0; username := v_user; attribute := 'Lango-Reject-Reason'; op := ':=';
    value := 'You are already logged in - access denied';
    RETURN NEXT;
  END IF;
END $$;
