import type { Knex } from 'knex';

/**
 * Data only (the schema change is the previous migration): entries that platform admins wrote
 * before actor type 'platform' existed were recorded as 'user' with the admin's id, which the
 * tenant could read in its audit log. Reclassify them so tenant reads hide the id.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE audit_log SET actor_type = 'platform'
    WHERE actor_type = 'user' AND actor_id IN (SELECT id FROM users WHERE role = 'platform_admin');
    UPDATE enforcement_actions SET requested_by_type = 'platform'
    WHERE requested_by_type = 'user' AND requested_by IN (SELECT id FROM users WHERE role = 'platform_admin');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE audit_log SET actor_type = 'user' WHERE actor_type = 'platform';
    UPDATE enforcement_actions SET requested_by_type = 'user' WHERE requested_by_type = 'platform';
  `);
}
