-- The payment funnel rollup (funnel_rollup), a row trigger on payments: a payment counts on the tenant
-- day of its creation in the columns of its state now, so a change takes away the old row's
-- contribution and adds the new one's.
CREATE OR REPLACE FUNCTION lango_funnel_rollup() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM lango_funnel_add(-1, OLD);
  END IF;
  PERFORM lango_funnel_add(1, NEW);
  RETURN NULL;
END $$;
