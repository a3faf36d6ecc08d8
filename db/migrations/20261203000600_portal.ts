import type { Knex } from 'knex';

/**
 * The captive portal (src/modules/portal/CONTEXT.md): which plans it sells (plans.sellable,
 * true for the plans that exist, as the portal listed every active plan before), and each
 * tenant's portal settings: the name and colours the buyer sees, a small logo, the hotspot DNS
 * names the router's link-login-only may carry besides the NAS addresses, and the paybill/till
 * fallback shown when an STK push fails. One row per tenant; no row = the defaults.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE plans ADD COLUMN sellable boolean NOT NULL DEFAULT true;

    CREATE TABLE portal_settings (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
      display_name text CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 80),
      logo_data_url text CONSTRAINT portal_settings_logo_check
        CHECK (logo_data_url IS NULL OR (length(logo_data_url) <= 16384 AND logo_data_url ~ '^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$')),
      primary_color text NOT NULL DEFAULT '#0b6e4f' CHECK (primary_color ~ '^#[0-9a-f]{6}$'),
      background_color text NOT NULL DEFAULT '#ffffff' CHECK (background_color ~ '^#[0-9a-f]{6}$'),
      hotspot_dns_names text[] NOT NULL DEFAULT '{}' CONSTRAINT portal_settings_dns_names_check
        CHECK (cardinality(hotspot_dns_names) <= 20),
      paybill text CHECK (paybill IS NULL OR paybill ~ '^[0-9]{5,7}$'),
      till text CHECK (till IS NULL OR till ~ '^[0-9]{5,7}$'),
      support_phone text CHECK (support_phone IS NULL OR support_phone ~ '^[+]{0,1}[0-9]{9,15}$'),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE portal_settings;
    ALTER TABLE plans DROP COLUMN sellable;
  `);
}
