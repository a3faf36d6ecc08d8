-- Any write to subscriptions (the API, a payment, SQL by hand) re-arms the worker's expiry
-- timer: the new or moved end may come before the one it sleeps until. Once per statement,
-- delivered at commit, merged per transaction by Postgres; subscriptions are written at
-- purchase rate, far from any hot path.
CREATE OR REPLACE FUNCTION lango_subscriptions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('lango_enforcement', 'schedule');
  RETURN NULL;
END $$;
