/**
 * A subscription period: the one place that turns a plan into a period sold (staff renewals,
 * new subscribers, M-Pesa payments). The plan's allowance is copied, so a later plan edit does
 * not change what was sold, and the open sessions' counters are snapshotted as the period's
 * baselines (lango_snapshot_baselines), so the period counts only its own bytes.
 */
import type { Knex } from 'knex';
import type { PlanView } from '../plans/plans.schemas';
import { insertSubscription, snapshotBaselines, type SubscriptionRow } from './subscribers.repo';

export async function startPeriod(
  trx: Knex.Transaction,
  p: { tenantId: string; subscriberId: string; plan: PlanView; from: Date; source: string },
): Promise<SubscriptionRow> {
  const row = await insertSubscription(trx, {
    tenant_id: p.tenantId,
    subscriber_id: p.subscriberId,
    plan_id: p.plan.id,
    plan_name: p.plan.name,
    price: p.plan.price,
    data_quota_bytes: p.plan.dataQuotaBytes,
    session_timeout_seconds: p.plan.sessionTimeoutSeconds,
    starts_at: p.from,
    ends_at: new Date(p.from.getTime() + p.plan.durationSeconds * 1000),
    source: p.source,
  });
  await snapshotBaselines(trx, row.id);
  return row;
}
