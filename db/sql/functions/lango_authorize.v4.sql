-- v4: the plan-reply fast path (proposed in docs/decisions.md 72, built as the "plan-reply fast
-- path" decision after it). Five attributes that every plan
-- writes (Acct-Interim-Interval, Mikrotik-Rate-Limit, WISPr-Bandwidth-Max-Up/-Down, Idle-Timeout)
-- come back as typed control attributes Lango-Reply-* (freeradius/dictionary), which
-- policy.d/lango-authorize copies into the reply with one update, instead of as Lango-Reply rows
-- that its foreach parses one by one. Exact, attribute by attribute: rows for different
-- attributes do not affect each other, and when every row for an attribute is `:=` the reply
-- holds the last one's value whatever came before. So an attribute takes the fast path only
-- when each of its rows (names compared case-insensitively, as the dictionary does) is `:=`,
-- names it exactly (no tag) and has a value that FreeRADIUS takes as is (integers: decimal,
-- 0..4294967295; the string: 1..253 bytes, no control characters). Otherwise all its rows stay
-- Lango-Reply rows, in order, as in v3. No fast path at all for a login with a row that could
-- name one of the five by number (Attr-N, Vendor-N-Attr-M, Vendor-Specific, a leading digit).
-- The rows are classified in a PL/pgSQL loop over the one ordered query, not with window
-- functions: three sorts and window nodes per call cost PostgreSQL about three times what the
-- loop does (decisions.md, "The plan-reply fast path, built").
-- A fast value is encoded once by lango_rad_value() (rlm_sql unescapes it once; the update copies
-- it without expansion). A Lango-Reply row's value is encoded three times, not twice as in v3:
-- it is unescaped by rlm_sql, then twice more on its way through the policy's foreach and update
-- (measured in tests/e2e/aaa.test.ts: with v3 a stored backslash-n arrived as a newline, \\ as \).
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
  -- The reply rows, in order, and per row its fast-path attribute (1..5) or NULL.
  v_attr text[] := '{}';
  v_op text[] := '{}';
  v_val text[] := '{}';
  v_c integer[] := '{}';
  v_bad boolean[] := '{f,f,f,f,f}';
  v_last integer[] := '{0,0,0,0,0}';
  v_raw boolean := false;
  v_k integer;
  c integer;
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
  FOR r IN
    SELECT u.attribute, u.op, u.value, lower(split_part(u.attribute, ':', 1)) AS base, lower(u.attribute) AS la
    FROM (
      SELECT gr.attribute, gr.op::text AS op, gr.value, 0 AS k, ug.priority AS p, gr.id AS i
      FROM radusergroup ug
      JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
      WHERE ug.tenant_id = v_tenant AND ug.username = v_user
      UNION ALL
      SELECT rr.attribute, rr.op::text, rr.value, 1, 0, rr.id
      FROM radreply rr WHERE rr.tenant_id = v_tenant AND rr.username = v_user
    ) u
    ORDER BY u.k, u.p, u.i
  LOOP
    c := CASE r.base WHEN 'acct-interim-interval' THEN 1 WHEN 'mikrotik-rate-limit' THEN 2
                     WHEN 'wispr-bandwidth-max-up' THEN 3 WHEN 'wispr-bandwidth-max-down' THEN 4
                     WHEN 'idle-timeout' THEN 5 END;
    v_attr := v_attr || r.attribute; v_op := v_op || r.op; v_val := v_val || r.value; v_c := v_c || c;
    IF c IS NULL THEN
      IF strpos(r.la, 'attr-') > 0 OR r.la LIKE 'vendor-specific%' OR strpos('0123456789', left(r.la, 1)) > 0 THEN
        v_raw := true;
      END IF;
    ELSE
      v_last[c] := cardinality(v_c);
      IF NOT (r.op = ':=' AND r.la = r.base AND CASE
                WHEN c = 2 THEN octet_length(r.value) BETWEEN 1 AND 253 AND r.value !~ '[[:cntrl:]]'
                WHEN length(r.value) BETWEEN 1 AND 10 AND translate(r.value, '0123456789', '') = ''
                  THEN r.value::bigint <= 4294967295
                ELSE false END) THEN
        v_bad[c] := true;
      END IF;
    END IF;
  END LOOP;
  id := 0; username := v_user;
  FOR v_k IN 1..cardinality(v_c) LOOP
    c := v_c[v_k];
    IF c IS NULL OR v_raw OR v_bad[c] THEN
      attribute := 'Lango-Reply'; op := '+=';
      value := lango_rad_value(v_attr[v_k] || ' ' || v_op[v_k] || ' ' || lango_rad_value(lango_rad_value(v_val[v_k])));
      RETURN NEXT;
    ELSIF v_last[c] = v_k THEN
      attribute := (ARRAY['Lango-Reply-Interim-Interval', 'Lango-Reply-Rate-Limit', 'Lango-Reply-Max-Up',
                          'Lango-Reply-Max-Down', 'Lango-Reply-Idle-Timeout'])[c];
      op := ':='; value := lango_rad_value(v_val[v_k]);
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;
