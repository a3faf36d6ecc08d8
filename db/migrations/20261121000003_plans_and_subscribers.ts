import type { Knex } from 'knex';

/**
 * Plans (each is a FreeRADIUS group: radgroupreply/radgroupcheck rows named by groupname),
 * subscribers (credentials live in radcheck, plan membership in radusergroup) and
 * subscriptions (a period with a snapshot of the plan's limits, so a plan edit does not change
 * what a customer already bought).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE plans (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name text NOT NULL,
      groupname text NOT NULL,
      price integer NOT NULL DEFAULT 0 CHECK (price >= 0),
      duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
      data_quota_bytes bigint CHECK (data_quota_bytes IS NULL OR data_quota_bytes > 0),
      rate_limit text,
      session_timeout_seconds integer CHECK (session_timeout_seconds IS NULL OR session_timeout_seconds > 0),
      idle_timeout_seconds integer CHECK (idle_timeout_seconds IS NULL OR idle_timeout_seconds > 0),
      simultaneous_use integer NOT NULL DEFAULT 1 CHECK (simultaneous_use BETWEEN 1 AND 1000),
      interim_interval_seconds integer NOT NULL DEFAULT 300 CHECK (interim_interval_seconds BETWEEN 60 AND 86400),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, groupname)
    );
    CREATE UNIQUE INDEX plans_tenant_name_unique ON plans (tenant_id, lower(name));

    CREATE TABLE subscribers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      username text NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      plan_id uuid REFERENCES plans(id) ON DELETE RESTRICT,
      full_name text,
      phone text,
      email text,
      mac_address text CHECK (mac_address IS NULL OR mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'),
      static_ip inet,
      notes text,
      suspended_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, username),
      UNIQUE (tenant_id, id)
    );
    CREATE INDEX subscribers_tenant_created_idx ON subscribers (tenant_id, created_at DESC, id);

    CREATE TABLE subscriptions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      subscriber_id uuid NOT NULL,
      plan_id uuid REFERENCES plans(id) ON DELETE SET NULL,
      plan_name text NOT NULL,
      price integer NOT NULL,
      data_quota_bytes bigint,
      session_timeout_seconds integer,
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
      source text NOT NULL DEFAULT 'staff',
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (ends_at > starts_at),
      FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscribers(tenant_id, id) ON DELETE CASCADE
    );
    CREATE INDEX subscriptions_subscriber_idx ON subscriptions (subscriber_id, ends_at DESC);
    CREATE INDEX subscriptions_tenant_ends_idx ON subscriptions (tenant_id, ends_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE subscriptions; DROP TABLE subscribers; DROP TABLE plans;');
}
