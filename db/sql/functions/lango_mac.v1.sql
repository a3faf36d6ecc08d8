-- Calling-Station-Id in any common MAC notation -> AA:BB:CC:DD:EE:FF (NULL if not a MAC).
CREATE OR REPLACE FUNCTION lango_mac(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN length(h) = 12
    THEN substr(h,1,2)||':'||substr(h,3,2)||':'||substr(h,5,2)||':'||substr(h,7,2)||':'||substr(h,9,2)||':'||substr(h,11,2)
  END
  FROM (SELECT upper(regexp_replace(coalesce(v, ''), '[^0-9A-Fa-f]', '', 'g')) AS h) x
$$;
