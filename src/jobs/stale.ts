/** Closing stale sessions (a Periodic of the worker). */
import type { Knex } from 'knex';
import { withTransaction } from '../db/knex';
import { INTERIM_FLOOR_SECONDS } from '../modules/plans/radius-profile';
import { dbClock, tryLock } from './check-support';

export interface StaleOptions {
  /** k: a session is stale after k x its interim interval without an update. Default 3. */
  factor?: number;
  /** Interim interval for sessions of users without a plan. Default INTERIM_FLOOR_SECONDS (the policy's floor). */
  defaultInterimSeconds?: number;
  /** Rows closed per run at most. Default 5000. */
  limit?: number;
}

export interface StaleResult {
  ran: boolean;
  closed: number;
}

/**
 * Closes radacct rows with no update for k x interim interval: acctstoptime set, cause
 * Stale-Session. Never deletes: the row is the usage record. A late Stop still overwrites the
 * close (queries.conf accepts a Stop for a Stale-Session row). The interim interval is the larger
 * of the plan's and the one the NAS actually kept (acctinterval).
 */
export async function closeStaleSessions(db: Knex, opts: StaleOptions = {}): Promise<StaleResult> {
  return withTransaction(db, async (trx) => {
    if (!(await tryLock(trx, 'stale'))) return { ran: false, closed: 0 };
    const now = await dbClock(trx);
    const k = opts.factor ?? 3;
    const res = await trx.raw(
      `UPDATE radacct a SET acctstoptime = ?::timestamptz, acctterminatecause = 'Stale-Session'
       FROM (
         SELECT a2.radacctid
         FROM radacct a2
         LEFT JOIN subscribers s ON s.tenant_id = a2.tenant_id AND s.username = a2.username
         LEFT JOIN plans p ON p.id = s.plan_id
         WHERE a2.acctstoptime IS NULL
           AND coalesce(a2.acctupdatetime, a2.acctstarttime) < ?::timestamptz - make_interval(secs => ? * 60)
           AND coalesce(a2.acctupdatetime, a2.acctstarttime) < ?::timestamptz - make_interval(secs =>
                 ? * greatest(coalesce(p.interim_interval_seconds, ?), coalesce(a2.acctinterval, 0)))
         LIMIT ?
         FOR UPDATE OF a2 SKIP LOCKED
       ) x
       WHERE a.radacctid = x.radacctid
       RETURNING a.radacctid`,
      [now, now, k, now, k, opts.defaultInterimSeconds ?? INTERIM_FLOOR_SECONDS, opts.limit ?? 5000],
    );
    return { ran: true, closed: res.rows.length };
  });
}
