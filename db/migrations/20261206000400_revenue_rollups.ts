import type { Knex } from 'knex';
import { sqlObject } from '../../src/db/sql-objects';

/**
 * Revenue and payment-funnel rollups (docs/decisions.md 73): per tenant day, kept by row triggers
 * on ledger_entries, payments, vouchers, voucher_batches and tenants (a time zone change rebuilds
 * the tenant's rows), so reports.revenue_daily and reports.payment_funnel read a few rows per day
 * instead of every payment of the range. Filled from the base tables here, tenant by tenant.
 * reports.sales stays the row-level view for psql and BI tools.
 */
const FUNCTIONS = [
  'lango_revenue_add',
  'lango_revenue_rollup',
  'lango_funnel_add',
  'lango_funnel_rollup',
  'lango_revenue_rebuild',
  'lango_revenue_time_zone',
] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE revenue_rollup (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      day date NOT NULL,
      -- No foreign key: the zero uuid stands for "no plan" (an unallocated credit), and a deleted
      -- plan's sales are moved to it by the trigger on payments / voucher_batches.
      plan_id uuid NOT NULL,
      channel text NOT NULL,
      sales bigint NOT NULL DEFAULT 0,
      refunds bigint NOT NULL DEFAULT 0,
      gross_amount bigint NOT NULL DEFAULT 0,
      refunded_amount bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, day, plan_id, channel)
    );
    CREATE TABLE funnel_rollup (
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      day date NOT NULL,
      channel text NOT NULL,
      initiated bigint NOT NULL DEFAULT 0,
      pending bigint NOT NULL DEFAULT 0,
      completed bigint NOT NULL DEFAULT 0,
      cancelled bigint NOT NULL DEFAULT 0,
      failed bigint NOT NULL DEFAULT 0,
      expired bigint NOT NULL DEFAULT 0,
      unallocated bigint NOT NULL DEFAULT 0,
      refunded bigint NOT NULL DEFAULT 0,
      completed_amount bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant_id, day, channel)
    );
  `);
  for (const f of FUNCTIONS) await knex.raw(sqlObject(`functions/${f}`, 1));
  await knex.raw(`
    CREATE TRIGGER ledger_entries_revenue_rollup AFTER INSERT ON ledger_entries
      FOR EACH ROW EXECUTE FUNCTION lango_revenue_rollup();
    CREATE TRIGGER payments_revenue_rollup AFTER UPDATE OF plan_id, channel ON payments
      FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id OR OLD.channel IS DISTINCT FROM NEW.channel)
      EXECUTE FUNCTION lango_revenue_rollup();
    CREATE TRIGGER vouchers_revenue_rollup_insert AFTER INSERT ON vouchers
      FOR EACH ROW WHEN (NEW.activated_at IS NOT NULL) EXECUTE FUNCTION lango_revenue_rollup();
    CREATE TRIGGER vouchers_revenue_rollup_update AFTER UPDATE OF activated_at, batch_id ON vouchers
      FOR EACH ROW WHEN (OLD.activated_at IS DISTINCT FROM NEW.activated_at OR OLD.batch_id IS DISTINCT FROM NEW.batch_id)
      EXECUTE FUNCTION lango_revenue_rollup();
    CREATE TRIGGER voucher_batches_revenue_rollup AFTER UPDATE OF plan_id, price ON voucher_batches
      FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id OR OLD.price IS DISTINCT FROM NEW.price)
      EXECUTE FUNCTION lango_revenue_rollup();
    CREATE TRIGGER payments_funnel_rollup_insert AFTER INSERT ON payments
      FOR EACH ROW EXECUTE FUNCTION lango_funnel_rollup();
    CREATE TRIGGER payments_funnel_rollup_update AFTER UPDATE OF state, allocation, amount, channel, created_at ON payments
      FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.allocation IS DISTINCT FROM NEW.allocation
        OR OLD.amount IS DISTINCT FROM NEW.amount OR OLD.channel IS DISTINCT FROM NEW.channel
        OR OLD.created_at IS DISTINCT FROM NEW.created_at)
      EXECUTE FUNCTION lango_funnel_rollup();
    CREATE TRIGGER tenants_revenue_time_zone AFTER UPDATE OF time_zone ON tenants
      FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION lango_revenue_time_zone();
  `);
  await knex.raw(`SELECT lango_revenue_rebuild(id) FROM tenants`);
  await knex.raw(sqlObject('views/revenue_daily', 2));
  await knex.raw(sqlObject('views/payment_funnel', 2));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(sqlObject('views/revenue_daily', 1));
  await knex.raw(sqlObject('views/payment_funnel', 1));
  await knex.raw(`
    DROP TRIGGER tenants_revenue_time_zone ON tenants;
    DROP TRIGGER payments_funnel_rollup_update ON payments;
    DROP TRIGGER payments_funnel_rollup_insert ON payments;
    DROP TRIGGER voucher_batches_revenue_rollup ON voucher_batches;
    DROP TRIGGER vouchers_revenue_rollup_update ON vouchers;
    DROP TRIGGER vouchers_revenue_rollup_insert ON vouchers;
    DROP TRIGGER payments_revenue_rollup ON payments;
    DROP TRIGGER ledger_entries_revenue_rollup ON ledger_entries;
  `);
  for (const f of [...FUNCTIONS].reverse()) await knex.raw(`DROP FUNCTION ${f}`);
  await knex.raw(`DROP TABLE funnel_rollup; DROP TABLE revenue_rollup;`);
}
