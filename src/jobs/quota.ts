/** The data-quota check from interim updates (a Periodic of the worker). */
import type { Knex } from 'knex';
import { withTransaction } from '../db/knex';
import { SOFT_BLOCK_CLASS_RADACCT } from '../modules/enforcement/contract';
import { cursor, dbClock, insertDisconnects, setCursor, tryLock, type CheckOptions } from './check-support';
import type { SweepResult } from './sweep';

export interface QuotaOptions extends CheckOptions {
  /** Sessions updated since (last run - overlap) are looked at. Default 120 s (Acct-Delay-Time, commit lag). */
  overlapSeconds?: number;
}

/**
 * Data quota from interim updates: open sessions updated since the last run (minus an overlap)
 * whose subscriber's current period has a quota; usage is lango_period_usage(), the function
 * lango_authorize_check() calls (index radacct_tenant_user_start_idx, per-period baselines). Every open session of
 * a user over quota is disconnected (reason quota, or soft_block at a soft-blocking tenant).
 *
 * The scan of open sessions uses the open-session partial indexes; acctupdatetime is on purpose
 * not indexed: an index on it would make every interim update a non-HOT update of radacct, the
 * hottest write path FreeRADIUS has.
 */
export async function runQuotaCheck(db: Knex, opts: QuotaOptions = {}): Promise<SweepResult> {
  return withTransaction(db, async (trx) => {
    if (!(await tryLock(trx, 'quota'))) return { ran: false, enqueued: 0 };
    const now = await dbClock(trx);
    const last = await cursor(trx, 'quota', new Date(now.getTime() - 86_400_000));
    const since = new Date(last.getTime() - (opts.overlapSeconds ?? 120) * 1000);
    const enqueued = await insertDisconnects(
      trx,
      `WITH candidates AS MATERIALIZED (
         -- Subscribers, once each, with a session updated since, and an active period with a
         -- quota at all now (subscriptions_subscriber_idx): a necessary condition for the covering
         -- period to have one, so the function below runs only for them, not for every session
         -- of a plan without a quota.
         SELECT DISTINCT s.id AS subscriber_id, s.tenant_id, s.username, t.expiry_action
         FROM radacct a
         JOIN subscribers s ON s.tenant_id = a.tenant_id AND s.username = a.username AND s.status = 'active'
         JOIN tenants t ON t.id = s.tenant_id
         WHERE a.acctstoptime IS NULL AND a.acctupdatetime > ? AND a.class IS DISTINCT FROM ?
           AND EXISTS (SELECT 1 FROM subscriptions q
                       WHERE q.subscriber_id = s.id AND q.status = 'active' AND q.data_quota_bytes IS NOT NULL
                         AND q.ends_at > ?::timestamptz AND q.starts_at <= ?::timestamptz)
       ), touched AS (
         SELECT u.subscriber_id, u.tenant_id, u.username, u.expiry_action,
                sb.id AS subscription_id, sb.starts_at, sb.data_quota_bytes
         FROM candidates u
         CROSS JOIN LATERAL lango_covering_subscription(u.subscriber_id, ?::timestamptz) sb
         WHERE sb.data_quota_bytes IS NOT NULL
       ), over AS (
         SELECT u.*, lango_period_usage(u.tenant_id, u.username, u.subscription_id, u.starts_at) AS bytes
         FROM touched u
       ), over_quota AS (
         SELECT * FROM over WHERE bytes >= data_quota_bytes
       ), c AS (
         SELECT a.radacctid AS radacct_id, o.subscriber_id,
                CASE WHEN o.expiry_action = 'soft_block' THEN 'soft_block' ELSE 'quota' END AS reason,
                ?::timestamptz AS due_at,
                jsonb_build_object('cause', 'quota', 'subscriptionId', o.subscription_id, 'quotaBytes', o.data_quota_bytes, 'usedBytes', o.bytes) AS context
         FROM over_quota o
         JOIN radacct a ON a.tenant_id = o.tenant_id AND a.username = o.username AND a.acctstoptime IS NULL
         WHERE a.class IS DISTINCT FROM ?
       )`,
      [since, SOFT_BLOCK_CLASS_RADACCT, now, now, now, now, SOFT_BLOCK_CLASS_RADACCT],
      opts,
    );
    await setCursor(trx, 'quota', now);
    return { ran: true, enqueued };
  });
}
