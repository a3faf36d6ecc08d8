-- Proposed fast path for the SQL that FreeRADIUS runs per packet (a new migration in db/,
-- e.g. 20261121000005_radius_fast_path.ts, with this as its up()). Measure it with
--   BENCH_LANGO_SQL=bench/proposals/db.sql BENCH_LANGO_OVERLAY_PATCH=bench/proposals/freeradius.diff npm run bench
--
-- Why: rlm_sql sends every query as a new literal text, so PostgreSQL parses and plans it per
-- packet. An inlined SQL function (lango_authorize_reply) or an INSERT ... SELECT ... JOIN
-- lango_nas_find(...) ON CONFLICT (post-auth, accounting) is re-planned every time: that planning
-- is most of their cost. Statements inside a PL/pgSQL function are planned once per connection
-- and then reused, so the per-packet query becomes "call a function" (trivial to plan).

-- 1. authorize_reply_query: same rows, same order; planned once per connection.
CREATE OR REPLACE FUNCTION lango_authorize_reply(tenant text, user_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_tenant uuid := nullif(tenant, '')::uuid;
  v_user text := lango_text(user_hex);
BEGIN
  RETURN QUERY
    SELECT gr.id, ug.username, gr.attribute, gr.value, gr.op::text
    FROM radusergroup ug
    JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
    WHERE ug.tenant_id = v_tenant AND ug.username = v_user
    ORDER BY ug.priority, gr.id;
  RETURN QUERY
    SELECT r.id, r.username, r.attribute, r.value, r.op::text
    FROM radreply r
    WHERE r.tenant_id = v_tenant AND r.username = v_user
    ORDER BY r.id;
END $$;

-- 2. authorize_check_query: lango_authorize() wraps lango_authorize_check() (unchanged) and also
--    decides Simultaneous-Use (one indexed count) instead of passing Simultaneous-Use on as a
--    check item, which makes rlm_sql run simul_count_query as a third round trip in the session
--    section. The reject then happens where every other Lango decision does (lango_post_auth,
--    after the password was verified), with FreeRADIUS's msg_denied text.
CREATE OR REPLACE FUNCTION lango_authorize(src text, ident_hex text, user_hex text, calling_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r record;
  v_user text;
  v_tenant uuid;
  v_simul integer;
  v_rejected boolean := false;
  v_open bigint;
BEGIN
  FOR r IN SELECT * FROM lango_authorize_check(src, ident_hex, user_hex, calling_hex) LOOP
    IF r.attribute = 'Simultaneous-Use' THEN
      -- The last one wins, as when rlm_sql moves the rows into the control list.
      v_simul := CASE WHEN r.value ~ '^[0-9]{1,9}$' THEN r.value::integer END;
      CONTINUE;
    END IF;
    IF r.attribute = 'Lango-Tenant-Id' THEN v_tenant := r.value::uuid; END IF;
    IF r.attribute = 'Lango-Reject-Reason' THEN v_rejected := true; END IF;
    v_user := r.username;
    id := r.id; username := r.username; attribute := r.attribute; value := r.value; op := r.op;
    RETURN NEXT;
  END LOOP;
  IF v_simul IS NOT NULL AND NOT v_rejected AND v_tenant IS NOT NULL THEN
    SELECT count(*) INTO v_open FROM radacct a
    WHERE a.tenant_id = v_tenant AND a.username = v_user AND a.acctstoptime IS NULL;
    IF v_open >= v_simul THEN
      id := 0; username := v_user; attribute := 'Lango-Reject-Reason'; op := ':=';
      -- FreeRADIUS's msg_denied, with the limit when it is above 1 (as its session check does).
      value := 'You are already logged in - access denied' || CASE WHEN v_simul > 1 THEN ' (' || v_simul || ')' ELSE '' END;
      RETURN NEXT;
    END IF;
  END IF;
END $$;

-- 3. post-auth: one INSERT planned once per connection. The tenant and NAS that authorize
--    found are passed in (control:Lango-Tenant-Id / Lango-Nas-Id); only when authorize found
--    nothing (unknown user or NAS) is the NAS looked up again.
CREATE OR REPLACE FUNCTION lango_postauth(tenant text, nas text, src text, ident_hex text, user_hex text,
  reply text, reason_hex text, called_hex text, calling_hex text, cls text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_tenant uuid := nullif(tenant, '')::uuid;
  v_nas uuid := nullif(nas, '')::uuid;
BEGIN
  IF v_tenant IS NULL THEN
    SELECT f.tenant_id, f.nas_id INTO v_tenant, v_nas FROM lango_nas_find(src, lango_text(ident_hex)) f;
  END IF;
  INSERT INTO radpostauth (tenant_id, nas_id, username, reply, reason, calledstationid, callingstationid, authdate, class)
  VALUES (v_tenant, v_nas, lango_text(user_hex), reply, nullif(lango_text(reason_hex), ''),
          nullif(lango_text(called_hex), ''), nullif(lango_text(calling_hex), ''), now(), nullif(cls, ''));
END $$;

-- 4. Accounting Start / Interim-Update / Stop: the same three upserts as queries.conf today,
--    planned once per connection. Returns one row when a row was written, none otherwise (so
--    rlm_sql still reports noop for a packet of an unknown NAS or a closed session).
CREATE OR REPLACE FUNCTION lango_accounting(kind text, src text, ident_hex text, sess_hex text, uniq text,
  user_hex text, realm text, nas_ip inet, port_hex text, port_type text, delay double precision,
  sess_time bigint, authentic text, connect_hex text, in_octets bigint, out_octets bigint,
  called_hex text, calling_hex text, term_cause text, service text, fproto text, fip text,
  fip6 text, fprefix text, fiid text, dprefix text, cls text)
RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
  v_nas record;
  v_t timestamptz := now() - make_interval(secs => delay);
  v_rows integer;
BEGIN
  SELECT * INTO v_nas FROM lango_nas_find(src, lango_text(ident_hex));
  IF NOT FOUND THEN RETURN; END IF;
  IF kind = 'start' THEN
    INSERT INTO radacct AS a (tenant_id, nas_id, acctsessionid, acctuniqueid, username, realm, nasipaddress,
      nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctauthentic,
      connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets, calledstationid, callingstationid,
      acctterminatecause, servicetype, framedprotocol, framedipaddress, framedipv6address, framedipv6prefix,
      framedinterfaceid, delegatedipv6prefix, class)
    VALUES (v_nas.tenant_id, v_nas.nas_id, lango_text(sess_hex), uniq, lango_text(user_hex), nullif(realm, ''), nas_ip,
      nullif(lango_text(port_hex), ''), nullif(port_type, ''), v_t, v_t, NULL, 0, nullif(authentic, ''),
      nullif(lango_text(connect_hex), ''), NULL, 0, 0, nullif(lango_text(called_hex), ''), nullif(lango_text(calling_hex), ''),
      NULL, nullif(service, ''), nullif(fproto, ''), nullif(fip, '')::inet, nullif(fip6, '')::inet,
      nullif(fprefix, '')::inet, nullif(fiid, ''), nullif(dprefix, '')::inet, nullif(cls, ''))
    ON CONFLICT (acctuniqueid) DO UPDATE SET
      acctstarttime = EXCLUDED.acctstarttime,
      framedipaddress = COALESCE(EXCLUDED.framedipaddress, a.framedipaddress)
    WHERE a.acctstoptime IS NULL;
  ELSIF kind = 'interim-update' THEN
    INSERT INTO radacct AS a (tenant_id, nas_id, acctsessionid, acctuniqueid, username, realm, nasipaddress,
      nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctauthentic,
      connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets, calledstationid, callingstationid,
      acctterminatecause, servicetype, framedprotocol, framedipaddress, framedipv6address, framedipv6prefix,
      framedinterfaceid, delegatedipv6prefix, class)
    VALUES (v_nas.tenant_id, v_nas.nas_id, lango_text(sess_hex), uniq, lango_text(user_hex), nullif(realm, ''), nas_ip,
      nullif(lango_text(port_hex), ''), nullif(port_type, ''), v_t - make_interval(secs => sess_time), v_t, NULL,
      sess_time, nullif(authentic, ''), nullif(lango_text(connect_hex), ''), NULL, in_octets, out_octets,
      nullif(lango_text(called_hex), ''), nullif(lango_text(calling_hex), ''), NULL, nullif(service, ''),
      nullif(fproto, ''), nullif(fip, '')::inet, nullif(fip6, '')::inet, nullif(fprefix, '')::inet,
      nullif(fiid, ''), nullif(dprefix, '')::inet, nullif(cls, ''))
    ON CONFLICT (acctuniqueid) DO UPDATE SET
      acctinterval = GREATEST(0, EXTRACT(EPOCH FROM (EXCLUDED.acctupdatetime - COALESCE(a.acctupdatetime, a.acctstarttime))))::bigint,
      acctupdatetime = EXCLUDED.acctupdatetime,
      acctsessiontime = GREATEST(a.acctsessiontime, EXCLUDED.acctsessiontime),
      acctinputoctets = GREATEST(a.acctinputoctets, EXCLUDED.acctinputoctets),
      acctoutputoctets = GREATEST(a.acctoutputoctets, EXCLUDED.acctoutputoctets),
      framedipaddress = COALESCE(EXCLUDED.framedipaddress, a.framedipaddress)
    WHERE a.acctstoptime IS NULL;
  ELSIF kind = 'stop' THEN
    INSERT INTO radacct AS a (tenant_id, nas_id, acctsessionid, acctuniqueid, username, realm, nasipaddress,
      nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctauthentic,
      connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets, calledstationid, callingstationid,
      acctterminatecause, servicetype, framedprotocol, framedipaddress, framedipv6address, framedipv6prefix,
      framedinterfaceid, delegatedipv6prefix, class)
    VALUES (v_nas.tenant_id, v_nas.nas_id, lango_text(sess_hex), uniq, lango_text(user_hex), nullif(realm, ''), nas_ip,
      nullif(lango_text(port_hex), ''), nullif(port_type, ''), v_t - make_interval(secs => sess_time), v_t, v_t,
      sess_time, nullif(authentic, ''), NULL, nullif(lango_text(connect_hex), ''), in_octets, out_octets,
      nullif(lango_text(called_hex), ''), nullif(lango_text(calling_hex), ''), nullif(term_cause, ''),
      nullif(service, ''), nullif(fproto, ''), nullif(fip, '')::inet, nullif(fip6, '')::inet,
      nullif(fprefix, '')::inet, nullif(fiid, ''), nullif(dprefix, '')::inet, nullif(cls, ''))
    ON CONFLICT (acctuniqueid) DO UPDATE SET
      acctstoptime = EXCLUDED.acctstoptime,
      acctupdatetime = EXCLUDED.acctupdatetime,
      acctsessiontime = GREATEST(a.acctsessiontime, EXCLUDED.acctsessiontime),
      acctinputoctets = GREATEST(a.acctinputoctets, EXCLUDED.acctinputoctets),
      acctoutputoctets = GREATEST(a.acctoutputoctets, EXCLUDED.acctoutputoctets),
      acctterminatecause = EXCLUDED.acctterminatecause,
      connectinfo_stop = EXCLUDED.connectinfo_stop
    WHERE a.acctstoptime IS NULL OR a.acctterminatecause IN ('Stale-Session', 'NAS-Reboot');
  ELSE
    RETURN;
  END IF;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows > 0 THEN
    RETURN NEXT v_rows;
  END IF;
END $$;
