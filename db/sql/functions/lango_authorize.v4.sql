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
    WITH f(name, ctl, num) AS (
      VALUES ('acct-interim-interval', 'Lango-Reply-Interim-Interval', true),
             ('mikrotik-rate-limit', 'Lango-Reply-Rate-Limit', false),
             ('wispr-bandwidth-max-up', 'Lango-Reply-Max-Up', true),
             ('wispr-bandwidth-max-down', 'Lango-Reply-Max-Down', true),
             ('idle-timeout', 'Lango-Reply-Idle-Timeout', true)
    ), x AS (
      SELECT u.attribute, u.op, u.value, row_number() OVER (ORDER BY u.k, u.p, u.i) AS n,
             lower(split_part(u.attribute, ':', 1)) AS base,
             u.attribute ~* '^[0-9]|attr-[0-9]|^vendor-specific' AS raw
      FROM (
        SELECT gr.attribute, gr.op::text AS op, gr.value, 0 AS k, ug.priority AS p, gr.id AS i
        FROM radusergroup ug
        JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
        WHERE ug.tenant_id = v_tenant AND ug.username = v_user
        UNION ALL
        SELECT rr.attribute, rr.op::text, rr.value, 1, 0, rr.id
        FROM radreply rr WHERE rr.tenant_id = v_tenant AND rr.username = v_user
      ) u
    ), y AS (
      SELECT x.*, f.ctl,
             bool_and(coalesce(f.ctl IS NOT NULL AND lower(x.attribute) = f.name AND x.op = ':=' AND
                      CASE WHEN NOT f.num THEN octet_length(x.value) BETWEEN 1 AND 253 AND x.value !~ '[[:cntrl:]]'
                           WHEN x.value ~ '^[0-9]{1,10}$' THEN x.value::bigint <= 4294967295
                           ELSE false END, false))
               OVER (PARTITION BY x.base) AND NOT bool_or(x.raw) OVER () AS fast,
             x.n = max(x.n) OVER (PARTITION BY x.base) AS last
      FROM x LEFT JOIN f ON f.name = x.base
    )
    SELECT 0, v_user,
           CASE WHEN y.fast THEN y.ctl ELSE 'Lango-Reply' END,
           CASE WHEN y.fast THEN lango_rad_value(y.value)
                ELSE lango_rad_value(y.attribute || ' ' || y.op || ' ' || lango_rad_value(lango_rad_value(y.value))) END,
           CASE WHEN y.fast THEN ':=' ELSE '+=' END
    FROM y
    WHERE NOT y.fast OR y.last
    ORDER BY y.n;
END $$;
