-- The daily authentication rollup (auth_daily), kept by a row trigger on radpostauth: one count
-- per tenant, tenant day (time zone of the tenant), reply (Access-Accept / Access-Reject) and
-- reason (the Reply-Message of a reject; '' when none). Post-auth rows of unknown NAS (no
-- tenant) are not counted: no tenant can see them.
CREATE OR REPLACE FUNCTION lango_auth_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF NEW.tenant_id IS NULL THEN RETURN NULL; END IF;
  INSERT INTO auth_daily AS a (tenant_id, day, reply, reason, attempts, last_at)
  SELECT NEW.tenant_id, (NEW.authdate AT TIME ZONE t.time_zone)::date, coalesce(NEW.reply, ''),
         left(coalesce(NEW.reason, ''), 200), 1, NEW.authdate
  FROM tenants t WHERE t.id = NEW.tenant_id
  ON CONFLICT (tenant_id, day, reply, reason) DO UPDATE SET
    attempts = a.attempts + 1, last_at = greatest(a.last_at, EXCLUDED.last_at);
  RETURN NULL;
END $$;
