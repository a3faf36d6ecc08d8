/**
 * The enforcement outbox (table enforcement_actions, see db/migrations/*_enforcement.ts), as SQL.
 *
 * Enqueue: rows are written inside the caller's transaction, for every open radacct session the
 * change is about; `lango worker` (src/jobs/) sends them after commit. Nothing in this file
 * touches the network. Each write also NOTIFYs the worker (delivered on commit, dropped on
 * rollback), so a queued action leaves within milliseconds instead of at the next poll.
 *
 * The worker's state transitions: each function is one statement (autocommit): nothing here
 * holds a transaction open while the network is used.
 *
 *   claim     pending (due) -> sending, with claimed_by = this worker and a lease, at most the
 *             room of each NAS's window. Rows are picked with FOR UPDATE SKIP LOCKED and the status is re-checked under the row
 *             lock, so two workers can never claim the same row; a row stays invisible to
 *             other workers until its lease runs out.
 *   complete  sending -> ack | nak | timeout | failed | cancelled | pending (retry), fenced by
 *             claimed_by: a worker whose lease was taken over cannot overwrite the new owner.
 *   release   sending -> pending without counting an attempt (shutdown, lease about to end).
 *   reclaim   sending with an expired lease -> pending (a killed worker's rows).
 *
 * None of these can violate a unique index (20261201000302): pending and sending are one
 * "live" state in enforcement_actions_live_unique, so a row moving between them never meets
 * another row for its session and reason, and the once-per-session index covers a row before and
 * after its outcome alike. A new request for a session with a live action is merged at insert
 * time instead (enqueueForUser above); a plan change merged into a CoA that is
 * being sent is sent again with the new attributes when the first outcome comes back.
 *
 * Outcomes are written in one set-based statement per flush; if the database refuses it for
 * anything but a transient reason, they are written one by one and a row that is refused on its
 * own is marked failed, so one bad row never holds back the others.
 */
import type { Knex } from 'knex';
import { withTransaction, type Handle } from '../../db/knex';
import { isTransientDbError, mapDbError, sqlState } from '../../db/errors';
import type { Actor } from '../audit/actor';
import {
  ENFORCEMENT_CHANNEL,
  ONCE_REASONS,
  SOFT_BLOCK_CLASS_RADACCT,
  type EnforcementKind,
  type EnforcementReason,
  type RadiusAttributeValue,
} from './contract';

// Writing: the API's changes (hooks.ts, enforcement.service.ts) queue actions in their own
// transaction, one per open session in scope.

/** Wake the worker when the surrounding transaction commits. */
export async function notifyWorker(h: Handle, what: 'outbox' | 'schedule'): Promise<void> {
  await h.raw('SELECT pg_notify(?, ?)', [ENFORCEMENT_CHANNEL, what]);
}

/** What to queue for each open session in scope. */
export interface EnqueueSpec {
  tenantId: string;
  kind: EnforcementKind;
  reason: EnforcementReason;
  attributes?: RadiusAttributeValue[];
  context?: Record<string, unknown>;
  actor?: Actor;
  /** Only sessions carrying this radacct class (e.g. soft-blocked ones). */
  onlyClass?: string;
  /** Only this session (radacct id). */
  radacctId?: number;
}

export interface EnqueueForUser extends EnqueueSpec {
  username: string;
  subscriberId: string | null;
}

const COLUMNS = `tenant_id, subscriber_id, nas_id, radacct_id, username, acct_session_id, framed_ip, nas_ip,
  kind, reason, attributes, context, requested_by_type, requested_by`;

/**
 * Queue one action per open session of `username` in the tenant (radacct_tenant_open_user_idx).
 * Runs in the caller's transaction. A session that already has the same action live (pending or
 * being sent) is left alone, except a plan change, which is merged into it: the live CoA takes
 * the newest attributes (and is sent again if it was already on its way, src/jobs/outbox.ts).
 * A request from here is deliberate, so a timed-out or failed action of the same reason no
 * longer stands in the way (the worker's checks wait requeueAfterSeconds instead). Returns the
 * ids written.
 */
export async function enqueueForUser(h: Handle, e: EnqueueForUser): Promise<string[]> {
  return enqueueOpenSessions(h, e, { username: e.username, subscriberId: e.subscriberId });
}

