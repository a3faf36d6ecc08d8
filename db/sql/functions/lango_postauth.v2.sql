-- post-auth query (entry point): decode, then log through lango_postauth_do(). Owner's rights,
-- fixed search_path (FreeRADIUS's role may only execute the entry points).
CREATE OR REPLACE FUNCTION lango_postauth(src text, ident_hex text, user_hex text, reply text, reason_hex text,
                               called_hex text, calling_hex text, class text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t text[];
BEGIN
  -- Decode first, in a read-only block (no transaction id), then write outside it.
  BEGIN
    t := ARRAY[lango_text(ident_hex), lango_text(user_hex), lango_text(reason_hex), lango_text(called_hex), lango_text(calling_hex)];
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
    t := ARRAY[lango_text_checked(ident_hex), lango_text_checked(user_hex), lango_text_checked(reason_hex),
               lango_text_checked(called_hex), lango_text_checked(calling_hex)];
  END;
  RETURN lango_postauth_do(src, t[1], t[2], reply, t[3], t[4], t[5], class);
END $$;
