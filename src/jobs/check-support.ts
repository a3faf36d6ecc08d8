/**
 * What the worker's checks (expiry.ts, sweep.ts, quota.ts, stale.ts) share, as SQL: which live
 * sessions must be acted on is written straight into the outbox (INSERT ... SELECT, one
 * statement per check, no rows through Node).
 *
 * Shared rules:
 *  - "covered" means what lango_authorize_check() means: an active subscription with
 *    starts_at <= t < ends_at. A session whose subscriber is not covered would be refused (or
 *    soft-blocked) at its next login, so it is ended now.
 *  - Sessions accepted into the walled garden (radacct.class = the soft-block Class) are never
 *    "expired" again; they are the soft block.
 *  - Duplicates are impossible by construction: the partial unique indexes of
 *    enforcement_actions (one live action per session and reason, and once per session for these
 *    reasons, see 20261201000302) make a second insert a no-op (ON CONFLICT DO NOTHING), even
 *    when two workers run the same check at once or a check races with the worker writing an
 *    outcome. A session whose action timed out or failed is queued again only after
 *    `requeueAfterSeconds`: until then the old row stays in the once index (even while its
 *    outcome is being written, which a NOT EXISTS on the statement's snapshot could not see);
 *    each check first marks the rows older than that superseded, which takes them out of it.
 *  - Every check that runs on a timer takes a transaction-level advisory lock first and skips
 *    when another worker holds it, so two workers do not do the same work twice.
 */
import type { Knex } from 'knex';
import { ONCE_REASONS } from '../modules/enforcement/contract';

export const LOCKS = {
  expiry: 'lango:enforcement:expiry',
  sweep: 'lango:enforcement:sweep',
  quota: 'lango:enforcement:quota',
  stale: 'lango:enforcement:stale',
} as const;

export async function tryLock(trx: Knex.Transaction, name: keyof typeof LOCKS): Promise<boolean> {
  const r = await trx.raw('SELECT pg_try_advisory_xact_lock(hashtext(?)) AS ok', [LOCKS[name]]);
  return r.rows[0]?.ok === true;
}

export async function dbClock(trx: Knex.Transaction): Promise<Date> {
  const r = await trx.raw('SELECT clock_timestamp() AS now');
  return new Date(r.rows[0].now);
}

export async function cursor(trx: Knex.Transaction, name: string, fallback: Date): Promise<Date> {
  const r = await trx('enforcement_cursors').where({ name }).first('position');
  return r ? new Date(r.position) : fallback;
}

export async function setCursor(trx: Knex.Transaction, name: string, position: Date): Promise<void> {
  await trx.raw(
    `INSERT INTO enforcement_cursors (name, position) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
    [name, position],
  );
}

/**
 * "Covered at t", the one definition authorize uses too (db/sql/functions/
 * lango_covering_subscription). `at` appears once (it may be a placeholder).
 */
export const COVERED = (subscriber: string, at: string) =>
  `EXISTS (SELECT 1 FROM lango_covering_subscription(${subscriber}, ${at}))`;

/** The reasons as SQL, spelled like the partial indexes' predicates so that the planner uses them. */
export const ONCE_SQL = `(${ONCE_REASONS.map((r) => `'${r}'`).join(', ')})`;

/**
 * The shared tail: candidates c(radacct_id, subscriber_id, reason, due_at, context) become
 * Disconnect actions. Runs in the check's transaction: first the timeout/failed actions older
 * than requeueAfterSeconds stop blocking (superseded_at), then the insert, which the unique
 * indexes turn into a no-op for every session that still has an action queued, in flight,
 * answered, or recently timed out or failed.
 */
export async function insertDisconnects(
  trx: Knex.Transaction,
  candidates: string,
  params: readonly Knex.RawBinding[],
  opts: CheckOptions,
): Promise<number> {
  await trx.raw(
    `UPDATE enforcement_actions SET superseded_at = clock_timestamp()
     WHERE status IN ('timeout', 'failed') AND superseded_at IS NULL AND radacct_id IS NOT NULL AND reason IN ${ONCE_SQL}
       AND updated_at <= clock_timestamp() - make_interval(secs => ?)`,
    [opts.requeueAfterSeconds ?? 600],
  );
  const res = await trx.raw(
    `${candidates}
     INSERT INTO enforcement_actions
       (tenant_id, subscriber_id, nas_id, radacct_id, username, acct_session_id, framed_ip, nas_ip, kind, reason, context, due_at)
     SELECT a.tenant_id, c.subscriber_id, a.nas_id, a.radacctid, a.username, a.acctsessionid, a.framedipaddress, a.nasipaddress,
            'disconnect', c.reason, c.context, c.due_at
     FROM c JOIN radacct a ON a.radacctid = c.radacct_id
     ON CONFLICT DO NOTHING
     RETURNING id`,
    params,
  );
  return res.rows.length;
}

export interface CheckOptions {
  /** A session whose action ended in timeout/failed is queued again after this long. Default 600. */
  requeueAfterSeconds?: number;
}
