import type { Knex } from 'knex';

/**
 * The portal's free trial (src/modules/portal/CONTEXT.md), off by default: a tenant names a
 * (short) plan in its portal settings and a period; a device (MAC) and a phone each get one
 * trial per period. `portal_trials` holds each trial with the period it blocks as a range, and
 * two exclusion constraints make "one per device" and "one per phone" the database's rule:
 * two phones asking at once cannot both pass (btree_gist for the `=` parts; a trusted
 * extension, so the database owner may create it).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE EXTENSION IF NOT EXISTS btree_gist;

    ALTER TABLE portal_settings
      ADD COLUMN trial_plan_id uuid REFERENCES plans(id) ON DELETE SET NULL,
      ADD COLUMN trial_period_hours integer NOT NULL DEFAULT 24
        CONSTRAINT portal_settings_trial_period_check CHECK (trial_period_hours BETWEEN 1 AND 8760);

    CREATE TABLE portal_trials (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      mac_address text NOT NULL CHECK (mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'),
      phone_hash text NOT NULL CHECK (phone_hash ~ '^[0-9a-f]{64}$'),
      subscriber_id uuid REFERENCES subscribers(id) ON DELETE SET NULL,
      plan_id uuid REFERENCES plans(id) ON DELETE SET NULL,
      blocks tstzrange NOT NULL CHECK (NOT isempty(blocks)),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT portal_trials_device_once EXCLUDE USING gist (tenant_id WITH =, mac_address WITH =, blocks WITH &&),
      CONSTRAINT portal_trials_phone_once EXCLUDE USING gist (tenant_id WITH =, phone_hash WITH =, blocks WITH &&)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE portal_trials;
    ALTER TABLE portal_settings DROP COLUMN trial_period_hours, DROP COLUMN trial_plan_id;
  `);
}
