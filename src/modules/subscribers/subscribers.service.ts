import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import type { Clock } from '../../lib/clock';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isoOrNull } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { onPlanChanged, onRenewed, onSubscriberDeleted, onSubscriberSuspended } from '../enforcement/hooks';
import { findPlan, type PlanRow } from '../plans/plans.repo';
import { planView } from '../plans/plans.service';
import type { PlanView } from '../plans/plans.schemas';
import { startPeriod } from './periods';
import {
  deleteRadiusRows,
  deleteSubscriber,
  endPeriodsAt,
  findSubscriber,
  insertSubscriber,
  lastActiveEnd,
  lockSubscriber,
  setGroup,
  setPassword,
  setStaticIp,
  subscribersQuery,
  subscriptionsQuery,
  updateSubscriber,
  type SubscriberRow,
  type SubscriptionRow,
} from './subscribers.repo';
import type {
  CreateSubscriber,
  SubscriberPatch,
  SubscriberPeriod,
  SubscriberQuery,
  SubscriberView,
  SubscriptionView,
} from './subscribers.schemas';

/** What RADIUS can carry: 1..253 bytes of UTF-8, no control characters, no edge spaces. */
export function checkUsername(u: string): void {
  const bytes = Buffer.byteLength(u, 'utf8');
  const bad = (message: string) =>
    new AppError('VALIDATION_FAILED', `username ${message}`, { errors: [{ path: 'body.username', message }] });
  if (bytes < 1 || bytes > 253) throw bad('must be 1 to 253 bytes of UTF-8 (the RADIUS User-Name limit)');
  if (/[\u0000-\u001f\u007f]/.test(u)) throw bad('must not contain control characters');
  if (u.trim() !== u) throw bad('must not start or end with white space');
}

/** PAP carries at most 128 bytes, padded with NUL; a NUL inside would be ambiguous. */
export function checkPassword(pw: string, path = 'body.password'): void {
  const bytes = Buffer.byteLength(pw, 'utf8');
  if (bytes < 1 || bytes > 128 || pw.includes('\u0000')) {
    throw new AppError('VALIDATION_FAILED', 'password must be 1 to 128 bytes without NUL', {
      errors: [{ path, message: 'must be 1 to 128 bytes without NUL' }],
    });
  }
}

export function normalizeMac(mac: string): string {
  const hex = mac.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
  if (hex.length !== 12 || !/^[0-9A-Fa-f:.\-\s]+$/.test(mac)) {
    throw new AppError('VALIDATION_FAILED', 'macAddress is not a MAC address', {
      errors: [{ path: 'body.macAddress', message: 'not a MAC address' }],
    });
  }
  return hex.match(/../g)!.join(':');
}

export function subscriptionView(r: SubscriptionRow): SubscriptionView {
  return {
    id: r.id,
    planId: r.plan_id,
    planName: r.plan_name,
    price: r.price,
    dataQuotaBytes: r.data_quota_bytes === null ? null : Number(r.data_quota_bytes),
    sessionTimeoutSeconds: r.session_timeout_seconds,
    startsAt: iso(r.starts_at),
    endsAt: iso(r.ends_at),
    status: r.status,
    source: r.source,
    createdAt: iso(r.created_at),
  };
}