/**
 * Queue one action per open session of the whole tenant (the same index, by its tenant_id
 * prefix), each with the subscriber its username belongs to. Same rules as enqueueForUser.
 */
export async function enqueueForTenant(h: Handle, e: EnqueueSpec): Promise<string[]> {
  return enqueueOpenSessions(h, e, null);
}

/** The one INSERT of the outbox hooks; `user` narrows it to one username. */
async function enqueueOpenSessions(
  h: Handle,
  e: EnqueueSpec,
  user: { username: string; subscriberId: string | null } | null,
): Promise<string[]> {
  const conflict =
    e.reason === 'plan_change'
      ? `ON CONFLICT (radacct_id, reason) WHERE status IN ('pending', 'sending') AND radacct_id IS NOT NULL
         DO UPDATE SET attributes = EXCLUDED.attributes, context = EXCLUDED.context,
           requested_by_type = EXCLUDED.requested_by_type, requested_by = EXCLUDED.requested_by, updated_at = now()`
      : 'ON CONFLICT DO NOTHING';
  const subscriber = user
    ? '?::uuid'
    : '(SELECT s.id FROM subscribers s WHERE s.tenant_id = a.tenant_id AND s.username = a.username)';
  // The open sessions in scope; the same FROM/WHERE for the two statements below.
  const sessions = `radacct a
    WHERE a.tenant_id = ? ${user ? 'AND a.username = ?' : ''} AND a.acctstoptime IS NULL
      AND (?::text IS NULL OR a.class = ?::text)
      AND (?::bigint IS NULL OR a.radacctid = ?::bigint)`;
  const inScope = [
    e.tenantId,
    ...(user ? [user.username] : []),
    e.onlyClass ?? null,
    e.onlyClass ?? null,
    e.radacctId ?? null,
    e.radacctId ?? null,
  ];
  return withTransaction(h, async (trx) => {
    if (ONCE_REASONS.includes(e.reason)) {
      await trx.raw(
        `UPDATE enforcement_actions e SET superseded_at = now()
         FROM ${sessions}
           AND e.radacct_id = a.radacctid AND e.reason = ? AND e.status IN ('timeout', 'failed') AND e.superseded_at IS NULL`,
        [...inScope, e.reason],
      );
    }
    const res = await trx.raw(
      `INSERT INTO enforcement_actions (${COLUMNS})
       SELECT a.tenant_id, ${subscriber}, a.nas_id, a.radacctid, a.username, a.acctsessionid, a.framedipaddress, a.nasipaddress,
              ?, ?, ?::jsonb, ?::jsonb, ?, ?
       FROM ${sessions}
       ${conflict}
       RETURNING id`,
      [
        ...(user ? [user.subscriberId] : []),
        e.kind,
        e.reason,
        JSON.stringify(e.attributes ?? []),
        JSON.stringify(e.context ?? {}),
        e.actor?.type ?? 'system',
        e.actor?.id ?? null,
        ...inScope,
      ],
    );
    const ids = (res.rows as Array<{ id: string }>).map((r) => r.id);
    if (ids.length > 0) await notifyWorker(trx, 'outbox');
    return ids;
  });
}

// The worker's side: claims, outcomes, lease reclaim.

export interface ClaimedAction {
  id: string;
  tenant_id: string;
  subscriber_id: string | null;
  nas_id: string | null;
  radacct_id: string | null;
  username: string;
  acct_session_id: string;
  framed_ip: string | null;
  nas_ip: string | null;
  kind: 'disconnect' | 'coa';
  reason: string;
  attributes: Array<{ name: string; value: string | number }>;
  attempts: number;
  max_attempts: number;
  claimed_until: Date;
  /** From nas, resolved now (null when the NAS row is gone). */
  nas_address: string | null;
  nas_identifier: string | null;
  nas_coa_port: number | null;
  nas_secret: string | null;
  nas_api_port: number | null;
  nas_api_username: string | null;
  nas_api_password: string | null;
  nas_api_tls: boolean | null;
  /** Set when the cause no longer holds: the action is cancelled, not sent. */
  cancel_reason: string | null;
}

export interface ClaimOptions {
  worker: string;
  /** Rows at most, over all NAS. */
  limit: number;
  leaseSeconds: number;
  /**
   * Rows at most per NAS (nas id -> room in its window; 0: saturated, its rows are left for later
   * or for other workers). A NAS not listed gets `defaultNasRoom`.
   */
  nasRooms?: ReadonlyMap<string, number>;
  /** Rows at most for a NAS not in nasRooms. Default `limit`. */
  defaultNasRoom?: number;
  /** Attempts an action gets (the worker's setting); unset: the row's own max_attempts. */
  maxAttempts?: number;
}

