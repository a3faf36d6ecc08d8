-- A Kenyan mobile number as M-Pesa writes it (2547XXXXXXXX / 2541XXXXXXXX), or NULL when the
-- text is not one: spaces, dashes, dots, brackets and a leading + are ignored; 07.., 01.., 7.., 1..
-- get the country code. The same rule as src/mpesa's phone normaliser (tests check they agree);
-- subscribers.phone_hash is SHA-256 of this, which is what C2B notifications carry since July 2024.
CREATE OR REPLACE FUNCTION lango_msisdn(phone text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE
    WHEN d ~ '^254[17][0-9]{8}$' THEN d
    WHEN d ~ '^2540[17][0-9]{8}$' THEN '254' || substr(d, 5)
    WHEN d ~ '^0[17][0-9]{8}$' THEN '254' || substr(d, 2)
    WHEN d ~ '^[17][0-9]{8}$' THEN '254' || d
  END
  FROM (SELECT regexp_replace(regexp_replace(phone, '[\s().\-]', '', 'g'), '^\+', '') AS d) n
$$;
