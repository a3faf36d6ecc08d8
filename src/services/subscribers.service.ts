import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, withTransaction } from '../db/knex';
import { Actor, audit, Page } from './context';
import { iso } from './tenants.service';
import { PlansService, PlanView } from './plans.service';
import type { EnforcementService } from './enforcement.service';

/** What RADIUS can carry: 1..253 bytes of UTF-8, no control characters, no edge spaces. */
export function checkUsername(u: string): void {
  const bytes = Buffer.byteLength(u, 'utf8');
  const bad = (message: string) => new AppError('VALIDATION_FAILED', `username ${message}`, { errors: [{ path: 'body.username', message }] });
  if (bytes < 1 || bytes > 253) throw bad('must be 1 to 253 bytes of UTF-8 (the RADIUS User-Name limit)');
  if (/[\u0000-\u001f\u007f]/.test(u)) throw bad('must not contain control characters');
  if (u.trim() !== u) throw bad('must not start or end with white space');
}

/** PAP carries at most 128 bytes, padded with NUL; a NUL inside would be ambiguous. */
export function checkPassword(pw: string, path = 'body.password'): void {
  const bytes = Buffer.byteLength(pw, 'utf8');
  if (bytes < 1 || bytes > 128 || pw.includes('\u0000')) {
    throw new AppError('VALIDATION_FAILED', 'password must be 1 to 128 bytes without NUL', { errors: [{ path, message: 'must be 1 to 128 bytes without NUL' }] });
  }
}

export function normalizeMac(mac: string): string {
  const hex = mac.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
  if (hex.length !== 12 || !/^[0-9A-Fa-f:.\-\s]+$/.test(mac)) {
    throw new AppError('VALIDATION_FAILED', 'macAddress is not a MAC address', { errors: [{ path: 'body.macAddress', message: 'not a MAC address' }] });
  }
  return hex.match(/../g)!.join(':');
}

export interface SubscriptionView {
  id: string;
  planId: string | null;
  planName: string;
  price: number;
  dataQuotaBytes: number | null;
  sessionTimeoutSeconds: number | null;
  startsAt: string;
  endsAt: string;
  status: string;
  source: string;
  createdAt: string;
}

