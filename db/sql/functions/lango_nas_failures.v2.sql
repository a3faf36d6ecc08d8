-- v2: always the generic plan. With two partial indexes on radpostauth's failures (per name and
-- NAS, per NAS) the generic plan's estimate looked worse than a custom one, so PL/pgSQL planned
-- this query afresh at every login (0.5 ms, most of authorize's time); the generic plan is the
-- right one (an index probe that finds nothing, 0.04 ms).
-- Failed logins through one NAS in the last `window_seconds`, whatever the user name, counted up
-- to `cap` (radpostauth rejects without a reason, as lango_auth_failures() counts them per
-- name; radpostauth_nas_failures_idx). Guessing voucher codes tries a new name each time, so
-- the per-name throttle never sees it; this count is what slows it down (vouchers CONTEXT.md).
CREATE OR REPLACE FUNCTION lango_nas_failures(p_nas uuid, p_window_seconds integer, p_cap integer)
RETURNS integer
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN (
    SELECT count(*) FROM (
      SELECT 1 FROM radpostauth p
      WHERE p.nas_id = p_nas AND p.reply = 'Access-Reject' AND p.reason IS NULL
        AND p.authdate > now() - make_interval(secs => p_window_seconds)
      LIMIT p_cap) x);
END $$;
