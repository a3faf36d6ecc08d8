/** The safety sweep over every open session (a Periodic of the worker). */
import type { Knex } from 'knex';
import { withTransaction } from '../db/knex';
import { SOFT_BLOCK_CLASS_RADACCT } from '../modules/enforcement/contract';
import { COVERED, dbClock, insertDisconnects, tryLock, type CheckOptions } from './check-support';

export interface SweepResult {
  ran: boolean;
  enqueued: number;
}

/**
 * The safety net, over every open session (the open-session partial indexes): subscribers who
 * are suspended or not covered (whatever path changed their rows: SQL by hand, a payment
 * service, a missed timer), and soft-blocked sessions whose subscriber is covered again
 * (reason unblock: disconnected so the re-login gets the full service).
 */
export async function runSweep(db: Knex, opts: CheckOptions = {}): Promise<SweepResult> {
  return withTransaction(db, async (trx) => {
    if (!(await tryLock(trx, 'sweep'))) return { ran: false, enqueued: 0 };
    const now = await dbClock(trx);
    const enqueued = await insertDisconnects(
      trx,
      `WITH open AS (
         SELECT a.radacctid, a.class, s.id AS subscriber_id, s.status, t.status AS tenant_status, t.expiry_action,
                ${COVERED('s.id', '?::timestamptz')} AS covered
         FROM radacct a
         JOIN subscribers s ON s.tenant_id = a.tenant_id AND s.username = a.username
         JOIN tenants t ON t.id = s.tenant_id
         WHERE a.acctstoptime IS NULL
       ), c AS (
         SELECT o.radacctid AS radacct_id, o.subscriber_id,
                CASE
                  WHEN o.tenant_status <> 'active' THEN 'tenant_suspended'
                  WHEN o.status <> 'active' THEN 'suspended'
                  WHEN o.class IS NOT DISTINCT FROM ? THEN 'unblock'
                  WHEN o.expiry_action = 'soft_block' THEN 'soft_block'
                  ELSE 'expired'
                END AS reason,
                CASE WHEN o.tenant_status = 'active' AND o.status = 'active' AND NOT o.covered THEN coalesce(
                  (SELECT max(sb.ends_at) FROM subscriptions sb WHERE sb.subscriber_id = o.subscriber_id AND sb.status = 'active' AND sb.ends_at <= ?::timestamptz),
                  ?::timestamptz) ELSE ?::timestamptz END AS due_at,
                jsonb_build_object('cause', CASE WHEN o.tenant_status <> 'active' THEN 'tenant_suspended' WHEN o.status <> 'active' THEN 'suspended'
                                                 WHEN o.covered THEN 'renewed' ELSE 'expired' END, 'sweep', true) AS context
         FROM open o
         WHERE o.tenant_status <> 'active'
            OR o.status <> 'active'
            OR (o.class IS DISTINCT FROM ? AND NOT o.covered)
            OR (o.class IS NOT DISTINCT FROM ? AND o.covered)
       )`,
      [now, SOFT_BLOCK_CLASS_RADACCT, now, now, now, SOFT_BLOCK_CLASS_RADACCT, SOFT_BLOCK_CLASS_RADACCT],
      opts,
    );
    return { ran: true, enqueued };
  });
}
