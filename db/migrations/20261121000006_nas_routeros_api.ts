import type { Knex } from 'knex';

/**
 * RouterOS API credentials per NAS, for the live session list and the fallback kick when a
 * CoA/Disconnect times out (src/mikrotik/fallback.ts).
 *
 * api_password is stored as given, like nas.secret: Lango must present it to the router in
 * clear (the 6.43+ /login sends the password itself, and the pre-6.43 challenge needs it to
 * compute the MD5 response), exactly as FreeRADIUS must read the RADIUS secret in clear. A hash
 * would be useless. It is write-only through the API: NasService never puts it in a view, the
 * audit log records only that it changed, and the logger redacts `*.password`. Protect it the
 * way the database and its backups are protected.
 *
 * api_port defaults to 8728 (api); 8729 is api-ssl (api_tls). A NAS without a username has no
 * API access configured.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE nas
      ADD COLUMN api_port integer NOT NULL DEFAULT 8728 CHECK (api_port BETWEEN 1 AND 65535),
      ADD COLUMN api_username text,
      ADD COLUMN api_password text,
      ADD COLUMN api_tls boolean NOT NULL DEFAULT false,
      ADD CONSTRAINT nas_api_credentials_paired CHECK ((api_username IS NULL) = (api_password IS NULL));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE nas
      DROP CONSTRAINT nas_api_credentials_paired,
      DROP COLUMN api_tls,
      DROP COLUMN api_password,
      DROP COLUMN api_username,
      DROP COLUMN api_port;
  `);
}
