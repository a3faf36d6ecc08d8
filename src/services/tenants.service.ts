import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Handle, withTransaction } from '../db/knex';
import { Actor, audit, paginate, Page } from './context';
import type { Role } from '../http/auth';

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

export async function hashPassword(pw: string): Promise<string> {
  return bcrypt.hash(pw, BCRYPT_ROUNDS);
}

export class TenantsService {
  constructor(private readonly db: Knex) {}

  async create(
    actor: Actor,
    input: { name: string; slug: string; timeZone?: string; currency?: string; admin: { email: string; password: string; name?: string } },
  ): Promise<{ tenant: TenantView; admin: UserView }> {
    const tz = input.timeZone ?? 'Africa/Nairobi';
    if (!isValidTimeZone(tz)) throw new AppError('VALIDATION_FAILED', `unknown time zone ${tz}`, { errors: [{ path: 'body.timeZone', message: 'unknown time zone' }] });
    const hash = await hashPassword(input.admin.password);
    return withTransaction(this.db, async (trx) => {
      if (await trx('tenants').where({ slug: input.slug }).first()) throw new AppError('TENANT_EXISTS', 'a tenant with this slug exists');
      if (await trx('users').whereRaw('lower(email) = lower(?)', [input.admin.email]).first()) throw new AppError('USER_EXISTS', 'a user with this email exists');
      const [t] = await trx('tenants').insert({ name: input.name, slug: input.slug, time_zone: tz, currency: input.currency ?? 'KES' }).returning('*');
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
      await audit(trx, { tenantId: id, actor, action: 'tenant.update', entity: 'tenant', entityId: id, data: patch });
      return tenantView(t);
    });
  }
}

export class UsersService {
  /** A real hash of a random password, compared against when the email is unknown. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly db: Knex) {}

  async verifyLogin(email: string, password: string): Promise<UserView> {
    const u = await this.db('users').whereRaw('lower(email) = lower(?)', [email]).first();
    // Compare against a fixed hash when the user is unknown, so timing does not reveal emails.
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    const ok = await bcrypt.compare(password, u?.password_hash ?? (await this.dummyHash));
    if (!u || !ok || u.disabled_at) throw new AppError('INVALID_CREDENTIALS', 'wrong email or password');
    await this.db('users').where({ id: u.id }).update({ last_login_at: this.db.fn.now() });
    return userView(u);
  }

  async get(id: string): Promise<UserView> {
    const u = await this.db('users').where({ id }).first();
    if (!u) throw new AppError('USER_NOT_FOUND', 'user not found');
    return userView(u);
  }

  async createPlatformAdmin(email: string, password: string, name?: string): Promise<UserView> {
    const hash = await hashPassword(password);
    return withTransaction(this.db, async (trx) => {
      if (await trx('users').whereRaw('lower(email) = lower(?)', [email]).first()) throw new AppError('USER_EXISTS', 'a user with this email exists');
      const [u] = await trx('users').insert({ tenant_id: null, email, name: name ?? null, password_hash: hash, role: 'platform_admin' }).returning('*');
      return userView(u);
    });
  }

  async create(actor: Actor, tenantId: string, input: { email: string; password: string; name?: string; role: 'tenant_admin' | 'tenant_operator' }): Promise<UserView> {
    const hash = await hashPassword(input.password);
    return withTransaction(this.db, async (trx) => {
      if (await trx('users').whereRaw('lower(email) = lower(?)', [input.email]).first()) throw new AppError('USER_EXISTS', 'a user with this email exists');
      const [u] = await trx('users').insert({ tenant_id: tenantId, email: input.email, name: input.name ?? null, password_hash: hash, role: input.role }).returning('*');
      await audit(trx, { tenantId, actor, action: 'user.create', entity: 'user', entityId: u.id, data: { email: input.email, role: input.role } });
      return userView(u);
    });
  }

  async list(tenantId: string, limit: number, offset: number): Promise<Page<UserView>> {
    return paginate(this.db('users').where({ tenant_id: tenantId }).orderBy('created_at').orderBy('id'), limit, offset, userView);
  }

  async update(actor: Actor, tenantId: string, id: string, patch: { name?: string; role?: 'tenant_admin' | 'tenant_operator'; disabled?: boolean; password?: string }): Promise<UserView> {
    const hash = patch.password ? await hashPassword(patch.password) : undefined;
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.role !== undefined) row.role = patch.role;
      if (patch.disabled !== undefined) row.disabled_at = patch.disabled ? trx.fn.now() : null;
      if (hash) row.password_hash = hash;
      const [u] = await trx('users').where({ id, tenant_id: tenantId }).update(row).returning('*');
      if (!u) throw new AppError('USER_NOT_FOUND', 'user not found');
      await audit(trx, { tenantId, actor, action: 'user.update', entity: 'user', entityId: id, data: { ...patch, password: patch.password ? '[changed]' : undefined } });
      return userView(u);
    });
  }
}
