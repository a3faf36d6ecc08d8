/**
 * The worker's checks, as SQL: which live sessions must be acted on, written straight into the
 * outbox (INSERT ... SELECT, one statement per check, no rows through Node).
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
import { withTransaction } from '../db/knex';
import { ONCE_REASONS, SOFT_BLOCK_CLASS_RADACCT } from '../services/enforcement.service';

const LOCKS = {
  expiry: 'lango:enforcement:expiry',
  sweep: 'lango:enforcement:sweep',
  quota: 'lango:enforcement:quota',
  stale: 'lango:enforcement:stale',
} as const;

async function tryLock(trx: Knex.Transaction, name: keyof typeof LOCKS): Promise<boolean> {
  const r = await trx.raw('SELECT pg_try_advisory_xact_lock(hashtext(?)) AS ok', [LOCKS[name]]);
  return r.rows[0]?.ok === true;
}

async function clock(trx: Knex.Transaction): Promise<Date> {
  const r = await trx.raw('SELECT clock_timestamp() AS now');
  return new Date(r.rows[0].now);
}

async function cursor(trx: Knex.Transaction, name: string, fallback: Date): Promise<Date> {
  const r = await trx('enforcement_cursors').where({ name }).first('position');
  return r ? new Date(r.position) : fallback;
}

async function setCursor(trx: Knex.Transaction, name: string, position: Date): Promise<void> {
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
const COVERED = (subscriber: string, at: string) => `EXISTS (SELECT 1 FROM lango_covering_subscription(${subscriber}, ${at}))`;

/** The reasons as SQL, spelled like the partial indexes' predicates so that the planner uses them. */
const ONCE_SQL = `(${ONCE_REASONS.map((r) => `'${r}'`).join(', ')})`;

/**
 * The shared tail: candidates c(radacct_id, subscriber_id, reason, due_at, context) become
 * Disconnect actions. Runs in the check's transaction: first the timeout/failed actions older
 * than requeueAfterSeconds stop blocking (superseded_at), then the insert, which the unique
 * indexes turn into a no-op for every session that still has an action queued, in flight,
 * answered, or recently timed out or failed.
 */
async function insertDisconnects(trx: Knex.Transaction, candidates: string, params: readonly Knex.RawBinding[], opts: CheckOptions): Promise<number> {
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

export interface ExpiryResult {
  /** False when another worker held the lock (nothing was done). */
  ran: boolean;
  enqueued: number;
  /** Database time of the check. */
  now: Date;
  /** The next active subscription end after `now` (null: none). */
  next: Date | null;
}

/**
 * Subscription ends since the last run: sessions of subscribers whose subscription ended in
 * (cursor, now] and who are not covered now. Served by subscriptions_active_ends_idx; the work
 * is proportional to the subscriptions that just ended, not to everything online. Returns the
 * next end so the scheduler can sleep until exactly then.
 */
export async function runExpiryWindow(db: Knex, opts: CheckOptions = {}): Promise<ExpiryResult> {
  return withTransaction(db, async (trx) => {
    const now = await clock(trx);
    // The next instant something happens to a period: an end (disconnect) or a start (baselines).
    const nextOf = async (): Promise<Date | null> => {
      const r = await trx.raw(
        `SELECT least((SELECT min(ends_at) FROM subscriptions WHERE status = 'active' AND ends_at > ?),
                      (SELECT min(starts_at) FROM subscriptions WHERE status = 'active' AND starts_at > ?)) AS next`,
        [now, now],
      );
      return r.rows[0]?.next ? new Date(r.rows[0].next) : null;
    };
    if (!(await tryLock(trx, 'expiry'))) return { ran: false, enqueued: 0, now, next: await nextOf() };
    const from = await cursor(trx, 'expiry', new Date(now.getTime() - 86_400_000));
    // Periods that began in (cursor, now]: their subscribers' open sessions get baselines, so that
    // a renewal bought ahead counts only what is used after it starts (subscriptions_active_starts_idx).
    await trx.raw(
      `SELECT lango_snapshot_baselines(sb.id) FROM subscriptions sb WHERE sb.status = 'active' AND sb.starts_at > ? AND sb.starts_at <= ?`,
      [from, now],
    );
    const enqueued = await insertDisconnects(
      trx,
      `WITH ended AS (
         SELECT sb.subscriber_id, max(sb.ends_at) AS ended_at
         FROM subscriptions sb
         WHERE sb.status = 'active' AND sb.ends_at > ? AND sb.ends_at <= ?
         GROUP BY sb.subscriber_id
       ), c AS (
         SELECT a.radacctid AS radacct_id, s.id AS subscriber_id,
                CASE WHEN t.expiry_action = 'soft_block' THEN 'soft_block' ELSE 'expired' END AS reason,
                ended.ended_at AS due_at,
                jsonb_build_object('cause', 'expired', 'endedAt', ended.ended_at) AS context
         FROM ended
         JOIN subscribers s ON s.id = ended.subscriber_id AND s.status = 'active'
         JOIN tenants t ON t.id = s.tenant_id
         JOIN radacct a ON a.tenant_id = s.tenant_id AND a.username = s.username AND a.acctstoptime IS NULL
         WHERE NOT ${COVERED('s.id', '?::timestamptz')}
           AND a.class IS DISTINCT FROM ?
       )`,
      [from, now, now, SOFT_BLOCK_CLASS_RADACCT],
      opts,
    );
    await setCursor(trx, 'expiry', now);
    return { ran: true, enqueued, now, next: await nextOf() };
  });
}

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
    const now = await clock(trx);
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
    const now = await clock(trx);
    const last = await cursor(trx, 'quota', new Date(now.getTime() - 86_400_000));
    const since = new Date(last.getTime() - (opts.overlapSeconds ?? 120) * 1000);
    const enqueued = await insertDisconnects(
      trx,
      `WITH touched AS (
         SELECT DISTINCT s.id AS subscriber_id, s.tenant_id, s.username, t.expiry_action,
                sb.id AS subscription_id, sb.starts_at, sb.data_quota_bytes
         FROM radacct a
         JOIN subscribers s ON s.tenant_id = a.tenant_id AND s.username = a.username AND s.status = 'active'
         JOIN tenants t ON t.id = s.tenant_id
         CROSS JOIN LATERAL lango_covering_subscription(s.id, ?::timestamptz) sb
         WHERE a.acctstoptime IS NULL AND a.acctupdatetime > ? AND sb.data_quota_bytes IS NOT NULL
           AND a.class IS DISTINCT FROM ?
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
      [now, since, SOFT_BLOCK_CLASS_RADACCT, now, SOFT_BLOCK_CLASS_RADACCT],
      opts,
    );
    await setCursor(trx, 'quota', now);
    return { ran: true, enqueued };
  });
}

export interface StaleOptions {
  /** k: a session is stale after k x its interim interval without an update. Default 3. */
  factor?: number;
  /** Interim interval for sessions of users without a plan. Default 300 (the policy's floor). */
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
    const now = await clock(trx);
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
      [now, now, k, now, k, opts.defaultInterimSeconds ?? 300, opts.limit ?? 5000],
    );
    return { ran: true, closed: res.rows.length };
  });
}
