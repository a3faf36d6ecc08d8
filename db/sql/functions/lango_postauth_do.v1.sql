CREATE OR REPLACE FUNCTION lango_postauth_do(src text, ident text, username text, reply text, reason text,
                                  called text, calling text, class text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_nas record;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT * INTO v_nas FROM lango_nas_find(src, ident);
  INSERT INTO radpostauth (tenant_id, nas_id, username, reply, reason, calledstationid, callingstationid, authdate, class)
  VALUES (v_nas.tenant_id, v_nas.nas_id, username, reply, nullif(reason, ''), nullif(called, ''), nullif(calling, ''), now(), nullif(class, ''));
  RETURN 1;
END $$;
