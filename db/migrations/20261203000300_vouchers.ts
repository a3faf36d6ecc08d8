import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Vouchers (src/modules/vouchers/CONTEXT.md). A voucher is a subscriber of kind 'voucher' whose
 * username and password are its code, so FreeRADIUS reads it like any subscriber (radcheck
 * password, radusergroup plan group) and the tenant-wide unique username makes codes unique per
 * tenant. voucher_batches keeps what was sold (the plan's allowance copied, price, device limit,
 * use-by date); vouchers the state (activated at the first Accept, revoked); voucher_devices the
 * MACs bound (primary key: a device binds once); voucher_login_tokens the SHA-256 of the one-time
 * QR login tokens (never the token).
 *
 * lango_authorize_check v4 decides vouchers; lango_voucher_login v1 (post-auth) binds the device
 * and starts the clock (docs/decisions.md "Vouchers: the clock starts in post-auth");
 * lango_nas_failures v1 and tenants.voucher_guess_limit throttle guessing codes through a NAS.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE subscribers ADD COLUMN kind text NOT NULL DEFAULT 'account' CHECK (kind IN ('account', 'voucher'));
    -- Failed logins through one NAS (any name) in auth_fail_window_seconds after which unknown
    -- names and vouchers are throttled there (guessing codes; lango_nas_failures()).
    ALTER TABLE tenants ADD COLUMN voucher_guess_limit integer NOT NULL DEFAULT 100 CHECK (voucher_guess_limit BETWEEN 1 AND 100000);
    CREATE INDEX radpostauth_nas_failures_idx ON radpostauth (nas_id, authdate) WHERE reply = 'Access-Reject' AND reason IS NULL;

    CREATE TABLE voucher_batches (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      plan_id uuid REFERENCES plans(id) ON DELETE SET NULL,
      plan_name text NOT NULL,
      duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
      data_quota_bytes bigint CHECK (data_quota_bytes IS NULL OR data_quota_bytes > 0),
      session_timeout_seconds integer CHECK (session_timeout_seconds IS NULL OR session_timeout_seconds > 0),
      quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
      alphabet text NOT NULL CHECK (alphabet IN ('numeric', 'alphanumeric')),
      code_length integer NOT NULL CHECK (code_length BETWEEN 6 AND 32),
      device_limit integer NOT NULL CHECK (device_limit BETWEEN 1 AND 100),
      price integer NOT NULL CHECK (price >= 0),
      expires_at timestamptz,
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, id)
    );
    CREATE INDEX voucher_batches_tenant_created_idx ON voucher_batches (tenant_id, created_at DESC, id);

    CREATE TABLE vouchers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL,
      batch_id uuid NOT NULL,
      subscriber_id uuid NOT NULL,
      code text NOT NULL,
      activated_at timestamptz,
      revoked_at timestamptz,
      revoked_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, id),
      CONSTRAINT vouchers_tenant_code_unique UNIQUE (tenant_id, code),
      CONSTRAINT vouchers_subscriber_unique UNIQUE (subscriber_id),
      FOREIGN KEY (tenant_id, batch_id) REFERENCES voucher_batches(tenant_id, id) ON DELETE CASCADE,
      FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscribers(tenant_id, id) ON DELETE CASCADE
    );
    CREATE INDEX vouchers_batch_idx ON vouchers (batch_id, code);

    CREATE TABLE voucher_devices (
      tenant_id uuid NOT NULL,
      voucher_id uuid NOT NULL,
      mac_address text NOT NULL CHECK (mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'),
      bound_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (voucher_id, mac_address),
      FOREIGN KEY (tenant_id, voucher_id) REFERENCES vouchers(tenant_id, id) ON DELETE CASCADE
    );

    CREATE TABLE voucher_login_tokens (
      token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
      tenant_id uuid NOT NULL,
      voucher_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      used_at timestamptz,
      FOREIGN KEY (tenant_id, voucher_id) REFERENCES vouchers(tenant_id, id) ON DELETE CASCADE
    );
    CREATE INDEX voucher_login_tokens_voucher_idx ON voucher_login_tokens (voucher_id);
  `);
  await knex.raw(sqlObject('functions/lango_nas_failures', 1));
  await knex.raw(sqlObject('functions/lango_authorize_check', 4));
  await knex.raw(sqlObject('functions/lango_voucher_login', 1));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('functions/lango_authorize_check', 3));
  await knex.raw(`
    DROP FUNCTION lango_voucher_login(text, text, text);
    DROP FUNCTION lango_nas_failures(uuid, integer, integer);
    DROP INDEX radpostauth_nas_failures_idx;
    ALTER TABLE tenants DROP COLUMN voucher_guess_limit;
    DELETE FROM radcheck c USING subscribers s WHERE s.kind = 'voucher' AND c.tenant_id = s.tenant_id AND c.username = s.username;
    DELETE FROM radusergroup g USING subscribers s WHERE s.kind = 'voucher' AND g.tenant_id = s.tenant_id AND g.username = s.username;
    DELETE FROM subscribers WHERE kind = 'voucher';
    DROP TABLE voucher_login_tokens;
    DROP TABLE voucher_devices;
    DROP TABLE vouchers;
    DROP TABLE voucher_batches;
    ALTER TABLE subscribers DROP COLUMN kind;
  `);
}
