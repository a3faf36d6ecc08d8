-- Optional, measured separately: no foreign keys on the two tables FreeRADIUS writes per packet.
--
-- Each INSERT into radpostauth/radacct checks its foreign keys with SELECT ... FOR KEY SHARE on
-- the parent rows: the same tenants row and the same nas row for every packet of a NAS. With
-- several FreeRADIUS connections inserting at once, each new locker of an already-locked row
-- makes PostgreSQL create a MultiXact and rewrite the parent row's xmax. Measured: 10,000 logins
-- + 10,000 Starts created ~18,000 MultiXacts (tenants.xmax is a MultiXact id afterwards).
--
-- What the keys did then has to move into the services: deleting a NAS sets radacct.nas_id and
-- radpostauth.nas_id to NULL in the same transaction (or keeps them: the id is only a
-- reference), deleting a tenant deletes its radacct/radpostauth rows (or a cleanup job does).
ALTER TABLE radacct DROP CONSTRAINT IF EXISTS radacct_tenant_id_fkey, DROP CONSTRAINT IF EXISTS radacct_nas_id_fkey;
ALTER TABLE radpostauth DROP CONSTRAINT IF EXISTS radpostauth_tenant_id_fkey, DROP CONSTRAINT IF EXISTS radpostauth_nas_id_fkey;