function subscriberView(r: SubscriberRow): SubscriberView {
  return {
    id: r.id,
    username: r.username,
    status: r.status,
    suspendedReason: r.suspended_reason,
    planId: r.plan_id,
    fullName: r.full_name,
    phone: r.phone,
    email: r.email,
    macAddress: r.mac_address,
    staticIp: r.static_ip,
    notes: r.notes,
    accountNumber: r.account_number,
    expiresAt: isoOrNull(r.expires_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

const notFound = () => new AppError('SUBSCRIBER_NOT_FOUND', 'subscriber not found');
const inactivePlan = () => new AppError('INVALID_STATE', 'this plan is not active');

/**
 * Subscribers and what FreeRADIUS reads for them (subscribers.repo.ts), written in one
 * transaction. Suspension, expiry, quota and MAC binding are decided at authorize time by
 * lango_authorize_check() from the subscriber and subscription rows; changes that must reach
 * live sessions queue enforcement actions in the same transaction (enforcement/hooks.ts).
 */
export class SubscribersService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  private async current(h: Knex | Knex.Transaction, tenantId: string, id: string): Promise<SubscriberView> {
    const row = await findSubscriber(h, tenantId, id);
    if (!row) throw notFound();
    return subscriberView(row);
  }

  private async plan(trx: Knex.Transaction, tenantId: string, id: string): Promise<PlanView> {
    const row: PlanRow | undefined = await findPlan(trx, tenantId, id);
    if (!row) throw new AppError('PLAN_NOT_FOUND', 'plan not found');
    return planView(row);
  }

  /** A new period of `plan` from `from`, with the plan's allowance copied (a plan edit does not change what was sold). */
  private async startSubscription(
    trx: Knex.Transaction,
    tenantId: string,
    subscriberId: string,
    plan: PlanView,
    from: Date,
    source: string,
  ): Promise<SubscriptionView> {
    const row = await startPeriod(trx, { tenantId, subscriberId, plan, from, source });
    return subscriptionView(row);
  }

  async get(tenantId: string, id: string): Promise<SubscriberView> {
    return this.current(this.db, tenantId, id);
  }

  async list(tenantId: string, q: SubscriberQuery): Promise<Page<SubscriberView>> {
    return paginate(subscribersQuery(this.db, tenantId, q), q.limit, q.offset, subscriberView);
  }

  /** A username taken in the tenant is SUBSCRIBER_EXISTS, decided by the unique constraint. */
  async create(actor: Actor, tenantId: string, input: CreateSubscriber): Promise<SubscriberView> {
    checkUsername(input.username);
    checkPassword(input.password);
    const mac = input.macAddress ? normalizeMac(input.macAddress) : null;
    return withTransaction(this.db, async (trx) => {
      const plan = input.planId ? await this.plan(trx, tenantId, input.planId) : null;
      if (plan && !plan.active) throw inactivePlan();
      const { id } = await insertSubscriber(trx, {
        tenant_id: tenantId,
        username: input.username,
        plan_id: plan?.id ?? null,
        full_name: input.fullName ?? null,
        phone: input.phone ?? null,
        email: input.email ?? null,
        mac_address: mac,
        static_ip: input.staticIp ?? null,
        notes: input.notes ?? null,
      });
      await setPassword(trx, tenantId, input.username, input.password);
      await setGroup(trx, tenantId, input.username, plan?.groupname ?? null);
      await setStaticIp(trx, tenantId, input.username, input.staticIp ?? null);
      if (plan && input.startSubscription !== false)
        await this.startSubscription(trx, tenantId, id, plan, this.clock.date(), 'staff');
      await audit(trx, {
        tenantId,
        actor,
        action: 'subscriber.create',
        entity: 'subscriber',
        entityId: id,
        data: { username: input.username, planId: plan?.id ?? null },
      });
      return this.current(trx, tenantId, id);
    });
  }

  async update(actor: Actor, tenantId: string, id: string, patch: SubscriberPatch): Promise<SubscriberView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.fullName !== undefined) row.full_name = patch.fullName;
      if (patch.phone !== undefined) row.phone = patch.phone;
      if (patch.email !== undefined) row.email = patch.email;
      if (patch.notes !== undefined) row.notes = patch.notes;
      if (patch.macAddress !== undefined)
        row.mac_address = patch.macAddress === null ? null : normalizeMac(patch.macAddress);
      if (patch.staticIp !== undefined) {
        row.static_ip = patch.staticIp;
        await setStaticIp(trx, tenantId, cur.username, patch.staticIp);
      }
      await updateSubscriber(trx, tenantId, id, row);
      await audit(trx, {
        tenantId,
        actor,
        action: 'subscriber.update',
        entity: 'subscriber',
        entityId: id,
        data: patch as Record<string, unknown>,
      });
      return this.current(trx, tenantId, id);
    });
  }

  async setStatus(
    actor: Actor,
    tenantId: string,
    id: string,
    status: 'active' | 'suspended',
    reason?: string,
  ): Promise<SubscriberView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      await updateSubscriber(trx, tenantId, id, {
        status,
        suspended_reason: status === 'suspended' ? (reason ?? null) : null,
        updated_at: trx.fn.now(),
      });
      if (cur.status !== status) {
        await audit(trx, {
          tenantId,
          actor,
          action: status === 'suspended' ? 'subscriber.suspend' : 'subscriber.activate',
          entity: 'subscriber',
          entityId: id,
          data: { reason: reason ?? null },
        });
      }
      if (status === 'suspended') await onSubscriberSuspended(trx, tenantId, cur, actor, reason);
      return this.current(trx, tenantId, id);
    });
  }

  /** Add one period of the current plan, starting when the last one ends (or now if lapsed). */
  async renew(actor: Actor, tenantId: string, id: string, source = 'staff'): Promise<SubscriberPeriod> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      if (!cur.planId) throw new AppError('INVALID_STATE', 'the subscriber has no plan; use change-plan first');
      await lockSubscriber(trx, tenantId, id);
      const plan = await this.plan(trx, tenantId, cur.planId);
      const lastEnd = await lastActiveEnd(trx, id);
      const now = this.clock.date();
      const from = lastEnd && lastEnd.getTime() > now.getTime() ? lastEnd : now;
      const subscription = await this.startSubscription(trx, tenantId, id, plan, from, source);
      await audit(trx, {
        tenantId,
        actor,
        action: 'subscriber.renew',
        entity: 'subscriber',
        entityId: id,
        data: { subscriptionId: subscription.id, endsAt: subscription.endsAt },
      });
      await onRenewed(trx, tenantId, cur, actor);
      return { subscriber: await this.current(trx, tenantId, id), subscription };
    });
  }

  /** Move to another plan now: the running period ends, a new one of the new plan starts. */
  async changePlan(actor: Actor, tenantId: string, id: string, planId: string): Promise<SubscriberPeriod> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      await lockSubscriber(trx, tenantId, id);
      const plan = await this.plan(trx, tenantId, planId);
      if (!plan.active) throw inactivePlan();
      const now = this.clock.date();
      await endPeriodsAt(trx, id, now);
      await updateSubscriber(trx, tenantId, id, { plan_id: plan.id, updated_at: trx.fn.now() });
      await setGroup(trx, tenantId, cur.username, plan.groupname);
      const subscription = await this.startSubscription(trx, tenantId, id, plan, now, 'staff');
      await audit(trx, {
        tenantId,
        actor,
        action: 'subscriber.change_plan',
        entity: 'subscriber',
        entityId: id,
        data: { from: cur.planId, to: plan.id },
      });
      await onPlanChanged(trx, tenantId, cur, plan, actor, cur.planId);
      return { subscriber: await this.current(trx, tenantId, id), subscription };
    });
  }

  async resetPassword(actor: Actor, tenantId: string, id: string, password: string): Promise<void> {
    checkPassword(password);
    await withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      await setPassword(trx, tenantId, cur.username, password);
      await audit(trx, { tenantId, actor, action: 'subscriber.reset_password', entity: 'subscriber', entityId: id });
    });
  }

  /** Deletes the subscriber and every FreeRADIUS row that could let them in; radacct stays. */
  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const cur = await this.current(trx, tenantId, id);
      await onSubscriberDeleted(trx, tenantId, cur, actor);
      await deleteRadiusRows(trx, tenantId, cur.username);
      await deleteSubscriber(trx, tenantId, id);
      await audit(trx, {
        tenantId,
        actor,
        action: 'subscriber.delete',
        entity: 'subscriber',
        entityId: id,
        data: { username: cur.username },
      });
    });
  }

  async subscriptions(tenantId: string, id: string, limit: number, offset: number): Promise<Page<SubscriptionView>> {
    await this.current(this.db, tenantId, id);
    return paginate(subscriptionsQuery(this.db, tenantId, id), limit, offset, subscriptionView);
  }
}