export function subscriptionView(r: any): SubscriptionView {
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

export interface SubscriberView {
  id: string;
  username: string;
  status: 'active' | 'suspended';
  suspendedReason: string | null;
  planId: string | null;
  fullName: string | null;
  phone: string | null;
  email: string | null;
  macAddress: string | null;
  staticIp: string | null;
  notes: string | null;
  /** End of the latest active subscription (may be in the past: expired). */
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

function subscriberView(r: any): SubscriberView {
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
    expiresAt: r.expires_at ? iso(r.expires_at) : null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export interface SubscriberInput {
  username: string;
  password: string;
  planId?: string;
  startSubscription?: boolean;
  fullName?: string;
  phone?: string;
  email?: string;
  macAddress?: string | null;
  staticIp?: string | null;
  notes?: string;
}

export type SubscriberPatch = Partial<Pick<SubscriberInput, 'fullName' | 'phone' | 'email' | 'macAddress' | 'staticIp' | 'notes'>>;

const EXPIRES_AT = `(SELECT max(sb.ends_at) FROM subscriptions sb WHERE sb.subscriber_id = s.id AND sb.status = 'active') AS expires_at`;

/**
 * Subscribers and what FreeRADIUS reads for them, written in one transaction:
 *   radcheck      Cleartext-Password (PAP, CHAP and MS-CHAPv2 all need the clear text)
 *   radusergroup  the plan's group
 *   radreply      Framed-IP-Address for a static IP
 * Suspension, expiry, quota and MAC binding are decided at authorize time by
 * lango_authorize_check() from the subscriber and subscription rows.
 */
export class SubscribersService {
  constructor(
    private readonly db: Knex,
    private readonly plans: PlansService,
    private readonly enforcement: EnforcementService,
  ) {}

  private base(h: Handle, tenantId: string) {
    return h('subscribers as s').select('s.*', h.raw(EXPIRES_AT)).where('s.tenant_id', tenantId);
  }

  async get(h: Handle, tenantId: string, id: string): Promise<SubscriberView> {
    const row = await this.base(h, tenantId).andWhere('s.id', id).first();
    if (!row) throw new AppError('SUBSCRIBER_NOT_FOUND', 'subscriber not found');
    return subscriberView(row);
  }

  async list(tenantId: string, q: { limit: number; offset: number; status?: string; planId?: string; q?: string; expired?: boolean }): Promise<Page<SubscriberView>> {
    const b = this.db('subscribers as s').where('s.tenant_id', tenantId);
    if (q.status) b.andWhere('s.status', q.status);
    if (q.planId) b.andWhere('s.plan_id', q.planId);
    if (q.q) {
      const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      b.andWhere((w) => w.whereILike('s.username', like).orWhereILike('s.full_name', like).orWhereILike('s.phone', like));
    }
    if (q.expired !== undefined) {
      const active = this.db.raw(`EXISTS (SELECT 1 FROM lango_covering_subscription(s.id, now()))`);
      if (q.expired) b.andWhereNot(active);
      else b.andWhere(active);
    }
    const [rows, total] = await Promise.all([
      b.clone().select('s.*', this.db.raw(EXPIRES_AT)).orderBy([{ column: 's.created_at', order: 'desc' }, { column: 's.id', order: 'desc' }]).limit(q.limit).offset(q.offset),
      b.clone().count<{ count: string }[]>({ count: '*' }),
    ]);
    return { data: rows.map(subscriberView), page: { limit: q.limit, offset: q.offset, total: Number(total[0]?.count ?? 0) } };
  }

  private async startSubscription(trx: Knex.Transaction, tenantId: string, subscriberId: string, plan: PlanView, from: Date, source: string): Promise<SubscriptionView> {
    const ends = new Date(from.getTime() + plan.durationSeconds * 1000);
    const [row] = await trx('subscriptions')
      .insert({
        tenant_id: tenantId,
        subscriber_id: subscriberId,
        plan_id: plan.id,
        plan_name: plan.name,
        price: plan.price,
        data_quota_bytes: plan.dataQuotaBytes,
        session_timeout_seconds: plan.sessionTimeoutSeconds,
        starts_at: from,
        ends_at: ends,
        source,
      })
      .returning('*');
    // Sessions already open keep counting toward the period they started in (see
    // db/sql/functions/lango_snapshot_baselines.v1.sql); the worker repeats this at the start.
    await trx.raw('SELECT lango_snapshot_baselines(?)', [row.id]);
    return subscriptionView(row);
  }

  private async setGroup(trx: Knex.Transaction, tenantId: string, username: string, plan: PlanView | null): Promise<void> {
    await trx('radusergroup').where({ tenant_id: tenantId, username }).del();
    if (plan) await trx('radusergroup').insert({ tenant_id: tenantId, username, groupname: plan.groupname, priority: 1 });
  }

  private async setStaticIp(trx: Knex.Transaction, tenantId: string, username: string, ip: string | null): Promise<void> {
    await trx('radreply').where({ tenant_id: tenantId, username, attribute: 'Framed-IP-Address' }).del();
    if (ip) await trx('radreply').insert({ tenant_id: tenantId, username, attribute: 'Framed-IP-Address', op: ':=', value: ip });
  }

  async create(actor: Actor, tenantId: string, input: SubscriberInput): Promise<SubscriberView> {
    checkUsername(input.username);
    checkPassword(input.password);
    const mac = input.macAddress ? normalizeMac(input.macAddress) : null;
    return withTransaction(this.db, async (trx) => {
      const plan = input.planId ? await this.plans.get(trx, tenantId, input.planId) : null;
      if (plan && !plan.active) throw new AppError('INVALID_STATE', 'this plan is not active');
      if (await trx('subscribers').where({ tenant_id: tenantId, username: input.username }).first('id')) {
        throw new AppError('SUBSCRIBER_EXISTS', 'a subscriber with this username exists');
      }
      const [row] = await trx('subscribers')
        .insert({
          tenant_id: tenantId,
          username: input.username,
          plan_id: plan?.id ?? null,
          full_name: input.fullName ?? null,
          phone: input.phone ?? null,
          email: input.email ?? null,
          mac_address: mac,
          static_ip: input.staticIp ?? null,
          notes: input.notes ?? null,
        })
        .returning('*')
        .catch((e: { code?: string }) => {
          if (e.code === '23505') throw new AppError('SUBSCRIBER_EXISTS', 'a subscriber with this username exists');
          throw e;
        });
      await trx('radcheck').insert({ tenant_id: tenantId, username: input.username, attribute: 'Cleartext-Password', op: ':=', value: input.password });
      await this.setGroup(trx, tenantId, input.username, plan);
      await this.setStaticIp(trx, tenantId, input.username, input.staticIp ?? null);
      if (plan && input.startSubscription !== false) await this.startSubscription(trx, tenantId, row.id, plan, new Date(), 'staff');
      await audit(trx, { tenantId, actor, action: 'subscriber.create', entity: 'subscriber', entityId: row.id, data: { username: input.username, planId: plan?.id ?? null } });
      return this.get(trx, tenantId, row.id);
    });
  }

  async update(actor: Actor, tenantId: string, id: string, patch: SubscriberPatch): Promise<SubscriberView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.fullName !== undefined) row.full_name = patch.fullName;
      if (patch.phone !== undefined) row.phone = patch.phone;
      if (patch.email !== undefined) row.email = patch.email;
      if (patch.notes !== undefined) row.notes = patch.notes;
      if (patch.macAddress !== undefined) row.mac_address = patch.macAddress === null ? null : normalizeMac(patch.macAddress);
      if (patch.staticIp !== undefined) {
        row.static_ip = patch.staticIp;
        await this.setStaticIp(trx, tenantId, cur.username, patch.staticIp);
      }
      await trx('subscribers').where({ tenant_id: tenantId, id }).update(row);
      await audit(trx, { tenantId, actor, action: 'subscriber.update', entity: 'subscriber', entityId: id, data: patch as Record<string, unknown> });
      return this.get(trx, tenantId, id);
    });
  }

  async setStatus(actor: Actor, tenantId: string, id: string, status: 'active' | 'suspended', reason?: string): Promise<SubscriberView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      await trx('subscribers')
        .where({ tenant_id: tenantId, id })
        .update({ status, suspended_reason: status === 'suspended' ? (reason ?? null) : null, updated_at: trx.fn.now() });
      if (cur.status !== status) {
        await audit(trx, { tenantId, actor, action: status === 'suspended' ? 'subscriber.suspend' : 'subscriber.activate', entity: 'subscriber', entityId: id, data: { reason: reason ?? null } });
      }
      if (status === 'suspended') await this.enforcement.onSuspended(trx, tenantId, cur, actor, reason);
      return this.get(trx, tenantId, id);
    });
  }

  /** Add one period of the current plan, starting when the last one ends (or now if lapsed). */
  async renew(actor: Actor, tenantId: string, id: string, source = 'staff'): Promise<{ subscriber: SubscriberView; subscription: SubscriptionView }> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      if (!cur.planId) throw new AppError('INVALID_STATE', 'the subscriber has no plan; use change-plan first');
      await trx('subscribers').where({ tenant_id: tenantId, id }).forUpdate().first('id');
      const plan = await this.plans.get(trx, tenantId, cur.planId);
      const last = await trx('subscriptions').where({ subscriber_id: id, status: 'active' }).max<{ max: Date | null }[]>({ max: 'ends_at' });
      const lastEnd = last[0]?.max ? new Date(last[0].max) : null;
      const from = lastEnd && lastEnd.getTime() > Date.now() ? lastEnd : new Date();
      const subscription = await this.startSubscription(trx, tenantId, id, plan, from, source);
      await audit(trx, { tenantId, actor, action: 'subscriber.renew', entity: 'subscriber', entityId: id, data: { subscriptionId: subscription.id, endsAt: subscription.endsAt } });
      await this.enforcement.onRenewed(trx, tenantId, cur, actor);
      return { subscriber: await this.get(trx, tenantId, id), subscription };
    });
  }

  /** Move to another plan now: the running period ends, a new one of the new plan starts. */
  async changePlan(actor: Actor, tenantId: string, id: string, planId: string): Promise<{ subscriber: SubscriberView; subscription: SubscriptionView }> {
    return withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      await trx('subscribers').where({ tenant_id: tenantId, id }).forUpdate().first('id');
      const plan = await this.plans.get(trx, tenantId, planId);
      if (!plan.active) throw new AppError('INVALID_STATE', 'this plan is not active');
      const now = new Date();
      // Future periods are cancelled; the running one is cut at now.
      await trx('subscriptions').where({ subscriber_id: id, status: 'active' }).andWhere('starts_at', '>', now).update({ status: 'cancelled' });
      await trx('subscriptions').where({ subscriber_id: id, status: 'active' }).andWhere('ends_at', '>', now).update({ ends_at: now });
      await trx('subscribers').where({ tenant_id: tenantId, id }).update({ plan_id: plan.id, updated_at: trx.fn.now() });
      await this.setGroup(trx, tenantId, cur.username, plan);
      const subscription = await this.startSubscription(trx, tenantId, id, plan, now, 'staff');
      await audit(trx, { tenantId, actor, action: 'subscriber.change_plan', entity: 'subscriber', entityId: id, data: { from: cur.planId, to: plan.id } });
      await this.enforcement.onPlanChanged(trx, tenantId, cur, plan, actor, cur.planId);
      return { subscriber: await this.get(trx, tenantId, id), subscription };
    });
  }

  async resetPassword(actor: Actor, tenantId: string, id: string, password: string): Promise<void> {
    checkPassword(password);
    await withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      await trx('radcheck').where({ tenant_id: tenantId, username: cur.username, attribute: 'Cleartext-Password' }).del();
      await trx('radcheck').insert({ tenant_id: tenantId, username: cur.username, attribute: 'Cleartext-Password', op: ':=', value: password });
      await audit(trx, { tenantId, actor, action: 'subscriber.reset_password', entity: 'subscriber', entityId: id });
    });
  }

  /** Deletes the subscriber and every FreeRADIUS row that could let them in; radacct stays. */
  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const cur = await this.get(trx, tenantId, id);
      await this.enforcement.onDeleted(trx, tenantId, cur, actor);
      for (const t of ['radcheck', 'radreply', 'radusergroup']) await trx(t).where({ tenant_id: tenantId, username: cur.username }).del();
      await trx('subscribers').where({ tenant_id: tenantId, id }).del();
      await audit(trx, { tenantId, actor, action: 'subscriber.delete', entity: 'subscriber', entityId: id, data: { username: cur.username } });
    });
  }

  async subscriptions(tenantId: string, id: string, limit: number, offset: number): Promise<Page<SubscriptionView>> {
    await this.get(this.db, tenantId, id);
    const b = this.db('subscriptions').where({ tenant_id: tenantId, subscriber_id: id });
    const [rows, total] = await Promise.all([
      b.clone().orderBy('starts_at', 'desc').limit(limit).offset(offset),
      b.clone().count<{ count: string }[]>({ count: '*' }),
    ]);
    return { data: rows.map(subscriptionView), page: { limit, offset, total: Number(total[0]?.count ?? 0) } };
  }
}
