import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Heartbeats of the worker and of FreeRADIUS's launcher (src/db/heartbeats.ts), read by /readyz:
 * a worker whose loops stopped, or a FreeRADIUS that no longer answers, makes the API not ready
 * with the reason in its JSON.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE process_heartbeats (
      kind text NOT NULL CHECK (kind IN ('worker', 'radius')),
      instance text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      beat_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (kind, instance)
    );
  `);
  await knex.raw(sqlObject('functions/lango_heartbeat', 1));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP FUNCTION lango_heartbeat(text, text); DROP TABLE process_heartbeats;`);
}
