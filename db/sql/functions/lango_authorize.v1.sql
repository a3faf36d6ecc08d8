-- authorize_check_query: lango_authorize_check() plus Simultaneous-Use, decided here.
CREATE OR REPLACE FUNCTION lango_authorize(src text, ident_hex text, user_hex text, calling_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
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
    IF r.attribute = 'Lango-Reject-Reason' THEN v_rejected := true; END IF;
    v_user := r.username;
    id := r.id; username := r.username; attribute := r.attribute; value := r.value; op := r.op;
    RETURN NEXT;
  END LOOP;
  IF v_simul IS NOT NULL AND NOT v_rejected AND v_tenant IS NOT NULL
     AND (SELECT count(*) FROM radacct a WHERE a.tenant_id = v_tenant AND a.username = v_user AND a.acctstoptime IS NULL) >= v_simul THEN
    id := 0; username := v_user; attribute := 'Lango-Reject-Reason'; op := ':=';
    value := 'You are already logged in - access denied';
    RETURN NEXT;
  END IF;
END $$;
