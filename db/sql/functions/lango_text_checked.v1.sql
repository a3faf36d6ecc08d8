CREATE OR REPLACE FUNCTION lango_text_checked(hex text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  RETURN convert_from(decode(hex, 'hex'), 'UTF8');
EXCEPTION WHEN others THEN
  RETURN E'\uFFFDinvalid:' || hex;
END $$;