/**
 * Claims due actions, per NAS: the NAS with pending rows are found by a skip scan of
 * enforcement_actions_due_nas_idx (one index probe per NAS, not per row), and each gets at most
 * its room, oldest first, so the rows of a saturated NAS are never read (20261204000700). Rows
 * without a NAS are claimed too (they end as NAS_NOT_FOUND). One statement, autocommit.
 *
 * The cancel check mirrors the checks that queued them: a session that has ended, a subscriber
 * who renewed (expired, soft_block for time) or was reactivated (suspended), a tenant that is
 * active again (tenant_suspended).
 */
export async function claimDue(db: Knex, o: ClaimOptions): Promise<ClaimedAction[]> {
  const rooms = [...(o.nasRooms ?? new Map<string, number>())];
  const res = await db.raw(
    `WITH RECURSIVE due_nas AS (
       (SELECT e.nas_id FROM enforcement_actions e
        WHERE e.status = 'pending' AND e.nas_id IS NOT NULL ORDER BY e.nas_id LIMIT 1)
       UNION ALL
       SELECT (SELECT e.nas_id FROM enforcement_actions e
               WHERE e.status = 'pending' AND e.nas_id > d.nas_id ORDER BY e.nas_id LIMIT 1)
       FROM due_nas d WHERE d.nas_id IS NOT NULL
     ), rooms AS (
       SELECT d.nas_id, coalesce(w.room, ?::int) AS room
       FROM due_nas d LEFT JOIN unnest(?::uuid[], ?::int[]) AS w(nas_id, room) ON w.nas_id = d.nas_id
       WHERE d.nas_id IS NOT NULL
     ), per_nas AS (
       SELECT p.id FROM rooms r CROSS JOIN LATERAL (
         SELECT e.id FROM enforcement_actions e
         WHERE e.status = 'pending' AND e.nas_id = r.nas_id AND e.next_attempt_at <= now()
         ORDER BY e.next_attempt_at
         LIMIT r.room
         FOR UPDATE OF e SKIP LOCKED) p
       WHERE r.room > 0
       LIMIT ?
     ), no_nas AS (
       SELECT e.id FROM enforcement_actions e
       WHERE e.status = 'pending' AND e.nas_id IS NULL AND e.next_attempt_at <= now()
       ORDER BY e.next_attempt_at
       LIMIT ?
       FOR UPDATE OF e SKIP LOCKED
     ), locked AS (
       SELECT x.id FROM (SELECT id FROM per_nas UNION ALL SELECT id FROM no_nas) x LIMIT ?
     )
     UPDATE enforcement_actions e
     SET status = 'sending', claimed_by = ?, claimed_until = now() + make_interval(secs => ?), updated_at = now(),
         max_attempts = coalesce(?::int, e.max_attempts)
     FROM (SELECT c.id, c.nas_id, c.radacct_id, c.subscriber_id FROM enforcement_actions c
           WHERE c.id = ANY (ARRAY(SELECT id FROM locked))) cur
     LEFT JOIN nas n ON n.id = cur.nas_id
     LEFT JOIN radacct a ON a.radacctid = cur.radacct_id
     LEFT JOIN subscribers s ON s.id = cur.subscriber_id
     -- The claimed ids as an array, so that both sides are primary-key lookups (a join with the
     -- CTE was planned as hash joins over two sequential scans of the whole outbox, history
     -- included: the cost of a claim grew with every action ever sent).
     WHERE e.id = cur.id AND e.id = ANY (ARRAY(SELECT id FROM locked))
     RETURNING e.id, e.tenant_id, e.subscriber_id, e.nas_id, e.radacct_id, e.username, e.acct_session_id,
       host(e.framed_ip) AS framed_ip, host(e.nas_ip) AS nas_ip, e.kind, e.reason, e.attributes, e.attempts,
       e.max_attempts, e.claimed_until,
       n.nasname AS nas_address, n.identifier AS nas_identifier, n.coa_port AS nas_coa_port, n.secret AS nas_secret,
       n.api_port AS nas_api_port, n.api_username AS nas_api_username, n.api_password AS nas_api_password,
       n.api_tls AS nas_api_tls,
       CASE
         WHEN e.radacct_id IS NOT NULL AND a.radacctid IS NOT NULL AND a.acctstoptime IS NOT NULL THEN 'session already ended'
         WHEN e.reason IN ('expired', 'soft_block') AND e.context->>'cause' = 'expired' AND s.id IS NOT NULL
              AND s.status = 'active' AND EXISTS (
                SELECT 1 FROM lango_covering_subscription(s.id, now())) THEN 'subscription renewed'
         WHEN e.reason = 'suspended' AND s.id IS NOT NULL AND s.status = 'active' THEN 'subscriber reactivated'
         WHEN e.reason = 'tenant_suspended' AND EXISTS (
                SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.status = 'active') THEN 'tenant reactivated'
         WHEN e.reason = 'unblock' AND a.radacctid IS NOT NULL AND a.class IS DISTINCT FROM ? THEN 'session not soft-blocked'
       END AS cancel_reason`,
    [
      o.defaultNasRoom ?? o.limit,
      `{${rooms.map(([id]) => id).join(',')}}`,
      `{${rooms.map(([, room]) => Math.max(0, Math.floor(room))).join(',')}}`,
      o.limit,
      o.limit,
      o.limit,
      o.worker,
      o.leaseSeconds,
      o.maxAttempts ?? null,
      SOFT_BLOCK_CLASS_RADACCT,
    ],
  );
  return res.rows as ClaimedAction[];
}

