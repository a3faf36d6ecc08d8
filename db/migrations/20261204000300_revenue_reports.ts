import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Revenue reports (docs/reports.md): reports.sales (one row per ledger entry and per activated
 * voucher), reports.revenue_daily (per tenant day, plan and channel), reports.payment_funnel and
 * reports.voucher_stock. They read the payments ledger and the vouchers directly (a sale is a few
 * rows a day per buyer, not one per interim); the REST reports bound the instants of a range so
 * the indexes on (tenant_id, created_at) and (tenant_id, activated_at) are used.
 */
const REVENUE_VIEWS = ['sales', 'revenue_daily', 'payment_funnel', 'voucher_stock'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX vouchers_tenant_activated_idx ON vouchers (tenant_id, activated_at) WHERE activated_at IS NOT NULL`,
  );
  for (const name of REVENUE_VIEWS) await knex.raw(sqlObject(`views/${name}`, 1));
}

export async function down(knex: Knex): Promise<void> {
  for (const name of [...REVENUE_VIEWS].reverse()) await knex.raw(`DROP VIEW reports.${name}`);
  await knex.raw(`DROP INDEX vouchers_tenant_activated_idx`);
}
