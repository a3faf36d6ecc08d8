import type { Knex } from 'knex';

/**
 * Indexes for /metrics (src/http/metrics.ts, reports.repo.ts operationalSnapshot), which reads
 * the payments and SMS of the last 24 hours on every scrape, across tenants: without them each
 * scrape would scan every payment and message ever made. The settlement-lag index holds STK
 * payments only, by when they settled.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX payments_created_idx ON payments (created_at);
    CREATE INDEX payments_stk_settled_idx ON payments (settled_at) WHERE channel = 'stk' AND settled_at IS NOT NULL;
    CREATE INDEX sms_outbox_created_idx ON sms_outbox (created_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `DROP INDEX sms_outbox_created_idx; DROP INDEX payments_stk_settled_idx; DROP INDEX payments_created_idx;`,
  );
}
