CREATE OR REPLACE FUNCTION lango_text(hex text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT convert_from(decode(hex, 'hex'), 'UTF8') $$;
