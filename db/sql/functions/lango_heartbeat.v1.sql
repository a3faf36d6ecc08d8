-- A process says it is alive (`lango worker`: its loops run; `lango radius`: FreeRADIUS answered
-- its status probe). One row per process instance, stamped with the database's clock (so
-- processes on machines with skewed clocks compare alike); rows silent for a day are removed.
-- SECURITY DEFINER: the FreeRADIUS role may call it without any privilege on the table.
CREATE OR REPLACE FUNCTION lango_heartbeat(p_kind text, p_instance text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM process_heartbeats WHERE beat_at < now() - interval '1 day';
  INSERT INTO process_heartbeats (kind, instance) VALUES (p_kind, left(p_instance, 200))
  ON CONFLICT (kind, instance) DO UPDATE SET beat_at = now();
$$;
