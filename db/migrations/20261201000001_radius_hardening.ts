import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * What the security review of the RADIUS side asked for (see docs/decisions.md):
 *
 *  - Values reach rlm_sql in a form it cannot reinterpret (lango_rad_value()): a stored
 *    password `%{sql:...}` used to be xlat-expanded by FreeRADIUS.
 *  - The rlm_sql entry points run with the owner's rights and a fixed search_path, so that
 *    FreeRADIUS's database role needs nothing but EXECUTE on them (src/db/roles.ts grants).
 *  - NAS: Message-Authenticator required per NAS (default on; RouterOS 7.15+ sends it), and an
 *    approval before an address is admitted (approved_at; see NasService for who approves).
 *  - Failed password checks are throttled per user name and NAS (tenant settings).
 *  - A suspended tenant's subscribers are rejected ("Service suspended").
 *  - Per-period counter baselines (subscription_baselines), so a session that straddles the
 *    start of a new period counts only what it uses in it.
 *  - Accounting numbers are computed in numeric and clamped (Acct-Delay-Time >= 2^31 and
 *    Gigawords >= 2^31 used to lose the packet or store a negative counter).
 */
const NEW = [
  ['lango_rad_value', 1],
  ['lango_nas_find', 2],
  ['lango_client_secret', 2],
  ['lango_client_require_ma', 1],
  ['lango_covering_subscription', 1],
  ['lango_period_usage', 1],
  ['lango_snapshot_baselines', 1],
  ['lango_auth_failures', 1],
  ['lango_authorize_check', 3],
  ['lango_authorize', 2],
  ['lango_authorize_reply', 3],
  ['lango_user_groups', 1],
  ['lango_postauth', 2],
  ['lango_acct_do', 2],
  ['lango_acct', 2],
] as const;

const ACCT_ARGS = (delay: 'integer' | 'bigint') =>
  `text, text, text, text, text, text, text, text, text, text, ${delay}, bigint, bigint, bigint, bigint, bigint, text, text, text, text, text, text, text, text, text, text, text, text, text`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE nas
      ADD COLUMN require_message_authenticator boolean NOT NULL DEFAULT true,
      ADD COLUMN approved_at timestamptz;
    UPDATE nas SET approved_at = created_at;
    -- An address belongs to one tenant once approved; before that, several tenants may claim it
    -- (nothing tells one tenant that another uses an address) and a platform admin decides.
    DROP INDEX nas_address_identifier_unique;
    CREATE UNIQUE INDEX nas_address_identifier_unique ON nas (nasname, COALESCE(identifier, '')) WHERE approved_at IS NOT NULL;
    CREATE UNIQUE INDEX nas_tenant_address_identifier_unique ON nas (tenant_id, nasname, COALESCE(identifier, ''));

    ALTER TABLE tenants
      ADD COLUMN auth_fail_limit integer NOT NULL DEFAULT 10 CHECK (auth_fail_limit BETWEEN 1 AND 1000),
      ADD COLUMN auth_fail_window_seconds integer NOT NULL DEFAULT 900 CHECK (auth_fail_window_seconds BETWEEN 60 AND 86400);

    CREATE TABLE subscription_baselines (
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      subscription_id uuid NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
      -- No foreign key to radacct (FreeRADIUS's table, to be partitioned), as in enforcement_actions.
      radacct_id bigint NOT NULL,
      octets bigint NOT NULL CHECK (octets >= 0),
      taken_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (subscription_id, radacct_id)
    );
    -- The worker snapshots baselines when a period starts.
    CREATE INDEX subscriptions_active_starts_idx ON subscriptions (starts_at) WHERE status = 'active';

    DROP FUNCTION lango_acct(${ACCT_ARGS('integer')});
    DROP FUNCTION lango_acct_do(${ACCT_ARGS('integer')});
  `);
  for (const [name, version] of NEW) await knex.raw(sqlObject(`functions/${name}`, version));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION lango_acct(${ACCT_ARGS('bigint')});
    DROP FUNCTION lango_acct_do(${ACCT_ARGS('bigint')});
    DROP FUNCTION lango_user_groups(text, text);
    DROP FUNCTION lango_client_require_ma(text);
  `);
  for (const [name, version] of [
    ['lango_acct_do', 1],
    ['lango_acct', 1],
    ['lango_postauth', 1],
    ['lango_authorize_reply', 2],
    ['lango_authorize', 1],
    ['lango_authorize_check', 2],
    ['lango_client_secret', 1],
    ['lango_nas_find', 1],
  ] as const) {
    await knex.raw(sqlObject(`functions/${name}`, version));
  }
  await knex.raw(`
    DROP FUNCTION lango_auth_failures(uuid, uuid, text, integer, integer);
    DROP FUNCTION lango_snapshot_baselines(uuid);
    DROP FUNCTION lango_period_usage(uuid, text, uuid, timestamptz);
    DROP FUNCTION lango_covering_subscription(uuid, timestamptz);
    DROP FUNCTION lango_rad_value(text);
    DROP INDEX subscriptions_active_starts_idx;
    DROP TABLE subscription_baselines;
    ALTER TABLE tenants DROP COLUMN auth_fail_window_seconds, DROP COLUMN auth_fail_limit;
    DROP INDEX nas_tenant_address_identifier_unique;
    DROP INDEX nas_address_identifier_unique;
    CREATE UNIQUE INDEX nas_address_identifier_unique ON nas (nasname, COALESCE(identifier, ''));
    ALTER TABLE nas DROP COLUMN approved_at, DROP COLUMN require_message_authenticator;
  `);
}
