import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Active sessions over time (docs/reports.md, reports.session_samples): the worker counts the
 * open sessions of every NAS every few minutes (src/jobs/samples.ts) and keeps a bounded number
 * of days. The instant is the start of its sampling slot, so two workers sampling the same slot
 * write one row (the primary key). The key leads with (tenant_id, sampled_at), the report's
 * filter; the index on sampled_at serves the retention delete across tenants.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE session_samples (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      sampled_at timestamptz NOT NULL,
      nas_id uuid NOT NULL REFERENCES nas (id) ON DELETE CASCADE,
      active_sessions integer NOT NULL CHECK (active_sessions >= 0),
      active_users integer NOT NULL CHECK (active_users >= 0 AND active_users <= active_sessions),
      PRIMARY KEY (tenant_id, sampled_at, nas_id)
    );
    CREATE INDEX session_samples_sampled_at_idx ON session_samples (sampled_at);
    CREATE INDEX session_samples_nas_idx ON session_samples (nas_id);
  `);
  await knex.raw(sqlObject('views/session_samples', 1));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP VIEW reports.session_samples; DROP TABLE session_samples;`);
}
