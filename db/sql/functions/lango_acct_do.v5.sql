CREATE OR REPLACE FUNCTION lango_acct_do(
  status text, src text, ident text, username text, session_id text, unique_id text,
  realm text, nas_ip text, port_id text, port_type text, delay bigint, session_time bigint,
  in_octets bigint, in_gigawords bigint, out_octets bigint, out_gigawords bigint,
  authentic text, connect text, called text, calling text, cause text,
  service text, framed_protocol text, framed_ip text, framed_ipv6 text, framed_ipv6_prefix text,
  framed_interface_id text, delegated_prefix text, class text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_nas record;
  -- Counters and times arrive as unsigned 32-bit RADIUS integers. Computed in numeric and
  -- clamped, so that no value a NAS can send makes the packet fail (an answered packet is
  -- always stored): Gigawords 2^31 and above no longer overflow into a negative counter, and a
  -- delay beyond a week (no NAS buffers accounting that long) is taken as a week.
  v_at timestamptz := now() - make_interval(secs => least(greatest(coalesce(delay, 0), 0), 604800));
  v_in bigint := least(greatest(coalesce(in_gigawords, 0), 0)::numeric * 4294967296 + greatest(coalesce(in_octets, 0), 0), 9223372036854775807)::bigint;
  v_out bigint := least(greatest(coalesce(out_gigawords, 0), 0)::numeric * 4294967296 + greatest(coalesce(out_octets, 0), 0), 9223372036854775807)::bigint;
  v_stop timestamptz;
  v_start timestamptz;
  v_key record;
  v_n integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT * INTO v_nas FROM lango_nas_find(src, ident);
  IF NOT FOUND THEN RETURN 0; END IF;

  IF status IN ('Accounting-On', 'Accounting-Off') THEN
    -- v3: counted per NAS for reports.nas_health (a reboot loop shows as a climbing count).
    INSERT INTO nas_acct_state AS s (nas_id, tenant_id, accounting_on_count, accounting_off_count, last_on_off_at, last_on_off)
    VALUES (v_nas.nas_id, v_nas.tenant_id, (status = 'Accounting-On')::int, (status = 'Accounting-Off')::int, v_at, status)
    ON CONFLICT (nas_id) DO UPDATE SET
      accounting_on_count = s.accounting_on_count + EXCLUDED.accounting_on_count,
      accounting_off_count = s.accounting_off_count + EXCLUDED.accounting_off_count,
      last_on_off_at = greatest(s.last_on_off_at, EXCLUDED.last_on_off_at), last_on_off = EXCLUDED.last_on_off;
    UPDATE radacct SET acctstoptime = v_at, acctupdatetime = v_at,
           acctsessiontime = greatest(0, extract(epoch FROM v_at - acctstarttime))::bigint,
           acctterminatecause = 'NAS-Reboot'
    WHERE nas_id = v_nas.nas_id AND acctstoptime IS NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
  END IF;
  IF status NOT IN ('Start', 'Interim-Update', 'Stop') THEN RETURN 0; END IF;
  IF status = 'Stop' THEN v_stop := v_at; END IF;
  v_start := CASE WHEN status = 'Start' THEN v_at ELSE v_at - make_interval(secs => greatest(coalesce(session_time, 0), 0)) END;

  -- v5: radacct is partitioned by acctstarttime (decisions.md 78), so there is no UNIQUE
  -- (acctuniqueid) to upsert on. Packets of one session are serialised by an advisory lock on
  -- its acctuniqueid; radacct_keys (kept by triggers, unique on acctuniqueid) says whether the
  -- session exists and its acctstarttime, which prunes the UPDATE to one partition.
  PERFORM pg_advisory_xact_lock(hashtext('radacct:' || unique_id));
  SELECT k.acctstarttime INTO v_key FROM radacct_keys k WHERE k.acctuniqueid = unique_id;
  IF FOUND THEN
    UPDATE radacct a SET
      acctstarttime = CASE WHEN status = 'Start' THEN v_start ELSE a.acctstarttime END,
      acctinterval = CASE WHEN status = 'Start' THEN a.acctinterval
                     ELSE greatest(0, extract(epoch FROM v_at - coalesce(a.acctupdatetime, a.acctstarttime)))::bigint END,
      -- v4: never earlier than it is. A packet replayed from the accounting spool after an outage
      -- can arrive after a newer one that went straight to SQL (docs/accounting-spool.md); an
      -- older Interim must not set the session's last update back (the stale-session check reads it).
      acctupdatetime = CASE WHEN status = 'Start' THEN a.acctupdatetime ELSE greatest(a.acctupdatetime, v_at) END,
      acctstoptime = coalesce(v_stop, a.acctstoptime),
      acctsessiontime = greatest(a.acctsessiontime, CASE WHEN status = 'Start' THEN 0 ELSE greatest(coalesce(session_time, 0), 0) END),
      acctinputoctets = greatest(a.acctinputoctets, CASE WHEN status = 'Start' THEN 0 ELSE v_in END),
      acctoutputoctets = greatest(a.acctoutputoctets, CASE WHEN status = 'Start' THEN 0 ELSE v_out END),
      acctterminatecause = coalesce(CASE WHEN status = 'Stop' THEN nullif(cause, '') END, a.acctterminatecause),
      connectinfo_stop = coalesce(CASE WHEN status = 'Stop' THEN nullif(connect, '') END, a.connectinfo_stop),
      framedipaddress = coalesce(nullif(framed_ip, '')::inet, a.framedipaddress)
    WHERE a.acctuniqueid = unique_id AND a.acctstarttime = v_key.acctstarttime
      AND (a.acctstoptime IS NULL OR (status = 'Stop' AND a.acctterminatecause IN ('Stale-Session', 'NAS-Reboot')));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
  END IF;

  INSERT INTO radacct AS a (tenant_id, nas_id, acctsessionid, acctuniqueid, username, realm, nasipaddress,
         nasportid, nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime,
         acctauthentic, connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets,
         calledstationid, callingstationid, acctterminatecause, servicetype, framedprotocol,
         framedipaddress, framedipv6address, framedipv6prefix, framedinterfaceid, delegatedipv6prefix, class)
  VALUES (v_nas.tenant_id, v_nas.nas_id, session_id, unique_id, username,
         nullif(realm, ''), coalesce(nullif(nas_ip, ''), src)::inet,
         nullif(port_id, ''), nullif(port_type, ''),
         v_start,
         v_at, v_stop, CASE WHEN status = 'Start' THEN 0 ELSE greatest(coalesce(session_time, 0), 0) END,
         nullif(authentic, ''),
         CASE WHEN status = 'Stop' THEN NULL ELSE nullif(connect, '') END,
         CASE WHEN status = 'Stop' THEN nullif(connect, '') END,
         CASE WHEN status = 'Start' THEN 0 ELSE v_in END, CASE WHEN status = 'Start' THEN 0 ELSE v_out END,
         nullif(called, ''), nullif(calling, ''),
         CASE WHEN status = 'Stop' THEN nullif(cause, '') END,
         nullif(service, ''), nullif(framed_protocol, ''),
         nullif(framed_ip, '')::inet, nullif(framed_ipv6, '')::inet, nullif(framed_ipv6_prefix, '')::inet,
         nullif(framed_interface_id, ''), nullif(delegated_prefix, '')::inet, nullif(class, ''));
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;
