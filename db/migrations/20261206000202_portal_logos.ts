import type { Knex } from 'knex';

/**
 * The portal logo moves out of portal_settings.logo_data_url (an inline data: URL of at most
 * 16 KB) into portal_logos: the image's bytes (PNG, JPEG or WebP, checked by their magic bytes
 * in src/modules/portal/logo.ts; at most 200 KB; never SVG), served by the portal at
 * /portal/<slug>/logo with cache headers and its SHA-256 as the ETag. Existing logos are copied.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE portal_logos (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
      content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
      bytes bytea NOT NULL CHECK (octet_length(bytes) BETWEEN 1 AND 204800),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO portal_logos (tenant_id, content_type, bytes, sha256, updated_at)
      SELECT tenant_id, substring(logo_data_url FROM '^data:(image/[a-z]+);'), b, encode(sha256(b), 'hex'), updated_at
        FROM (SELECT tenant_id, logo_data_url, updated_at, decode(substring(logo_data_url FROM ',(.*)$'), 'base64') AS b
                FROM portal_settings WHERE logo_data_url IS NOT NULL) l
       WHERE octet_length(b) > 0;
    ALTER TABLE portal_settings DROP COLUMN logo_data_url;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE portal_settings ADD COLUMN logo_data_url text CONSTRAINT portal_settings_logo_check
      CHECK (logo_data_url IS NULL OR (length(logo_data_url) <= 16384 AND logo_data_url ~ '^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$'));
    UPDATE portal_settings s SET logo_data_url = 'data:' || l.content_type || ';base64,' || replace(encode(l.bytes, 'base64'), E'\\n', '')
      FROM portal_logos l WHERE l.tenant_id = s.tenant_id AND octet_length(l.bytes) <= 12000;
    DROP TABLE portal_logos;
  `);
}
