-- Row trigger on tenants (UPDATE OF time_zone): rebuild the tenant's revenue and funnel rollups.
CREATE OR REPLACE FUNCTION lango_revenue_time_zone() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM lango_revenue_rebuild(NEW.id);
  RETURN NULL;
END $$;
