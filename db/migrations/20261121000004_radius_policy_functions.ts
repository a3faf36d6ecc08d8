import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * SQL functions that FreeRADIUS's rlm_sql calls (see freeradius/mods-config/sql/main/postgresql/
 * queries.conf). They put the whole authorize decision in two round trips instead of stock's
 * five, and scope every lookup to the tenant that owns the NAS the packet came from.
 *
 * Text from RADIUS (User-Name, NAS-Identifier, Acct-Session-Id, ...) reaches SQL hex-encoded
 * (%{hex:...}) and is decoded by lango_text(): rlm_sql's own escaping would turn o'brien into
 * o=27brien and unicode into =C3=A9, so names would not match what the API stored.
 */
export async function up(knex: Knex): Promise<void> {
  for (const f of [
    'lango_text',
    'lango_mac',
    'lango_nas_find',
    'lango_client_secret',
    'lango_authorize_check',
    'lango_authorize_reply',
  ]) {
    await knex.raw(sqlObject(`functions/${f}`, 1));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION lango_authorize_reply(text, text);
    DROP FUNCTION lango_authorize_check(text, text, text, text);
    DROP FUNCTION lango_client_secret(text);
    DROP FUNCTION lango_nas_find(text, text);
    DROP FUNCTION lango_mac(text);
    DROP FUNCTION lango_text(text);
  `);
}
