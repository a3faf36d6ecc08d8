-- group_membership_query (SQL-Group checks; Lango's own policy does not use them): the user's
-- groups in the tenant of the request.
CREATE OR REPLACE FUNCTION lango_user_groups(tenant text, user_hex text) RETURNS TABLE (groupname text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN QUERY
    SELECT ug.groupname FROM radusergroup ug
    WHERE ug.tenant_id = nullif(tenant, '')::uuid AND ug.username = lango_text(user_hex)
    ORDER BY ug.priority;
END $$;
