import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, withTransaction } from '../db/knex';
import { Actor, audit, paginate, Page } from './context';
import { iso } from './tenants.service';
import { parseRateLimit } from './rate-limit';

export interface PlanInput {
  name: string;
  price?: number;
  durationSeconds: number;
  dataQuotaBytes?: number | null;
  rateLimit?: string | null;
  sessionTimeoutSeconds?: number | null;
  idleTimeoutSeconds?: number | null;
  simultaneousUse?: number;
  interimIntervalSeconds?: number;
  active?: boolean;
}

export interface PlanView extends Required<Omit<PlanInput, 'dataQuotaBytes' | 'rateLimit' | 'sessionTimeoutSeconds' | 'idleTimeoutSeconds'>> {
  id: string;
  groupname: string;
  dataQuotaBytes: number | null;
  rateLimit: string | null;
  sessionTimeoutSeconds: number | null;
  idleTimeoutSeconds: number | null;
  createdAt: string;
  updatedAt: string;
}

export function planView(r: any): PlanView {
  return {
    id: r.id,
    name: r.name,
    groupname: r.groupname,
    price: r.price,
    durationSeconds: r.duration_seconds,
    dataQuotaBytes: r.data_quota_bytes === null ? null : Number(r.data_quota_bytes),
    rateLimit: r.rate_limit,
    sessionTimeoutSeconds: r.session_timeout_seconds,
    idleTimeoutSeconds: r.idle_timeout_seconds,
    simultaneousUse: r.simultaneous_use,
    interimIntervalSeconds: r.interim_interval_seconds,
    active: r.active,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/**
 * A plan is a FreeRADIUS group. Its reply rows (speed, interim interval, idle timeout) apply
 * to every member at their next login, so a speed change reaches existing customers; its time
 * and data allowance are copied into each subscription when sold (see subscribers.service).
 */
export function groupRows(tenantId: string, groupname: string, p: PlanView) {
  const reply: Array<{ attribute: string; value: string }> = [{ attribute: 'Acct-Interim-Interval', value: String(p.interimIntervalSeconds) }];
  if (p.rateLimit) {
    const r = parseRateLimit(p.rateLimit)!;
    reply.push({ attribute: 'Mikrotik-Rate-Limit', value: p.rateLimit });
    // The standard equivalent for NAS that do not read MikroTik's VSA (MikroTik prefers its own).
    reply.push({ attribute: 'WISPr-Bandwidth-Max-Up', value: String(Math.min(r.uploadBps, 4294967295)) });
    reply.push({ attribute: 'WISPr-Bandwidth-Max-Down', value: String(Math.min(r.downloadBps, 4294967295)) });
  }
  if (p.idleTimeoutSeconds) reply.push({ attribute: 'Idle-Timeout', value: String(p.idleTimeoutSeconds) });
  return {
    reply: reply.map((r) => ({ tenant_id: tenantId, groupname, attribute: r.attribute, op: ':=', value: r.value })),
    check: [{ tenant_id: tenantId, groupname, attribute: 'Simultaneous-Use', op: ':=', value: String(p.simultaneousUse) }],
  };
}

function checkRate(rateLimit: string | null | undefined) {
  if (rateLimit && !parseRateLimit(rateLimit)) {
    throw new AppError('VALIDATION_FAILED', 'rateLimit is not a MikroTik rate-limit string (e.g. "2M/5M")', { errors: [{ path: 'body.rateLimit', message: 'invalid rate-limit' }] });
  }
}

export class PlansService {
  constructor(private readonly db: Knex) {}

  private async writeGroup(trx: Knex.Transaction, tenantId: string, plan: PlanView): Promise<void> {
    await trx('radgroupreply').where({ tenant_id: tenantId, groupname: plan.groupname }).del();
    await trx('radgroupcheck').where({ tenant_id: tenantId, groupname: plan.groupname }).del();
    const rows = groupRows(tenantId, plan.groupname, plan);
    await trx('radgroupreply').insert(rows.reply);
    await trx('radgroupcheck').insert(rows.check);
  }

  async create(actor: Actor, tenantId: string, input: PlanInput): Promise<PlanView> {
    checkRate(input.rateLimit);
    return withTransaction(this.db, async (trx) => {
      const id = randomUUID();
      const [row] = await trx('plans')
        .insert({
          id,
          tenant_id: tenantId,
          name: input.name,
          groupname: `plan-${id}`,
          price: input.price ?? 0,
          duration_seconds: input.durationSeconds,
          data_quota_bytes: input.dataQuotaBytes ?? null,
          rate_limit: input.rateLimit ?? null,
          session_timeout_seconds: input.sessionTimeoutSeconds ?? null,
          idle_timeout_seconds: input.idleTimeoutSeconds ?? null,
          simultaneous_use: input.simultaneousUse ?? 1,
          interim_interval_seconds: input.interimIntervalSeconds ?? 300,
          active: input.active ?? true,
        })
        .returning('*')
        .catch((e: { code?: string }) => {
          if (e.code === '23505') throw new AppError('PLAN_EXISTS', 'a plan with this name exists');
          throw e;
        });
      const plan = planView(row);
      await this.writeGroup(trx, tenantId, plan);
      await audit(trx, { tenantId, actor, action: 'plan.create', entity: 'plan', entityId: id, data: { name: input.name } });
      return plan;
    });
  }

  async get(h: Handle, tenantId: string, id: string): Promise<PlanView> {
    const row = await h('plans').where({ tenant_id: tenantId, id }).first();
    if (!row) throw new AppError('PLAN_NOT_FOUND', 'plan not found');
    return planView(row);
  }

  async list(tenantId: string, q: { limit: number; offset: number; active?: boolean }): Promise<Page<PlanView>> {
    const b = this.db('plans').where({ tenant_id: tenantId }).orderBy('name').orderBy('id');
    if (q.active !== undefined) b.andWhere({ active: q.active });
    return paginate(b, q.limit, q.offset, planView);
  }

  async update(actor: Actor, tenantId: string, id: string, patch: Partial<PlanInput>): Promise<PlanView> {
    checkRate(patch.rateLimit);
    return withTransaction(this.db, async (trx) => {
      const cols: Record<string, string> = {
        name: 'name', price: 'price', durationSeconds: 'duration_seconds', dataQuotaBytes: 'data_quota_bytes', rateLimit: 'rate_limit',
        sessionTimeoutSeconds: 'session_timeout_seconds', idleTimeoutSeconds: 'idle_timeout_seconds', simultaneousUse: 'simultaneous_use',
        interimIntervalSeconds: 'interim_interval_seconds', active: 'active',
      };
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      for (const [k, v] of Object.entries(patch)) if (cols[k]) row[cols[k]] = v;
      const [updated] = await trx('plans').where({ tenant_id: tenantId, id }).update(row).returning('*')
        .catch((e: { code?: string }) => {
          if (e.code === '23505') throw new AppError('PLAN_EXISTS', 'a plan with this name exists');
          throw e;
        });
      if (!updated) throw new AppError('PLAN_NOT_FOUND', 'plan not found');
      const plan = planView(updated);
      await this.writeGroup(trx, tenantId, plan);
      await audit(trx, { tenantId, actor, action: 'plan.update', entity: 'plan', entityId: id, data: patch as Record<string, unknown> });
      return plan;
    });
  }

  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const plan = await this.get(trx, tenantId, id);
      const used = await trx('subscribers').where({ tenant_id: tenantId, plan_id: id }).first('id');
      if (used) throw new AppError('PLAN_IN_USE', 'subscribers are on this plan; move them or deactivate the plan instead');
      await trx('radgroupreply').where({ tenant_id: tenantId, groupname: plan.groupname }).del();
      await trx('radgroupcheck').where({ tenant_id: tenantId, groupname: plan.groupname }).del();
      await trx('radusergroup').where({ tenant_id: tenantId, groupname: plan.groupname }).del();
      await trx('plans').where({ tenant_id: tenantId, id }).del();
      await audit(trx, { tenantId, actor, action: 'plan.delete', entity: 'plan', entityId: id, data: { name: plan.name } });
    });
  }
}
