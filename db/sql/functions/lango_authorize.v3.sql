-- v3: authorize in one round trip. The plan's group replies and the user's own replies
-- (radgroupreply, radreply: every row, whatever attribute an operator adds) come with the check
-- rows, as control attributes Lango-Reply "<attribute> <op> <value>" that
-- policy.d/lango-authorize copies into the reply after the password matched (rlm_sql puts every
-- row of authorize_check_query into control and has no way to route one to the reply). So
-- authorize_reply_query, a second round trip per login, is not needed. No reply rows for a
-- reject decided here (throttled, policy): they would be filtered out of the reject anyway.
-- The value is encoded twice by lango_rad_value(): rlm_sql unescapes the control attribute once,
-- unlang's assignment of the captured value unescapes it again (lango_rad_value.v1.sql), so the
-- reply gets exactly the stored bytes.
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
  IF v_tenant IS NULL OR v_rejected THEN RETURN; END IF;
  IF v_simul IS NOT NULL
     AND (SELECT count(*) FROM radacct a WHERE a.tenant_id = v_tenant AND a.username = v_user AND a.acctstoptime IS NULL) >= v_simul THEN
    id := 0; username := v_user; attribute := 'Lango-Reject-Reason'; op := ':=';
    value := 'You are already logged in - access denied';
    RETURN NEXT;
    RETURN;
  END IF;
  -- The plan's group replies first, then the user's own (which win: Lango writes them with :=).
  RETURN QUERY
    SELECT 0, v_user, 'Lango-Reply'::text,
           lango_rad_value(x.attribute || ' ' || x.op || ' ' || lango_rad_value(x.value)), '+='::text
    FROM (
      SELECT gr.attribute, gr.op::text AS op, gr.value, 0 AS k, ug.priority AS p, gr.id AS i
      FROM radusergroup ug
      JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
      WHERE ug.tenant_id = v_tenant AND ug.username = v_user
      UNION ALL
      SELECT rr.attribute, rr.op::text, rr.value, 1, 0, rr.id
      FROM radreply rr WHERE rr.tenant_id = v_tenant AND rr.username = v_user
    ) x
    ORDER BY x.k, x.p, x.i;
END $$;
