import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, withTransaction } from '../db/knex';
import { attributeValueName } from '../radius/dictionary';
import { Actor, audit, Page, visibleActorId } from './context';
import { iso } from './tenants.service';
import { parseRateLimit } from './rate-limit';

/**
 * The enforcement outbox (table enforcement_actions, see db/migrations/*_enforcement.ts).
 *
 * Rows are written here, inside the caller's transaction, for every open radacct session of the
 * subscriber the change is about; `lango worker` (src/jobs/) sends them after commit. Nothing in
 * this file touches the network. Each write also NOTIFYs the worker (delivered on commit, dropped
 * on rollback), so a queued action leaves within milliseconds instead of at the next poll.
 */

export type EnforcementKind = 'disconnect' | 'coa';
export type EnforcementReason = 'expired' | 'quota' | 'suspended' | 'plan_change' | 'staff' | 'soft_block' | 'deleted' | 'unblock' | 'tenant_suspended';
export type EnforcementStatus = 'pending' | 'sending' | 'ack' | 'nak' | 'timeout' | 'failed' | 'cancelled';

/**
 * Reasons queued once per session (enforcement_actions_once_unique): the worker's checks
 * rediscover them on every run, so an answered action, or one that timed out or failed less than
 * requeueAfterSeconds ago, stands in the way of another.
 */
export const ONCE_REASONS: readonly EnforcementReason[] = ['expired', 'quota', 'suspended', 'soft_block', 'deleted', 'unblock', 'tenant_suspended'];

/**
 * NOTIFY channel the worker LISTENs on; payload 'outbox' (send) or 'schedule' (re-arm the expiry
 * timer; sent by a trigger on subscriptions, see the enforcement migration).
 */
export const ENFORCEMENT_CHANNEL = 'lango_enforcement';

/**
 * Class of a soft-blocked session's Access-Accept (freeradius/policy.d/lango). FreeRADIUS
 * prints octets as 0x<hex> when it writes radacct.class.
 */
export const SOFT_BLOCK_CLASS = 'lango-soft-block';
export const SOFT_BLOCK_CLASS_RADACCT = `0x${Buffer.from(SOFT_BLOCK_CLASS, 'utf8').toString('hex')}`;

export interface RadiusAttributeValue {
  name: string;
  value: string | number;
}

