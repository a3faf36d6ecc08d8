-- Creates the monthly partitions of radacct (UTC months) from the current month to `ahead`
-- months ahead that are not there yet, and returns the names it created (decisions.md 78). Run
-- by the migration, by the worker once a day and by `lango radacct partition --ahead N`.
-- SECURITY DEFINER: creating a partition needs the owner of radacct (the migrations' role);
-- the worker runs as lango_app. A month already covered (by radacct_legacy, or by a partition
-- made before) is skipped. Rows of that month that fell into radacct_default because no
-- partition existed yet are moved into the new partition before it is attached (their keys
-- and usage are unchanged: radacctid and acctstarttime stay, and the rollup is not touched).
CREATE OR REPLACE FUNCTION lango_radacct_partition(ahead integer) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_month timestamptz;
  v_next timestamptz;
  v_name text;
BEGIN
  IF ahead IS NULL OR ahead < 0 OR ahead > 120 THEN
    RAISE EXCEPTION 'ahead must be 0..120 months, got %', ahead USING ERRCODE = '22023';
  END IF;
  -- One creator at a time (two workers at midnight).
  PERFORM pg_advisory_xact_lock(hashtext('lango:radacct-partition'));
  FOR i IN 0..ahead LOOP
    v_month := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
    v_next := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
    v_name := 'radacct_' || to_char(v_month AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
    CONTINUE WHEN to_regclass(v_name) IS NOT NULL;
    -- Covered already when a row of that month would be routed to a partition other than the
    -- default one (radacct_legacy covers everything before its bound).
    CONTINUE WHEN EXISTS (
      SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'radacct'::regclass AND c.relname <> 'radacct_default'
        AND pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM (MINVALUE) TO %'
        AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz > v_month);
    EXECUTE format('CREATE TABLE %I (LIKE radacct INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', v_name);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (acctstarttime IS NOT NULL AND acctstarttime >= %L AND acctstarttime < %L)',
                   v_name, v_name || '_bound', v_month, v_next);
    EXECUTE format('WITH m AS (DELETE FROM radacct_default WHERE acctstarttime >= %L AND acctstarttime < %L RETURNING *) '
                   'INSERT INTO %I SELECT * FROM m', v_month, v_next, v_name);
    EXECUTE format('ALTER TABLE radacct ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', v_name, v_month, v_next);
    -- The DELETE above removed the moved rows' keys (AFTER DELETE trigger); put them back.
    EXECUTE format('INSERT INTO radacct_keys (acctuniqueid, radacctid, acctstarttime) '
                   'SELECT acctuniqueid, radacctid, acctstarttime FROM %I ON CONFLICT DO NOTHING', v_name);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (radacctid), ADD CONSTRAINT %I UNIQUE (acctuniqueid)',
                   v_name, v_name || '_radacctid_key', v_name || '_acctuniqueid_key');
    RETURN NEXT v_name;
  END LOOP;
END $$;
