import type { Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { signToken } from './credentials';
import type { LoginThrottle } from './login-throttle';
import { hashPassword, verifyPassword } from './passwords';
import {
  bumpTokenVersion,
  findUser,
  insertUser,
  loginCandidates,
  touchLogin,
  updateUser,
  usersQuery,
  type UserRow,
} from './tenancy.repo';
import type { CreateUser, Login, LoginResult, UserPatch, UserView } from './tenancy.schemas';
import { assertTenantActive, userView } from './tenants.service';

export interface VerifiedLogin {
  user: UserView;
  /** Goes into the token; see users.token_version. */
  tokenVersion: number;
}

export interface TokenSettings {
  jwtSecret: string;
  jwtTtlSeconds: number;
}

const notFound = () => new AppError('USER_NOT_FOUND', 'user not found');

/**
 * Staff users. Emails are unique per tenant (platform admins among themselves), decided by the
 * unique index users_email_tenant_unique (USER_EXISTS, db/errors.ts), so two concurrent creates
 * cannot both pass; another tenant's users are never looked at, so creating a user reveals
 * nothing about other tenants.
 */
export class UsersService {
  private readonly db: Knex;
  private readonly throttle: LoginThrottle;
  private readonly tokens: TokenSettings;
  /** A real hash of a random password, compared against when the email is unknown. */
  private dummyHash: Promise<string> | undefined;

  constructor(deps: { db: Knex; throttle: LoginThrottle; tokens: TokenSettings }) {
    this.db = deps.db;
    this.throttle = deps.throttle;
    this.tokens = deps.tokens;
  }

  /**
   * A login from `address` (the client's): counted by the throttle before the password is
   * looked at (RATE_LIMITED with retryAfterSeconds), then verified; returns a signed token.
   */
  async login(input: Login, address: string): Promise<LoginResult> {
    await this.throttle.attempt(input.email, address);
    const { user, tokenVersion } = await this.verifyLogin(input.email, input.password, input.tenant);
    await this.throttle.succeeded(input.email, address);
    const { jwtSecret, jwtTtlSeconds } = this.tokens;
    return {
      token: signToken(jwtSecret, jwtTtlSeconds, {
        sub: user.id,
        role: user.role,
        tid: user.tenantId,
        ver: tokenVersion,
      }),
      expiresIn: jwtTtlSeconds,
      user,
    };
  }

  /**
   * Email + password, optionally a tenant slug. The same email may exist at several tenants:
   * the password is checked against each (bcrypt's cost per candidate), and the login succeeds
   * only when exactly one account matches; two matches need `tenant` to choose.
   * Suspension is told only after the password was right (it reveals the account exists).
   */
  async verifyLogin(email: string, password: string, tenantSlug?: string): Promise<VerifiedLogin> {
    const candidates = await loginCandidates(this.db, email, tenantSlug);
    let matches: typeof candidates;
    if (candidates.length === 0) {
      // Compare against a fixed hash when nobody matches, so timing does not reveal emails.
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.dummyHash);
      matches = [];
    } else {
      const ok = await Promise.all(candidates.map((u) => verifyPassword(password, u.password_hash)));
      matches = candidates.filter((_u, i) => ok[i]);
    }
    if (matches.length === 0) throw new AppError('INVALID_CREDENTIALS', 'wrong email or password');
    if (matches.length > 1)
      throw new AppError(
        'TENANT_REQUIRED',
        'this email and password match accounts at several tenants; send "tenant" (the tenant slug)',
      );
    const u = matches[0]!;
    if (u.tenant_id) assertTenantActive(u.tenant_status);
    await touchLogin(this.db, u.id);
    return { user: userView(u), tokenVersion: u.token_version };
  }

  /** Ends every token of the user ("log out everywhere"): they all carry the old version. */
  async logout(actor: Actor, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      const u = await bumpTokenVersion(trx, id);
      if (!u) throw notFound();
      await audit(trx, { tenantId: u.tenant_id, actor, action: 'user.logout', entity: 'user', entityId: id });
    });
  }

  async get(id: string): Promise<UserView> {
    const u = await findUser(this.db, id);
    if (!u) throw notFound();
    return userView(u);
  }

  async createPlatformAdmin(email: string, password: string, name?: string): Promise<UserView> {
    const hash = await hashPassword(password);
    return withTransaction(this.db, async (trx) =>
      userView(
        await insertUser(trx, {
          tenant_id: null,
          email,
          name: name ?? null,
          password_hash: hash,
          role: 'platform_admin',
        }),
      ),
    );
  }

  async create(actor: Actor, tenantId: string, input: CreateUser): Promise<UserView> {
    const hash = await hashPassword(input.password);
    return withTransaction(this.db, async (trx) => {
      const u = await insertUser(trx, {
        tenant_id: tenantId,
        email: input.email,
        name: input.name ?? null,
        password_hash: hash,
        role: input.role,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'user.create',
        entity: 'user',
        entityId: u.id,
        data: { email: input.email, role: input.role },
      });
      return userView(u);
    });
  }

  async list(tenantId: string, limit: number, offset: number): Promise<Page<UserView>> {
    return paginate(usersQuery(this.db, tenantId), limit, offset, (r: UserRow) => userView(r));
  }

  /**
   * A password change, a disable or a role change ends the user's tokens (token_version), so
   * a re-enabled user starts from a new login.
   */
  async update(actor: Actor, tenantId: string, id: string, patch: UserPatch): Promise<UserView> {
    const hash = patch.password ? await hashPassword(patch.password) : undefined;
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.role !== undefined) row.role = patch.role;
      if (patch.disabled !== undefined) row.disabled_at = patch.disabled ? trx.fn.now() : null;
      if (hash) row.password_hash = hash;
      if (hash || patch.disabled === true) row.token_version = trx.raw('token_version + 1');
      else if (patch.role !== undefined)
        row.token_version = trx.raw('token_version + CASE WHEN role = ? THEN 0 ELSE 1 END', [patch.role]);
      const u = await updateUser(trx, tenantId, id, row);
      if (!u) throw notFound();
      await audit(trx, {
        tenantId,
        actor,
        action: 'user.update',
        entity: 'user',
        entityId: id,
        data: { ...patch, password: patch.password ? '[changed]' : undefined },
      });
      return userView(u);
    });
  }
}
