-- authorize_reply_query: the plan's group replies, then the user's own replies (which win:
-- rlm_sql applies rows in order and Lango writes them with :=). Values are encoded by
-- lango_rad_value() so that whatever an operator stores reaches the reply literally.
CREATE OR REPLACE FUNCTION lango_authorize_reply(tenant text, user_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_tenant uuid := nullif(tenant, '')::uuid;
  v_user text := lango_text(user_hex);
BEGIN
  IF v_tenant IS NULL THEN RETURN; END IF;
  RETURN QUERY
    SELECT gr.id, ug.username, gr.attribute, lango_rad_value(gr.value), gr.op::text
    FROM radusergroup ug
    JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
    WHERE ug.tenant_id = v_tenant AND ug.username = v_user
    ORDER BY ug.priority, gr.id;
  RETURN QUERY
    SELECT r.id, r.username, r.attribute, lango_rad_value(r.value), r.op::text
    FROM radreply r WHERE r.tenant_id = v_tenant AND r.username = v_user
    ORDER BY r.id;
END $$;
