-- Hex -> text. Bytes that are not UTF-8 (or contain NUL) become a marker that can never be
-- a stored username, instead of an SQL error that would stall accounting.
CREATE OR REPLACE FUNCTION lango_text(hex text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  RETURN convert_from(decode(hex, 'hex'), 'UTF8');
EXCEPTION WHEN others THEN
  RETURN E'\uFFFDinvalid:' || hex;
END $$;
