import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, onUniqueViolation, withTransaction } from '../db/knex';
import { Actor, audit, paginate, Page } from './context';
import type { Role } from '../http/auth';
import type { EnforcementService } from './enforcement.service';

const BCRYPT_ROUNDS = 11;

export interface TenantView {
  id: string;
  name: string;
  slug: string;
  timeZone: string;
  currency: string;
  status: string;
  createdAt: string;
}

export function tenantView(r: any): TenantView {
  return { id: r.id, name: r.name, slug: r.slug, timeZone: r.time_zone, currency: r.currency, status: r.status, createdAt: iso(r.created_at) };
}

export interface UserView {
  id: string;
  tenantId: string | null;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

export function userView(r: any): UserView {
  return { id: r.id, tenantId: r.tenant_id, email: r.email, name: r.name, role: r.role, disabled: !!r.disabled_at, createdAt: iso(r.created_at) };
}

export function iso(d: Date | string | null): string {
  return d === null ? (null as unknown as string) : new Date(d).toISOString();
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A suspended tenant's staff and keys are refused (platform admins have no tenant). */
export function assertTenantActive(status: string): void {
  if (status !== 'active') throw new AppError('TENANT_SUSPENDED', 'this tenant is suspended; contact the platform operator');
}

export async function hashPassword(pw: string): Promise<string> {
  return bcrypt.hash(pw, BCRYPT_ROUNDS);
}

/**
 * Staff emails are unique per tenant (platform admins among themselves), decided by the
 * unique index so two concurrent creates cannot both pass; another tenant's users are never
 * looked at, so creating a user reveals nothing about other tenants.
 */
const userExists = onUniqueViolation({ users_email_tenant_unique: () => new AppError('USER_EXISTS', 'a user with this email exists') });
const tenantExists = onUniqueViolation({ tenants_slug_key: () => new AppError('TENANT_EXISTS', 'a tenant with this slug exists') });

export class TenantsService {
  constructor(
    private readonly db: Knex,
    private readonly enforcement: EnforcementService,
  ) {}

  async create(
    actor: Actor,
    input: { name: string; slug: string; timeZone?: string; currency?: string; admin: { email: string; password: string; name?: string } },
  ): Promise<{ tenant: TenantView; admin: UserView }> {
    const tz = input.timeZone ?? 'Africa/Nairobi';
    if (!isValidTimeZone(tz)) throw new AppError('VALIDATION_FAILED', `unknown time zone ${tz}`, { errors: [{ path: 'body.timeZone', message: 'unknown time zone' }] });
    const hash = await hashPassword(input.admin.password);
    return withTransaction(this.db, async (trx) => {
      const [t] = await trx('tenants').insert({ name: input.name, slug: input.slug, time_zone: tz, currency: input.currency ?? 'KES' }).returning('*').catch(tenantExists);
      const [u] = await trx('users')
        .insert({ tenant_id: t.id, email: input.admin.email, name: input.admin.name ?? null, password_hash: hash, role: 'tenant_admin' })
        .returning('*');
      await audit(trx, { tenantId: t.id, actor, action: 'tenant.create', entity: 'tenant', entityId: t.id, data: { slug: t.slug } });
      return { tenant: tenantView(t), admin: userView(u) };
    });
  }

  async list(limit: number, offset: number): Promise<Page<TenantView>> {
    return paginate(this.db('tenants').select('*').orderBy([{ column: 'created_at', order: 'desc' }, 'id']), limit, offset, tenantView);
  }

  async get(id: string, h: Handle = this.db): Promise<TenantView> {
    const t = await h('tenants').where({ id }).first();
    if (!t) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
    return tenantView(t);
  }

  async update(actor: Actor, id: string, patch: { name?: string; timeZone?: string; currency?: string; status?: 'active' | 'suspended' }): Promise<TenantView> {
    if (patch.timeZone && !isValidTimeZone(patch.timeZone)) throw new AppError('VALIDATION_FAILED', `unknown time zone ${patch.timeZone}`, { errors: [{ path: 'body.timeZone', message: 'unknown time zone' }] });
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.timeZone !== undefined) row.time_zone = patch.timeZone;
      if (patch.currency !== undefined) row.currency = patch.currency;
      if (patch.status !== undefined) row.status = patch.status;
      const [t] = await trx('tenants').where({ id }).update(row).returning('*');
      if (!t) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
      // Suspension ends the tenant's live sessions too (every time it is set: sessions already
      // handled are skipped by the outbox's once-per-session index). Reactivation needs no
      // action: the worker cancels disconnects still queued for an active tenant.
      const disconnects = patch.status === 'suspended' ? await this.enforcement.onTenantSuspended(trx, id, actor) : undefined;
      await audit(trx, { tenantId: id, actor, action: 'tenant.update', entity: 'tenant', entityId: id, data: { ...patch, ...(disconnects ? { disconnectsQueued: disconnects.length } : {}) } });
      return tenantView(t);
    });
  }
}

export interface LoginResult {
  user: UserView;
  /** Goes into the token; see users.token_version. */
  tokenVersion: number;
}

