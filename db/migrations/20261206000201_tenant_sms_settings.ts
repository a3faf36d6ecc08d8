import type { Knex } from 'knex';

/**
 * A tenant's own SMS settings (src/modules/payments/sms-settings.service.ts): on or off, its
 * sender ID, and its own Africa's Talking username and API key (the key sealed by
 * lib/secret-box.ts like the M-Pesa credentials). No row, or a row without credentials, sends
 * with the install's (LANGO_SMS_*). The username and key go together.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE tenant_sms_settings (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
      enabled boolean NOT NULL DEFAULT true,
      sender_id text CHECK (sender_id IS NULL OR sender_id ~ '^[A-Za-z0-9 ]{1,11}$'),
      username text CHECK (username IS NULL OR username ~ '^[A-Za-z0-9_.-]{1,64}$'),
      api_key_sealed text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((username IS NULL) = (api_key_sealed IS NULL))
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE tenant_sms_settings;`);
}
