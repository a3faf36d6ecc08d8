-- radacct_keys: one row per radacct row, kept by row triggers on the partitioned radacct for
-- every writer (decisions.md 57 and 75). acctuniqueid is its primary key, so a session is
-- unique across all partitions (a partitioned table cannot have UNIQUE (acctuniqueid) without
-- the partition key), and acctstarttime is where lango_acct_do finds the session's partition.
-- An UPDATE that moves a row to another partition (a late Start changes acctstarttime) runs as
-- DELETE + INSERT: the BEFORE INSERT finds the key by radacctid and marks it as moved in this
-- transaction, the AFTER DELETE then leaves the key in place and keeps the old counters in it,
-- and lango_usage_rollup (AFTER INSERT) counts only the difference, not a new session.
CREATE OR REPLACE FUNCTION lango_radacct_key() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE radacct_keys SET acctuniqueid = NEW.acctuniqueid, acctstarttime = NEW.acctstarttime,
           moved_xact = pg_current_xact_id()
    WHERE radacctid = NEW.radacctid;
    IF NOT FOUND THEN
      -- A second row with the same acctuniqueid fails here, on radacct_keys_pkey.
      INSERT INTO radacct_keys (acctuniqueid, radacctid, acctstarttime)
      VALUES (NEW.acctuniqueid, NEW.radacctid, NEW.acctstarttime);
    END IF;
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE radacct_keys SET moved_input = OLD.acctinputoctets, moved_output = OLD.acctoutputoctets,
           moved_seconds = OLD.acctsessiontime, moved_updated = OLD.acctupdatetime
    WHERE radacctid = OLD.radacctid AND moved_xact = pg_current_xact_id();
    IF NOT FOUND THEN
      DELETE FROM radacct_keys WHERE radacctid = OLD.radacctid;
    END IF;
    RETURN NULL;
  ELSE
    -- An UPDATE within one partition that changed the key or the start time.
    UPDATE radacct_keys SET acctuniqueid = NEW.acctuniqueid, acctstarttime = NEW.acctstarttime
    WHERE radacctid = NEW.radacctid;
    RETURN NULL;
  END IF;
END $$;
