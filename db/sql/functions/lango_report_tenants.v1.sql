-- The tenants whose rows the report views (schema reports) show to the connected login: a report
-- role (a member of lango_reports, made by `lango report-role create`) sees its one tenant, or
-- nothing if its registration is missing (fails closed); any other login (the API's application
-- role, the owner) sees every tenant and filters by tenant itself. Keyed on session_user, which
-- a report role cannot change (SET ROLE needs a membership it does not have, SET SESSION
-- AUTHORIZATION a superuser), and read from report_roles, which a report role cannot read or write.
CREATE OR REPLACE FUNCTION lango_report_tenants() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT CASE
    WHEN EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
                 WHERE g.rolname = 'lango_reports' AND r.rolname = session_user)
         OR EXISTS (SELECT 1 FROM report_roles WHERE role_name = session_user)
      THEN coalesce((SELECT array_agg(tenant_id) FROM report_roles WHERE role_name = session_user), '{}'::uuid[])
    ELSE (SELECT coalesce(array_agg(id), '{}'::uuid[]) FROM tenants)
  END
$$;
