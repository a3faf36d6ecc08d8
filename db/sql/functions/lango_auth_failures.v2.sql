-- v2: always the generic plan. With two partial indexes on radpostauth's failures (per name and
-- NAS, per NAS) the generic plan's estimate looked worse than a custom one, so PL/pgSQL planned
-- this query afresh at every login (0.5 ms, most of authorize's time); the generic plan is the
-- right one (an index probe that finds nothing, 0.04 ms).
-- Failed password checks for a user name through one NAS in the last `window_seconds`, counted
-- up to `cap`: radpostauth rejects without a reason (a wrong password or an unknown name; the
-- policy rejects after a correct password carry their Reply-Message as reason, and so do the
-- throttle's own rejects, so waiting out the window always works).
CREATE OR REPLACE FUNCTION lango_auth_failures(p_tenant uuid, p_nas uuid, p_username text, p_window_seconds integer, p_cap integer)
RETURNS integer
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN (
    SELECT count(*) FROM (
      SELECT 1 FROM radpostauth p
      WHERE p.tenant_id = p_tenant AND p.username = p_username
        AND p.authdate > now() - make_interval(secs => p_window_seconds)
        AND p.nas_id = p_nas AND p.reply = 'Access-Reject' AND p.reason IS NULL
      LIMIT p_cap) x);
END $$;
