-- Whether FreeRADIUS drops Access-Requests without a Message-Authenticator from this source
-- address ('yes' or 'no'): yes when any approved NAS at the address requires it (the default).
CREATE OR REPLACE FUNCTION lango_client_require_ma(src text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN CASE WHEN coalesce((SELECT bool_or(n.require_message_authenticator) FROM nas n
                             WHERE n.nasname = src AND n.approved_at IS NOT NULL), true) THEN 'yes' ELSE 'no' END;
END $$;
