import type { Knex } from 'knex';

/**
 * FreeRADIUS 3.2's PostgreSQL schema (mods-config/sql/main/postgresql/schema.sql) with
 * tenant_id on every table, and nas_id on the rows FreeRADIUS writes so that sessions can be
 * traced to the NAS that sent them (for Accounting-On/Off, CoA and stale-session closing).
 * Upstream column names are kept (PostgreSQL folds them to lower case).
 *
 * Deviations, each on purpose:
 *  - nas.id is a uuid (Lango's API id). FreeRADIUS only reads nas through our dynamic-clients
 *    query, never with read_clients, so the type does not matter to it.
 *  - nas gains identifier (NAS-Identifier), coa_port, kind and timestamps; nasname holds the
 *    source address FreeRADIUS sees, in canonical text form.
 *  - radpostauth.pass is dropped: attempted passwords are never stored. reason keeps the
 *    Reply-Message of a reject (suspended, expired, over quota...).
 *  - radacct indexes serve tenant-scoped lookups: open sessions per user (Simultaneous-Use),
 *    usage per user since a date (quota), open sessions per NAS (Accounting-On/Off).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE nas (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      nasname text NOT NULL,
      identifier text,
      shortname text NOT NULL,
      type text NOT NULL DEFAULT 'other',
      kind text NOT NULL DEFAULT 'mikrotik' CHECK (kind IN ('mikrotik', 'gateway', 'other')),
      ports integer,
      secret text NOT NULL,
      server text,
      community text,
      description text,
      coa_port integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX nas_nasname ON nas (nasname);
    CREATE UNIQUE INDEX nas_address_identifier_unique ON nas (nasname, COALESCE(identifier, ''));
    CREATE INDEX nas_tenant_idx ON nas (tenant_id);

    CREATE TABLE nasreload (
      NASIPAddress inet PRIMARY KEY,
      ReloadTime timestamptz NOT NULL
    );

    CREATE TABLE radacct (
      RadAcctId bigserial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      nas_id uuid REFERENCES nas(id) ON DELETE SET NULL,
      AcctSessionId text NOT NULL,
      AcctUniqueId text NOT NULL UNIQUE,
      UserName text,
      Realm text,
      NASIPAddress inet NOT NULL,
      NASPortId text,
      NASPortType text,
      AcctStartTime timestamptz,
      AcctUpdateTime timestamptz,
      AcctStopTime timestamptz,
      AcctInterval bigint,
      AcctSessionTime bigint,
      AcctAuthentic text,
      ConnectInfo_start text,
      ConnectInfo_stop text,
      AcctInputOctets bigint,
      AcctOutputOctets bigint,
      CalledStationId text,
      CallingStationId text,
      AcctTerminateCause text,
      ServiceType text,
      FramedProtocol text,
      FramedIPAddress inet,
      FramedIPv6Address inet,
      FramedIPv6Prefix inet,
      FramedInterfaceId text,
      DelegatedIPv6Prefix inet,
      Class text
    );
    CREATE INDEX radacct_active_session_idx ON radacct (AcctUniqueId) WHERE AcctStopTime IS NULL;
    CREATE INDEX radacct_bulk_close ON radacct (NASIPAddress, AcctStartTime) WHERE AcctStopTime IS NULL;
    CREATE INDEX radacct_start_user_idx ON radacct (AcctStartTime, UserName);
    CREATE INDEX radacct_calss_idx ON radacct (Class);
    CREATE INDEX radacct_tenant_user_start_idx ON radacct (tenant_id, UserName, AcctStartTime);
    CREATE INDEX radacct_tenant_open_user_idx ON radacct (tenant_id, UserName) WHERE AcctStopTime IS NULL;
    CREATE INDEX radacct_open_nas_idx ON radacct (nas_id) WHERE AcctStopTime IS NULL;

    CREATE TABLE radcheck (
      id serial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      UserName text NOT NULL DEFAULT '',
      Attribute text NOT NULL DEFAULT '',
      op varchar(2) NOT NULL DEFAULT '==',
      Value text NOT NULL DEFAULT ''
    );
    CREATE INDEX radcheck_tenant_username ON radcheck (tenant_id, UserName, Attribute);

    CREATE TABLE radgroupcheck (
      id serial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      GroupName text NOT NULL DEFAULT '',
      Attribute text NOT NULL DEFAULT '',
      op varchar(2) NOT NULL DEFAULT '==',
      Value text NOT NULL DEFAULT ''
    );
    CREATE INDEX radgroupcheck_tenant_groupname ON radgroupcheck (tenant_id, GroupName, Attribute);

    CREATE TABLE radgroupreply (
      id serial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      GroupName text NOT NULL DEFAULT '',
      Attribute text NOT NULL DEFAULT '',
      op varchar(2) NOT NULL DEFAULT '=',
      Value text NOT NULL DEFAULT ''
    );
    CREATE INDEX radgroupreply_tenant_groupname ON radgroupreply (tenant_id, GroupName, Attribute);

    CREATE TABLE radreply (
      id serial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      UserName text NOT NULL DEFAULT '',
      Attribute text NOT NULL DEFAULT '',
      op varchar(2) NOT NULL DEFAULT '=',
      Value text NOT NULL DEFAULT ''
    );
    CREATE INDEX radreply_tenant_username ON radreply (tenant_id, UserName, Attribute);

    CREATE TABLE radusergroup (
      id serial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      UserName text NOT NULL DEFAULT '',
      GroupName text NOT NULL DEFAULT '',
      priority integer NOT NULL DEFAULT 0
    );
    CREATE INDEX radusergroup_tenant_username ON radusergroup (tenant_id, UserName);

    CREATE TABLE radpostauth (
      id bigserial PRIMARY KEY,
      tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
      nas_id uuid REFERENCES nas(id) ON DELETE SET NULL,
      username text NOT NULL,
      reply text,
      reason text,
      CalledStationId text,
      CallingStationId text,
      authdate timestamptz NOT NULL DEFAULT now(),
      Class text
    );
    CREATE INDEX radpostauth_tenant_user_idx ON radpostauth (tenant_id, username, authdate);
    CREATE INDEX radpostauth_tenant_date_idx ON radpostauth (tenant_id, authdate);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE radpostauth; DROP TABLE radusergroup; DROP TABLE radreply; DROP TABLE radgroupreply;
    DROP TABLE radgroupcheck; DROP TABLE radcheck; DROP TABLE radacct; DROP TABLE nasreload; DROP TABLE nas;
  `);
}
