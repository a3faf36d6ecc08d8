-- The daily authentication rollup (auth_daily), kept by a row trigger on radpostauth: one count
-- per tenant, tenant day (time zone of the tenant), reply (Access-Accept / Access-Reject),
-- reason (the Reply-Message of a reject; '' when none) and shard. Post-auth rows of unknown NAS
-- (no tenant) are not counted: no tenant can see them.
--
-- v2: the shard (the database session's pid modulo 16). With one row per tenant, day and reply,
-- every Access-Accept of a tenant updated the same row, so FreeRADIUS's post-auth inserts waited
-- on each other's row lock (the benchmark's PostgreSQL CPU per login rose by a third). Each
-- connection now counts into its own row; the views sum the shards.
CREATE OR REPLACE FUNCTION lango_auth_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF NEW.tenant_id IS NULL THEN RETURN NULL; END IF;
  INSERT INTO auth_daily AS a (tenant_id, day, reply, reason, shard, attempts, last_at)
  SELECT NEW.tenant_id, (NEW.authdate AT TIME ZONE t.time_zone)::date, coalesce(NEW.reply, ''),
         left(coalesce(NEW.reason, ''), 200), (pg_backend_pid() % 16)::smallint, 1, NEW.authdate
  FROM tenants t WHERE t.id = NEW.tenant_id
  ON CONFLICT (tenant_id, day, reply, reason, shard) DO UPDATE SET
    attempts = a.attempts + 1, last_at = greatest(a.last_at, EXCLUDED.last_at);
  RETURN NULL;
END $$;
