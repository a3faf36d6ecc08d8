import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isValidTimeZone } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { onTenantSuspended } from '../enforcement/hooks';
import { hashPassword } from './passwords';
import { actorOf, type Principal } from './principals';
import {
  insertTenant,
  insertUser,
  findTenant,
  findTenantBySlug,
  tenantsQuery,
  updateTenant,
  type TenantRow,
  type UserRow,
} from './tenancy.repo';
import type { CreatedTenant, CreateTenant, TenantPatch, TenantView, UserView } from './tenancy.schemas';

export function tenantView(r: TenantRow): TenantView {
  return {
    id: r.id,
    name: r.name,
    slug: r.slug,
    timeZone: r.time_zone,
    currency: r.currency,
    status: r.status,
    createdAt: iso(r.created_at),
  };
}

export function userView(r: UserRow): UserView {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    email: r.email,
    name: r.name,
    role: r.role,
    disabled: !!r.disabled_at,
    createdAt: iso(r.created_at),
  };
}

/** A suspended tenant's staff and keys are refused (platform admins have no tenant). */
export function assertTenantActive(status: string | null): void {
  if (status !== 'active')
    throw new AppError('TENANT_SUSPENDED', 'this tenant is suspended; contact the platform operator');
}

function checkTimeZone(tz: string): void {
  if (!isValidTimeZone(tz))
    throw new AppError('VALIDATION_FAILED', `unknown time zone ${tz}`, {
      errors: [{ path: 'body.timeZone', message: 'unknown time zone' }],
    });
}

const notFound = () => new AppError('TENANT_NOT_FOUND', 'tenant not found');

/**
 * Tenants. A tenant's staff see their own tenant only (another tenant is "not found"); only a
 * platform admin changes a tenant's status (decisions.md 12).
 */
export class TenantsService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  /** A slug taken is TENANT_EXISTS (tenants_slug_key, db/errors.ts). */
  async create(actor: Actor, input: CreateTenant): Promise<CreatedTenant> {
    const tz = input.timeZone ?? 'Africa/Nairobi';
    checkTimeZone(tz);
    const hash = await hashPassword(input.admin.password);
    return withTransaction(this.db, async (trx) => {
      const t = await insertTenant(trx, {
        name: input.name,
        slug: input.slug,
        time_zone: tz,
        currency: input.currency ?? 'KES',
      });
      const u = await insertUser(trx, {
        tenant_id: t.id,
        email: input.admin.email,
        name: input.admin.name ?? null,
        password_hash: hash,
        role: 'tenant_admin',
      });
      await audit(trx, {
        tenantId: t.id,
        actor,
        action: 'tenant.create',
        entity: 'tenant',
        entityId: t.id,
        data: { slug: t.slug },
      });
      return { tenant: tenantView(t), admin: userView(u) };
    });
  }

  async list(limit: number, offset: number): Promise<Page<TenantView>> {
    return paginate(tenantsQuery(this.db), limit, offset, tenantView);
  }

  async get(caller: Principal, id: string): Promise<TenantView> {
    if (caller.tenantId && caller.tenantId !== id) throw notFound();
    const t = await findTenant(this.db, id);
    if (!t) throw notFound();
    return tenantView(t);
  }

  /** The tenant whose captive portal this is (anyone may ask): a suspended tenant sells nothing. */
  async portalTenant(slug: string): Promise<TenantView> {
    const t = await findTenantBySlug(this.db, slug);
    if (!t) throw notFound();
    assertTenantActive(t.status);
    return tenantView(t);
  }

  async update(caller: Principal, id: string, patch: TenantPatch): Promise<TenantView> {
    if (caller.tenantId && caller.tenantId !== id) throw notFound();
    if (caller.role !== 'platform_admin' && patch.status !== undefined)
      throw new AppError('FORBIDDEN', 'only a platform admin changes tenant status');
    if (patch.timeZone) checkTimeZone(patch.timeZone);
    const actor = actorOf(caller);
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.timeZone !== undefined) row.time_zone = patch.timeZone;
      if (patch.currency !== undefined) row.currency = patch.currency;
      if (patch.status !== undefined) row.status = patch.status;
      const t = await updateTenant(trx, id, row);
      if (!t) throw notFound();
      // Suspension ends the tenant's live sessions too (every time it is set: sessions already
      // handled are skipped by the outbox's once-per-session index). Reactivation needs no
      // action: the worker cancels disconnects still queued for an active tenant.
      const disconnects = patch.status === 'suspended' ? await onTenantSuspended(trx, id, actor) : undefined;
      await audit(trx, {
        tenantId: id,
        actor,
        action: 'tenant.update',
        entity: 'tenant',
        entityId: id,
        data: { ...patch, ...(disconnects ? { disconnectsQueued: disconnects.length } : {}) },
      });
      return tenantView(t);
    });
  }
}
