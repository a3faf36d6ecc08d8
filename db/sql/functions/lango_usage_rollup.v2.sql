-- The daily usage rollup (usage_daily), kept by a row trigger on radacct: every change to a
-- session's counters adds its difference (new minus old) to the row of the tenant's day on which
-- the packet arrived (acctupdatetime, in the tenant's time zone), so a session that spans
-- midnight counts what it used before midnight on the first day and the rest on the next, at
-- the granularity of its interims. The sum over days always equals radacct's counters; rows later
-- deleted or archived from radacct keep their usage here (no DELETE trigger, on purpose).
-- v2: radacct is partitioned (decisions.md 78). An UPDATE that moves a row to another partition
-- arrives here as an INSERT; lango_radacct_key has kept the row's old counters in radacct_keys,
-- so it is counted as the update it is (the difference, no new session).
CREATE OR REPLACE FUNCTION lango_usage_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  d_in bigint := coalesce(NEW.acctinputoctets, 0);
  d_out bigint := coalesce(NEW.acctoutputoctets, 0);
  d_secs bigint := coalesce(NEW.acctsessiontime, 0);
  d_sessions integer := 1;
  v_at timestamptz := coalesce(NEW.acctupdatetime, NEW.acctstoptime, NEW.acctstarttime, now());
  v_moved record;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    d_in := d_in - coalesce(OLD.acctinputoctets, 0);
    d_out := d_out - coalesce(OLD.acctoutputoctets, 0);
    d_secs := d_secs - coalesce(OLD.acctsessiontime, 0);
    d_sessions := 0;
    IF d_in = 0 AND d_out = 0 AND d_secs = 0 AND OLD.acctupdatetime IS NOT DISTINCT FROM NEW.acctupdatetime THEN
      RETURN NULL;
    END IF;
  ELSE
    SELECT moved_input, moved_output, moved_seconds, moved_updated INTO v_moved FROM radacct_keys
    WHERE radacctid = NEW.radacctid AND moved_xact = pg_current_xact_id();
    IF FOUND THEN
      UPDATE radacct_keys SET moved_xact = NULL, moved_input = NULL, moved_output = NULL,
             moved_seconds = NULL, moved_updated = NULL
      WHERE radacctid = NEW.radacctid;
      d_in := d_in - coalesce(v_moved.moved_input, 0);
      d_out := d_out - coalesce(v_moved.moved_output, 0);
      d_secs := d_secs - coalesce(v_moved.moved_seconds, 0);
      d_sessions := 0;
      IF d_in = 0 AND d_out = 0 AND d_secs = 0 AND v_moved.moved_updated IS NOT DISTINCT FROM NEW.acctupdatetime THEN
        RETURN NULL;
      END IF;
    END IF;
  END IF;
  INSERT INTO usage_daily AS u (tenant_id, day, username, nas_id, input_octets, output_octets, session_seconds, sessions, last_seen_at)
  SELECT NEW.tenant_id, (v_at AT TIME ZONE t.time_zone)::date, coalesce(NEW.username, ''),
         coalesce(NEW.nas_id, '00000000-0000-0000-0000-000000000000'::uuid), d_in, d_out, d_secs, d_sessions, v_at
  FROM tenants t WHERE t.id = NEW.tenant_id
  ON CONFLICT (tenant_id, day, username, nas_id) DO UPDATE SET
    input_octets = u.input_octets + EXCLUDED.input_octets,
    output_octets = u.output_octets + EXCLUDED.output_octets,
    session_seconds = u.session_seconds + EXCLUDED.session_seconds,
    sessions = u.sessions + EXCLUDED.sessions,
    last_seen_at = greatest(u.last_seen_at, EXCLUDED.last_seen_at);
  RETURN NULL;
END $$;
