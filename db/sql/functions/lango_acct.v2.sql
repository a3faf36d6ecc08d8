-- One function for every accounting packet. Start, Interim-Update and Stop are upserts keyed
-- by Acct-Unique-Session-Id: an Interim or Stop whose Start was lost creates the row, and a
-- late or repeated packet never reopens or rewinds a closed session (counters only grow).
-- Accounting-On/Off closes the NAS's open sessions. Returns the rows touched.
-- v2: the entry point runs with the owner's rights and a fixed search_path; Acct-Delay-Time is a
-- bigint (RADIUS integers are unsigned 32-bit: 2^31 and above did not fit and lost the packet).
CREATE OR REPLACE FUNCTION lango_acct(
  status text, src text, ident_hex text, user_hex text, session_hex text, unique_id text,
  realm text, nas_ip text, port_id_hex text, port_type text, delay bigint, session_time bigint,
  in_octets bigint, in_gigawords bigint, out_octets bigint, out_gigawords bigint,
  authentic text, connect_hex text, called_hex text, calling_hex text, cause text,
  service text, framed_protocol text, framed_ip text, framed_ipv6 text, framed_ipv6_prefix text,
  framed_interface_id text, delegated_prefix text, class text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t text[];
BEGIN
  BEGIN
    t := ARRAY[lango_text(ident_hex), lango_text(user_hex), lango_text(session_hex), lango_text(port_id_hex),
               lango_text(connect_hex), lango_text(called_hex), lango_text(calling_hex)];
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character OR invalid_parameter_value THEN
    t := ARRAY[lango_text_checked(ident_hex), lango_text_checked(user_hex), lango_text_checked(session_hex),
               lango_text_checked(port_id_hex), lango_text_checked(connect_hex), lango_text_checked(called_hex),
               lango_text_checked(calling_hex)];
  END;
  RETURN lango_acct_do(status, src, t[1], t[2], t[3], unique_id, realm, nas_ip, t[4], port_type, delay, session_time,
    in_octets, in_gigawords, out_octets, out_gigawords, authentic, t[5], t[6], t[7], cause, service, framed_protocol,
    framed_ip, framed_ipv6, framed_ipv6_prefix, framed_interface_id, delegated_prefix, class);
END $$;
