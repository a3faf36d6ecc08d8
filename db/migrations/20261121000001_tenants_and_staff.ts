import type { Knex } from 'knex';

/** Tenants, staff users, API keys and the audit log: who may do what, and a trail of it. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE tenants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
      time_zone text NOT NULL DEFAULT 'Africa/Nairobi',
      currency char(3) NOT NULL DEFAULT 'KES',
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
      email text NOT NULL,
      name text,
      password_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('platform_admin', 'tenant_admin', 'tenant_operator')),
      disabled_at timestamptz,
      last_login_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
    );
    CREATE UNIQUE INDEX users_email_unique ON users (lower(email));
    CREATE INDEX users_tenant_idx ON users (tenant_id);

    -- API keys are shown once; only a SHA-256 of the random secret part is kept (the secret is
    -- 32 random bytes, so a slow hash adds nothing). prefix is the public lookup id.
    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name text NOT NULL,
      prefix text NOT NULL UNIQUE,
      key_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('tenant_admin', 'tenant_operator')),
      created_by uuid REFERENCES users(id) ON DELETE SET NULL,
      last_used_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
      actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
      actor_id uuid,
      action text NOT NULL,
      entity text NOT NULL,
      entity_id text,
      data jsonb NOT NULL DEFAULT '{}'::jsonb,
      request_id text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_tenant_time_idx ON audit_log (tenant_id, created_at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE audit_log; DROP TABLE api_keys; DROP TABLE users; DROP TABLE tenants;');
}