export interface ActionView {
  id: string;
  kind: EnforcementKind;
  reason: EnforcementReason;
  /** pending | sending | ack | nak | timeout | failed | cancelled */
  status: EnforcementStatus;
  subscriberId: string | null;
  nasId: string | null;
  sessionId: number | null;
  username: string;
  acctSessionId: string;
  framedIp: string | null;
  attributes: RadiusAttributeValue[];
  context: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  errorCause: number | null;
  errorCauseName: string | null;
  lastError: string | null;
  rttMs: number | null;
  fallback: { status: string; removed: number | null; error: string | null; at: string } | null;
  requestedBy: { type: string; id: string | null };
  dueAt: string;
  nextAttemptAt: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export function actionView(r: any): ActionView {
  return {
    id: r.id,
    kind: r.kind,
    reason: r.reason,
    status: r.status,
    subscriberId: r.subscriber_id,
    nasId: r.nas_id,
    sessionId: r.radacct_id === null ? null : Number(r.radacct_id),
    username: r.username,
    acctSessionId: r.acct_session_id,
    framedIp: r.framed_ip,
    attributes: r.attributes,
    context: r.context,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    errorCause: r.error_cause,
    errorCauseName: r.error_cause === null ? null : (attributeValueName('Error-Cause', r.error_cause) ?? null),
    lastError: r.last_error,
    rttMs: r.rtt_ms,
    fallback: r.fallback_status
      ? { status: r.fallback_status, removed: r.fallback_removed, error: r.fallback_error, at: iso(r.fallback_at) }
      : null,
    requestedBy: { type: r.requested_by_type, id: visibleActorId(r.requested_by_type, r.requested_by) },
    dueAt: iso(r.due_at),
    nextAttemptAt: iso(r.next_attempt_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    completedAt: r.completed_at ? iso(r.completed_at) : null,
  };
}

export interface EnforcementSettings {
  /** What happens when time or data runs out: a hard Disconnect, or the walled garden. */
  expiryAction: 'disconnect' | 'soft_block';
  /** MikroTik address list the router redirects to the pay page. */
  walledGardenList: string;
  softBlockRateLimit: string;
  /** Session-Timeout of a soft-blocked login, so the router asks again soon after a payment. */
  softBlockSessionTimeout: number;
}

function settingsView(t: any): EnforcementSettings {
  return {
    expiryAction: t.expiry_action,
    walledGardenList: t.walled_garden_list,
    softBlockRateLimit: t.soft_block_rate_limit,
    softBlockSessionTimeout: t.soft_block_session_timeout,
  };
}

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
async function enqueueOpenSessions(h: Handle, e: EnqueueSpec, user: { username: string; subscriberId: string | null } | null): Promise<string[]> {
  const conflict =
    e.reason === 'plan_change'
      ? `ON CONFLICT (radacct_id, reason) WHERE status IN ('pending', 'sending') AND radacct_id IS NOT NULL
         DO UPDATE SET attributes = EXCLUDED.attributes, context = EXCLUDED.context,
           requested_by_type = EXCLUDED.requested_by_type, requested_by = EXCLUDED.requested_by, updated_at = now()`
      : 'ON CONFLICT DO NOTHING';
  const subscriber = user ? '?::uuid' : '(SELECT s.id FROM subscribers s WHERE s.tenant_id = a.tenant_id AND s.username = a.username)';
  // The open sessions in scope; the same FROM/WHERE for the two statements below.
  const sessions = `radacct a
    WHERE a.tenant_id = ? ${user ? 'AND a.username = ?' : ''} AND a.acctstoptime IS NULL
      AND (?::text IS NULL OR a.class = ?::text)
      AND (?::bigint IS NULL OR a.radacctid = ?::bigint)`;
  const inScope = [e.tenantId, ...(user ? [user.username] : []), e.onlyClass ?? null, e.onlyClass ?? null, e.radacctId ?? null, e.radacctId ?? null];
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

/**
 * The hooks SubscribersService calls inside its transactions. Each is a no-op for a subscriber
 * without open sessions.
 */
export class EnforcementService {
  constructor(private readonly db: Knex) {}

  /** Suspension: Disconnect every open session (RADIUS rejects the next login). */
  async onSuspended(trx: Knex.Transaction, tenantId: string, s: { id: string; username: string }, actor: Actor, reason?: string): Promise<void> {
    await enqueueForUser(trx, { tenantId, username: s.username, subscriberId: s.id, kind: 'disconnect', reason: 'suspended', actor, context: { suspendedReason: reason ?? null } });
  }

  /**
   * Plan change: CoA-Request with the new plan's Mikrotik-Rate-Limit to every open session (the
   * session is kept). A plan without a rate limit has nothing a CoA can set: RouterOS cannot
   * clear a rate limit by CoA, and the data allowance (Mikrotik-Total-Limit) cannot be changed by
   * CoA at all (protocols.md G5). Both apply at the next login; the worker's quota check
   * enforces the new allowance meanwhile. (The expiry timer is re-armed by the trigger on
   * subscriptions: the new period may end sooner than the one it replaces.)
   */
  async onPlanChanged(trx: Knex.Transaction, tenantId: string, s: { id: string; username: string }, plan: { id: string; rateLimit: string | null }, actor: Actor, fromPlanId: string | null): Promise<void> {
    if (!plan.rateLimit) return;
    await enqueueForUser(trx, {
      tenantId,
      username: s.username,
      subscriberId: s.id,
      kind: 'coa',
      reason: 'plan_change',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: plan.rateLimit }],
      context: { fromPlanId, toPlanId: plan.id },
      actor,
    });
  }

  /**
   * Tenant suspension (TenantsService, in its transaction): Disconnect every open session of
   * the tenant; FreeRADIUS rejects the re-logins. The worker cancels what is still queued when
   * the tenant is active again.
   */
  async onTenantSuspended(trx: Knex.Transaction, tenantId: string, actor: Actor): Promise<string[]> {
    return enqueueForTenant(trx, { tenantId, kind: 'disconnect', reason: 'tenant_suspended', actor });
  }

  /** Deletion: Disconnect every open session (radacct keeps the history). */
  async onDeleted(trx: Knex.Transaction, tenantId: string, s: { id: string; username: string }, actor: Actor): Promise<void> {
    await enqueueForUser(trx, { tenantId, username: s.username, subscriberId: s.id, kind: 'disconnect', reason: 'deleted', actor, context: { subscriberId: s.id } });
  }

  /**
   * Renewal: a soft-blocked session (accepted into the walled garden) is disconnected so that
   * the router's re-login gets the full service; a CoA cannot take it off the address list.
   */
  async onRenewed(trx: Knex.Transaction, tenantId: string, s: { id: string; username: string }, actor: Actor): Promise<void> {
    await enqueueForUser(trx, { tenantId, username: s.username, subscriberId: s.id, kind: 'disconnect', reason: 'unblock', actor, onlyClass: SOFT_BLOCK_CLASS_RADACCT });
  }

  /**
   * Staff "disconnect" on one live session. Idempotent while an action is in flight (pending or
   * being sent): any number of clicks answer with that one action.
   */
  async disconnectSession(actor: Actor, tenantId: string, sessionId: number): Promise<ActionView> {
    return withTransaction(this.db, async (trx) => {
      const a = await trx('radacct').where({ tenant_id: tenantId, radacctid: sessionId }).first('radacctid', 'username', 'acctstoptime');
      if (!a) throw new AppError('SESSION_NOT_FOUND', 'session not found');
      if (a.acctstoptime) throw new AppError('INVALID_STATE', 'this session has ended');
      const sub = await trx('subscribers').where({ tenant_id: tenantId, username: a.username }).first('id');
      const [id] = await enqueueForUser(trx, { tenantId, username: a.username, subscriberId: sub?.id ?? null, kind: 'disconnect', reason: 'staff', actor, radacctId: sessionId });
      if (id) {
        await audit(trx, { tenantId, actor, action: 'session.disconnect', entity: 'session', entityId: String(sessionId), data: { actionId: id, username: a.username } });
        return actionView(await trx('enforcement_actions').where({ id }).first());
      }
      // Already queued or being sent (another click): answer with the action in flight, or the
      // one that has just finished.
      const row = await trx('enforcement_actions')
        .where({ tenant_id: tenantId, radacct_id: sessionId, reason: 'staff' })
        .orderByRaw(`status IN ('pending', 'sending') DESC, created_at DESC`)
        .first();
      if (!row) throw new AppError('INVALID_STATE', 'this session has ended');
      return actionView(row);
    });
  }

  async getAction(tenantId: string, id: string): Promise<ActionView> {
    const r = await this.db('enforcement_actions').where({ tenant_id: tenantId, id }).first();
    if (!r) throw new AppError('ENFORCEMENT_ACTION_NOT_FOUND', 'enforcement action not found');
    return actionView(r);
  }

  async listActions(
    tenantId: string,
    q: { limit: number; offset: number; status?: string; reason?: string; kind?: string; subscriberId?: string; sessionId?: number; nasId?: string },
  ): Promise<Page<ActionView>> {
    const b = this.db('enforcement_actions').where({ tenant_id: tenantId });
    if (q.status) b.andWhere({ status: q.status });
    if (q.reason) b.andWhere({ reason: q.reason });
    if (q.kind) b.andWhere({ kind: q.kind });
    if (q.subscriberId) b.andWhere({ subscriber_id: q.subscriberId });
    if (q.sessionId !== undefined) b.andWhere({ radacct_id: q.sessionId });
    if (q.nasId) b.andWhere({ nas_id: q.nasId });
    const [rows, total] = await Promise.all([
      b.clone().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(q.limit).offset(q.offset),
      b.clone().count<{ count: string }[]>({ count: '*' }),
    ]);
    return { data: rows.map(actionView), page: { limit: q.limit, offset: q.offset, total: Number(total[0]?.count ?? 0) } };
  }

  async getSettings(tenantId: string): Promise<EnforcementSettings> {
    const t = await this.db('tenants').where({ id: tenantId }).first();
    if (!t) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
    return settingsView(t);
  }

  async updateSettings(actor: Actor, tenantId: string, patch: Partial<EnforcementSettings>): Promise<EnforcementSettings> {
    if (patch.softBlockRateLimit !== undefined && !parseRateLimit(patch.softBlockRateLimit)) {
      throw new AppError('VALIDATION_FAILED', 'softBlockRateLimit is not a MikroTik rate-limit string', { errors: [{ path: 'body.softBlockRateLimit', message: 'invalid rate-limit' }] });
    }
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.expiryAction !== undefined) row.expiry_action = patch.expiryAction;
      if (patch.walledGardenList !== undefined) row.walled_garden_list = patch.walledGardenList;
      if (patch.softBlockRateLimit !== undefined) row.soft_block_rate_limit = patch.softBlockRateLimit;
      if (patch.softBlockSessionTimeout !== undefined) row.soft_block_session_timeout = patch.softBlockSessionTimeout;
      const [t] = await trx('tenants').where({ id: tenantId }).update(row).returning('*');
      if (!t) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
      await audit(trx, { tenantId, actor, action: 'enforcement.settings', entity: 'tenant', entityId: tenantId, data: patch as Record<string, unknown> });
      return settingsView(t);
    });
  }
}