export type FinalStatus = 'ack' | 'nak' | 'timeout' | 'failed' | 'cancelled';

export interface ActionResult {
  id: string;
  /** pending = retry later (after retryInMs). */
  status: FinalStatus | 'pending';
  /** Whether a request went out (counts towards attempts). */
  attempted: boolean;
  retryInMs?: number;
  errorCause?: number | null;
  lastError?: string | null;
  rttMs?: number | null;
  fallback?: { status: 'removed' | 'not_found' | 'failed'; removed: number | null; error: string | null };
  /** For a CoA: the attributes it was claimed with (if the row's differ now, it is sent again). */
  claimedAttributes?: ClaimedAction['attributes'];
}

export interface CompleteResult {
  /** Ids whose outcome was written (this worker still owned them). */
  owned: string[];
  /** Outcomes the database refused on their own; their actions were marked failed. */
  rejected: Array<{ id: string; error: string; cause: unknown }>;
}

/**
 * Records outcomes, in one statement when the database accepts it. A transient error (the
 * database went away) is thrown for the caller to retry later; any other refusal is narrowed
 * down row by row, and a row refused on its own is marked failed with last_error
 * OUTCOME_REJECTED and its SQLSTATE.
 *
 * One statement per batch, one round trip. Committed with synchronous_commit off: an outcome lost to a Postgres crash leaves its row in
 * sending, the lease runs out and the action is sent again (a repeated Disconnect is answered
 * with NAK 503, a repeated CoA is idempotent). In exchange the outcome does not queue behind
 * the WAL flushes of FreeRADIUS's accounting, which is what a burst of Disconnects causes: every
 * ACK is followed by the NAS's Accounting Stop.
 */
export async function completeMany(
  db: Knex,
  worker: string,
  results: readonly ActionResult[],
): Promise<CompleteResult> {
  if (results.length === 0) return { owned: [], rejected: [] };
  try {
    return { owned: await writeOutcomes(db, worker, results), rejected: [] };
  } catch (err) {
    if (isTransientDbError(err)) throw err;
  }
  const out: CompleteResult = { owned: [], rejected: [] };
  for (const r of results) {
    try {
      out.owned.push(...(await writeOutcomes(db, worker, [r])));
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      const error = `OUTCOME_REJECTED: ${sqlState(err) ?? 'ERROR'}`;
      out.rejected.push({ id: r.id, error, cause: err });
      if (await markFailed(db, worker, r, error)) out.owned.push(r.id);
    }
  }
  return out;
}

/** The attributes changed since the claim (a plan change was merged in): send the new ones. */
const RESEND = `(v.claimed IS NOT NULL AND v.status <> 'cancelled' AND e.attributes IS DISTINCT FROM v.claimed)`;