export class UsersService {
  /** A real hash of a random password, compared against when the email is unknown. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly db: Knex) {}

  /**
   * Email + password, optionally a tenant slug. The same email may exist at several tenants:
   * the password is checked against each (bcrypt's cost per candidate), and the login succeeds
   * only when exactly one account matches; two matches need `tenant` to choose.
   * Suspension is told only after the password was right (it reveals the account exists).
   */
  async verifyLogin(email: string, password: string, tenantSlug?: string): Promise<LoginResult> {
    const q = this.db('users as u')
      .leftJoin('tenants as t', 't.id', 'u.tenant_id')
      .whereRaw('lower(u.email) = lower(?)', [email])
      .whereNull('u.disabled_at')
      .select('u.*', 't.status as tenant_status');
    if (tenantSlug !== undefined) q.andWhere('t.slug', tenantSlug);
    const candidates = await q;
    let matches: any[];
    if (candidates.length === 0) {
      // Compare against a fixed hash when nobody matches, so timing does not reveal emails.
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await bcrypt.compare(password, await this.dummyHash);
      matches = [];
    } else {
      const ok = await Promise.all(candidates.map((u) => bcrypt.compare(password, u.password_hash)));
      matches = candidates.filter((_u, i) => ok[i]);
    }
    if (matches.length === 0) throw new AppError('INVALID_CREDENTIALS', 'wrong email or password');
    if (matches.length > 1) throw new AppError('TENANT_REQUIRED', 'this email and password match accounts at several tenants; send "tenant" (the tenant slug)');
    const u = matches[0];
    if (u.tenant_id) assertTenantActive(u.tenant_status);
    await this.db('users').where({ id: u.id }).update({ last_login_at: this.db.fn.now() });
    return { user: userView(u), tokenVersion: u.token_version };
  }

  /** Ends every token of the user ("log out everywhere"): they all carry the old version. */
  async logout(actor: Actor, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const [u] = await trx('users').where({ id }).update({ token_version: trx.raw('token_version + 1'), updated_at: trx.fn.now() }).returning(['id', 'tenant_id']);
      if (!u) throw new AppError('USER_NOT_FOUND', 'user not found');
      await audit(trx, { tenantId: u.tenant_id, actor, action: 'user.logout', entity: 'user', entityId: id });
    });
  }

  async get(id: string): Promise<UserView> {
    const u = await this.db('users').where({ id }).first();
    if (!u) throw new AppError('USER_NOT_FOUND', 'user not found');
    return userView(u);
  }

  async createPlatformAdmin(email: string, password: string, name?: string): Promise<UserView> {
    const hash = await hashPassword(password);
    return withTransaction(this.db, async (trx) => {
      const [u] = await trx('users').insert({ tenant_id: null, email, name: name ?? null, password_hash: hash, role: 'platform_admin' }).returning('*').catch(userExists);
      return userView(u);
    });
  }

  async create(actor: Actor, tenantId: string, input: { email: string; password: string; name?: string; role: 'tenant_admin' | 'tenant_operator' }): Promise<UserView> {
    const hash = await hashPassword(input.password);
    return withTransaction(this.db, async (trx) => {
      const [u] = await trx('users').insert({ tenant_id: tenantId, email: input.email, name: input.name ?? null, password_hash: hash, role: input.role }).returning('*').catch(userExists);
      await audit(trx, { tenantId, actor, action: 'user.create', entity: 'user', entityId: u.id, data: { email: input.email, role: input.role } });
      return userView(u);
    });
  }

  async list(tenantId: string, limit: number, offset: number): Promise<Page<UserView>> {
    return paginate(this.db('users').where({ tenant_id: tenantId }).orderBy('created_at').orderBy('id'), limit, offset, userView);
  }

  /**
   * A password change, a disable or a role change ends the user's tokens (token_version), so
   * a re-enabled user starts from a new login.
   */
  async update(actor: Actor, tenantId: string, id: string, patch: { name?: string; role?: 'tenant_admin' | 'tenant_operator'; disabled?: boolean; password?: string }): Promise<UserView> {
    const hash = patch.password ? await hashPassword(patch.password) : undefined;
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.role !== undefined) row.role = patch.role;
      if (patch.disabled !== undefined) row.disabled_at = patch.disabled ? trx.fn.now() : null;
      if (hash) row.password_hash = hash;
      if (hash || patch.disabled === true) row.token_version = trx.raw('token_version + 1');
      else if (patch.role !== undefined) row.token_version = trx.raw('token_version + CASE WHEN role = ? THEN 0 ELSE 1 END', [patch.role]);
      const [u] = await trx('users').where({ id, tenant_id: tenantId }).update(row).returning('*');
      if (!u) throw new AppError('USER_NOT_FOUND', 'user not found');
      await audit(trx, { tenantId, actor, action: 'user.update', entity: 'user', entityId: id, data: { ...patch, password: patch.password ? '[changed]' : undefined } });
      return userView(u);
    });
  }
}
