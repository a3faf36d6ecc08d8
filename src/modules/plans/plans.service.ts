import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { parseRateLimit } from './rate-limit';
import { groupRows, INTERIM_FLOOR_SECONDS } from './radius-profile';
import {
  deleteGroupMembers,
  deleteGroupRows,
  deletePlan,
  findPlan,
  insertPlan,
  plansQuery,
  updatePlan,
  writeGroup,
  type PlanRow,
} from './plans.repo';
import type { CreatePlan, PlanPatch, PlanQuery, PlanView } from './plans.schemas';

export function planView(r: PlanRow): PlanView {
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
    sellable: r.sellable,
    reminderLeadSeconds: r.reminder_lead_seconds,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function checkRate(rateLimit: string | null | undefined) {
  if (rateLimit && !parseRateLimit(rateLimit)) {
    throw new AppError('VALIDATION_FAILED', 'rateLimit is not a MikroTik rate-limit string (e.g. "2M/5M")', {
      errors: [{ path: 'body.rateLimit', message: 'invalid rate-limit' }],
    });
  }
}

const notFound = () => new AppError('PLAN_NOT_FOUND', 'plan not found');

/** A plan's columns by the name callers use. */
const COLUMNS: Record<keyof PlanPatch, string> = {
  name: 'name',
  price: 'price',
  durationSeconds: 'duration_seconds',
  dataQuotaBytes: 'data_quota_bytes',
  rateLimit: 'rate_limit',
  sessionTimeoutSeconds: 'session_timeout_seconds',
  idleTimeoutSeconds: 'idle_timeout_seconds',
  simultaneousUse: 'simultaneous_use',
  interimIntervalSeconds: 'interim_interval_seconds',
  active: 'active',
  sellable: 'sellable',
  reminderLeadSeconds: 'reminder_lead_seconds',
};

/**
 * A plan is a FreeRADIUS group: its RADIUS profile (radius-profile.ts) is written as the
 * group's rows on every change. Names are unique per tenant (plans_tenant_name_unique:
 * PLAN_EXISTS), and a plan with subscribers cannot be deleted (PLAN_IN_USE), both decided by
 * the database (db/errors.ts).
 */
export class PlansService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  async create(actor: Actor, tenantId: string, input: CreatePlan): Promise<PlanView> {
    checkRate(input.rateLimit);
    return withTransaction(this.db, async (trx) => {
      const id = randomUUID();
      const plan = planView(
        await insertPlan(trx, {
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
          interim_interval_seconds: input.interimIntervalSeconds ?? INTERIM_FLOOR_SECONDS,
          active: input.active ?? true,
          sellable: input.sellable ?? true,
          reminder_lead_seconds: input.reminderLeadSeconds ?? null,
        }),
      );
      await writeGroup(trx, tenantId, plan.groupname, groupRows(tenantId, plan.groupname, plan));
      await audit(trx, {
        tenantId,
        actor,
        action: 'plan.create',
        entity: 'plan',
        entityId: id,
        data: { name: input.name },
      });
      return plan;
    });
  }

  async get(tenantId: string, id: string): Promise<PlanView> {
    const row = await findPlan(this.db, tenantId, id);
    if (!row) throw notFound();
    return planView(row);
  }

  async list(tenantId: string, q: PlanQuery): Promise<Page<PlanView>> {
    return paginate(plansQuery(this.db, tenantId, q), q.limit, q.offset, planView);
  }

  async update(actor: Actor, tenantId: string, id: string, patch: PlanPatch): Promise<PlanView> {
    checkRate(patch.rateLimit);
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      for (const [k, v] of Object.entries(patch)) {
        const column = COLUMNS[k as keyof PlanPatch];
        if (column) row[column] = v;
      }
      const updated = await updatePlan(trx, tenantId, id, row);
      if (!updated) throw notFound();
      const plan = planView(updated);
      await writeGroup(trx, tenantId, plan.groupname, groupRows(tenantId, plan.groupname, plan));
      await audit(trx, {
        tenantId,
        actor,
        action: 'plan.update',
        entity: 'plan',
        entityId: id,
        data: patch as Record<string, unknown>,
      });
      return plan;
    });
  }

  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const plan = await findPlan(trx, tenantId, id);
      if (!plan) throw notFound();
      await deleteGroupRows(trx, tenantId, plan.groupname);
      await deleteGroupMembers(trx, tenantId, plan.groupname);
      await deletePlan(trx, tenantId, id);
      await audit(trx, {
        tenantId,
        actor,
        action: 'plan.delete',
        entity: 'plan',
        entityId: id,
        data: { name: plan.name },
      });
    });
  }
}
