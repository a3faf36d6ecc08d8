-- Hex (as %{hex:...} writes it) -> text. STABLE, like convert_from() in its body: an IMMUTABLE
-- SQL function whose body is only STABLE is never inlined, and a non-inlined SQL function costs
-- about 40 us per call through fmgr (seven calls per login). Inlined, it is free.
CREATE OR REPLACE FUNCTION lango_text(hex text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$ SELECT convert_from(decode(hex, 'hex'), 'UTF8') $$;
