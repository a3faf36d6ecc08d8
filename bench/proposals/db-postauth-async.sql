-- Optional (a trade-off, measured separately): radpostauth rows are a log, so their commit need
-- not wait for the WAL flush. A PostgreSQL or OS crash may then lose the last few hundred ms of
-- login log rows (wal_writer_delay), never an accounting row or any other table: the setting is
-- local to the post-auth transaction. Needs db.sql first (it redefines lango_postauth).
CREATE OR REPLACE FUNCTION lango_postauth(tenant text, nas text, src text, ident_hex text, user_hex text,
  reply text, reason_hex text, called_hex text, calling_hex text, cls text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_tenant uuid := nullif(tenant, '')::uuid;
  v_nas uuid := nullif(nas, '')::uuid;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF v_tenant IS NULL THEN
    SELECT f.tenant_id, f.nas_id INTO v_tenant, v_nas FROM lango_nas_find(src, lango_text(ident_hex)) f;
  END IF;
  INSERT INTO radpostauth (tenant_id, nas_id, username, reply, reason, calledstationid, callingstationid, authdate, class)
  VALUES (v_tenant, v_nas, lango_text(user_hex), reply, nullif(lango_text(reason_hex), ''),
          nullif(lango_text(called_hex), ''), nullif(lango_text(calling_hex), ''), now(), nullif(cls, ''));
END $$;

