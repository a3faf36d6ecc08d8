-- authorize_reply_query: the plan's group replies, then the user's own replies (which win:
-- rlm_sql applies rows in order and Lango writes them with :=).
CREATE OR REPLACE FUNCTION lango_authorize_reply(tenant text, user_hex text)
RETURNS TABLE (id integer, username text, attribute text, value text, op text)
LANGUAGE sql STABLE AS $$
  SELECT x.id, x.username, x.attribute, x.value, x.op FROM (
    SELECT gr.id, ug.username, gr.attribute, gr.value, gr.op::text AS op, 0 AS lvl, ug.priority AS prio
    FROM radusergroup ug
    JOIN radgroupreply gr ON gr.tenant_id = ug.tenant_id AND gr.groupname = ug.groupname
    WHERE ug.tenant_id = nullif(tenant, '')::uuid AND ug.username = lango_text(user_hex)
    UNION ALL
    SELECT r.id, r.username, r.attribute, r.value, r.op::text, 1, 0
    FROM radreply r
    WHERE r.tenant_id = nullif(tenant, '')::uuid AND r.username = lango_text(user_hex)
  ) x ORDER BY x.lvl, x.prio, x.id
$$;
