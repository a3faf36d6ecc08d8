import type { Knex } from 'knex';

/**
 * Staff credentials that can be revoked, per-tenant staff emails, and the login throttle.
 *
 *  - users.token_version: every staff JWT carries it and every request compares it, so bumping
 *    it (password change, disable, role change, logout) ends all of that user's tokens; a
 *    re-enabled user's old tokens stay dead because disabling bumped it.
 *  - api_keys.expires_at: optional end of an API key.
 *  - Staff emails are unique per tenant (platform admins among themselves: the zero uuid stands
 *    for "no tenant"), so adding a user whose email exists at another tenant no longer reveals
 *    that. Login looks users up by lower(email) across tenants: users_email_idx.
 *  - login_throttle: rate-limiter-flexible's PostgreSQL store (its own column layout), shared by
 *    every API process. Created here, not by the library at run time, so the API's database
 *    role needs no CREATE right.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
    ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;

    DROP INDEX users_email_unique;
    CREATE UNIQUE INDEX users_email_tenant_unique
      ON users (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(email));
    CREATE INDEX users_email_idx ON users (lower(email));

    CREATE TABLE login_throttle (
      key varchar(255) PRIMARY KEY,
      points integer NOT NULL DEFAULT 0,
      expire bigint
    );
  `);
}

/** Fails if an email now exists at two tenants: the old global uniqueness cannot hold them. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE login_throttle;
    DROP INDEX users_email_idx;
    DROP INDEX users_email_tenant_unique;
    CREATE UNIQUE INDEX users_email_unique ON users (lower(email));
    ALTER TABLE api_keys DROP COLUMN expires_at;
    ALTER TABLE users DROP COLUMN token_version;
  `);
}