function writeOutcomes(db: Knex, worker: string, results: readonly ActionResult[]): Promise<string[]> {
  const rows = results.map((r) => ({
    id: r.id,
    status: r.status,
    inc: r.attempted ? 1 : 0,
    retry_ms: r.retryInMs ?? 0,
    error_cause: r.errorCause ?? null,
    last_error: r.lastError ?? null,
    rtt_ms: r.rttMs === undefined || r.rttMs === null ? null : Math.round(r.rttMs),
    fb_status: r.fallback?.status ?? null,
    fb_removed: r.fallback?.removed ?? null,
    fb_error: r.fallback?.error ?? null,
    claimed: r.claimedAttributes ?? null,
  }));
  // One statement, one round trip (no BEGIN / SET LOCAL / COMMIT around it): set_config(...,
  // true) turns synchronous_commit off for the statement's own transaction, as lango_acct_do does.
  return db
    .raw(
      `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS ok)
       UPDATE enforcement_actions e SET
         status = CASE WHEN ${RESEND} THEN 'pending' ELSE v.status END,
         attempts = CASE WHEN ${RESEND} THEN 0 ELSE e.attempts + v.inc END,
         next_attempt_at = CASE
           WHEN ${RESEND} THEN clock_timestamp()
           WHEN v.status = 'pending' THEN clock_timestamp() + make_interval(secs => v.retry_ms / 1000.0)
           ELSE e.next_attempt_at END,
         error_cause = v.error_cause,
         last_error = CASE
           WHEN ${RESEND} THEN 'SUPERSEDED: new attributes arrived while the previous ones were sent (' || v.status || ')'
           ELSE coalesce(v.last_error, CASE WHEN v.status IN ('ack', 'nak') THEN NULL ELSE e.last_error END) END,
         rtt_ms = coalesce(v.rtt_ms, e.rtt_ms),
         fallback_status = coalesce(v.fb_status, e.fallback_status),
         fallback_removed = coalesce(v.fb_removed, e.fallback_removed),
         fallback_error = coalesce(v.fb_error, e.fallback_error),
         fallback_at = CASE WHEN v.fb_status IS NOT NULL THEN clock_timestamp() ELSE e.fallback_at END,
         claimed_by = NULL,
         claimed_until = NULL,
         completed_at = CASE WHEN v.status = 'pending' OR ${RESEND} THEN NULL ELSE clock_timestamp() END,
         updated_at = clock_timestamp()
       FROM async_commit, jsonb_to_recordset(?::jsonb) AS v(id uuid, status text, inc int, retry_ms int, error_cause int, last_error text,
         rtt_ms int, fb_status text, fb_removed int, fb_error text, claimed jsonb)
       WHERE e.id = v.id AND e.status = 'sending' AND e.claimed_by = ?
       RETURNING e.id`,
      [JSON.stringify(rows), worker],
    )
    .then(
      (res: { rows: Array<{ id: string }> }) => res.rows.map((r) => r.id),
      (err: unknown) => {
        throw mapDbError(err);
      },
    );
}

/**
 * The outcome the database refused, replaced by failed: nothing in this statement comes from the
 * outside, and it cannot conflict (the row leaves the live index and stays in the once index).
 */
async function markFailed(db: Knex, worker: string, r: ActionResult, error: string): Promise<boolean> {
  const res = await db.raw(
    `UPDATE enforcement_actions SET status = 'failed', attempts = attempts + ?, last_error = ?,
       claimed_by = NULL, claimed_until = NULL, completed_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE id = ? AND status = 'sending' AND claimed_by = ?
     RETURNING id`,
    [r.attempted ? 1 : 0, error, r.id, worker],
  );
  return res.rows.length > 0;
}

/** Leases that ran out (their worker died or lost the database): back to pending. */
export async function reclaimExpired(db: Knex, limit = 1000): Promise<number> {
  const res = await db.raw(
    `UPDATE enforcement_actions e
     SET status = 'pending', claimed_by = NULL, claimed_until = NULL, updated_at = now(),
         last_error = 'lease expired: claimed by ' || coalesce(e.claimed_by, 'unknown') || ', which did not report back'
     WHERE e.id IN (
       SELECT id FROM enforcement_actions
       WHERE status = 'sending' AND claimed_until < now()
       ORDER BY claimed_until LIMIT ?
       FOR UPDATE SKIP LOCKED)
     RETURNING e.id`,
    [limit],
  );
  return res.rows.length;
}
