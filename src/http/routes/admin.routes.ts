import type { RouteRegistry } from '../registry';
import type { Services } from '../../services';
import { ROLES, signToken, tenantOf } from '../auth';
import { AppError } from '../../errors';
import { email, idParams, obj, page, staffPassword, str } from './schemas';
import type { Actor } from '../../services/context';
import type { Principal } from '../auth';
import type { LoginThrottle } from '../login-throttle';

/** A platform admin (no tenant of its own) acts as 'platform': tenants never see its id. */
export const actorOf = (p: Principal): Actor => ({ type: p.kind === 'user' && p.tenantId === null ? 'platform' : p.kind, id: p.id });

const tenantSlug = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' };

export function registerAdminRoutes(r: RouteRegistry, s: Services, auth: { jwtSecret: string; ttl: number; throttle: LoginThrottle }): void {
  r.add(
    {
      method: 'post', path: '/auth/login', tag: 'auth', auth: 'public',
      summary: 'Log in with email and password; returns a JWT. "tenant" (slug) picks the account when the same email and password match at several tenants. Failed logins are limited per account and per client address (429 with Retry-After).',
      body: obj({ email, password: { type: 'string', minLength: 1, maxLength: 200 }, tenant: tenantSlug }, ['email', 'password']),
    },
    async ({ req, res, body }) => {
      // The socket's address unless LANGO_TRUST_PROXY names the proxies allowed to say otherwise.
      const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      try {
        await auth.throttle.attempt(body.email, address);
      } catch (err) {
        if (err instanceof AppError && err.code === 'RATE_LIMITED') res.set('Retry-After', String(err.details!.retryAfterSeconds));
        throw err;
      }
      const { user, tokenVersion } = await s.users.verifyLogin(body.email, body.password, body.tenant);
      await auth.throttle.succeeded(body.email, address);
      return { token: signToken(auth.jwtSecret, auth.ttl, { sub: user.id, role: user.role, tid: user.tenantId, ver: tokenVersion }), expiresIn: auth.ttl, user };
    },
  );
  r.add(
    { method: 'post', path: '/auth/logout', tag: 'auth', summary: "Log out everywhere: ends every token of the caller's account", auth: ROLES.staff, status: 204 },
    async ({ principal }) => {
      if (principal.kind !== 'user') throw new AppError('FORBIDDEN', 'an API key does not log out; revoke it with DELETE /api-keys/{id}');
      await s.users.logout(actorOf(principal), principal.id);
    },
  );

  r.add({ method: 'get', path: '/me', tag: 'auth', summary: 'Who am I', auth: ROLES.staff }, async ({ principal }) => ({
    kind: principal.kind,
    id: principal.id,
    role: principal.role,
    tenantId: principal.tenantId,
    user: principal.kind === 'user' ? await s.users.get(principal.id) : undefined,
  }));

  const tenantBody = {
    name: str(120),
    slug: tenantSlug,
    timeZone: str(64),
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  };
  r.add(
    {
      method: 'post', path: '/tenants', tag: 'tenants', summary: 'Create a tenant with its first admin', auth: ROLES.platform, status: 201,
      body: obj({ ...tenantBody, admin: obj({ email, password: staffPassword, name: str(120) }, ['email', 'password']) }, ['name', 'slug', 'admin']),
    },
    async ({ body, principal }) => s.tenants.create(actorOf(principal), body),
  );
  r.add({ method: 'get', path: '/tenants', tag: 'tenants', summary: 'List tenants', auth: ROLES.platform, query: obj({ ...page }) }, async ({ query }) =>
    s.tenants.list(query.limit, query.offset),
  );
  r.add({ method: 'get', path: '/tenants/:id', tag: 'tenants', summary: 'Get a tenant', auth: ROLES.staff, params: idParams }, async ({ params, principal }) => {
    if (principal.tenantId && principal.tenantId !== params.id) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
    return s.tenants.get(params.id);
  });
  r.add(
    {
      method: 'patch', path: '/tenants/:id', tag: 'tenants', summary: 'Update a tenant (time zone, currency, status)', auth: ROLES.admin, params: idParams,
      body: obj({ name: tenantBody.name, timeZone: tenantBody.timeZone, currency: tenantBody.currency, status: { enum: ['active', 'suspended'] } }),
    },
    async ({ params, body, principal }) => {
      if (principal.tenantId && principal.tenantId !== params.id) throw new AppError('TENANT_NOT_FOUND', 'tenant not found');
      if (principal.role !== 'platform_admin' && body.status !== undefined) throw new AppError('FORBIDDEN', 'only a platform admin changes tenant status');
      return s.tenants.update(actorOf(principal), params.id, body);
    },
  );

  const staffRole = { enum: ['tenant_admin', 'tenant_operator'] };
  r.add({ method: 'get', path: '/users', tag: 'users', summary: "List the tenant's staff users", auth: ROLES.admin, query: obj({ ...page }) }, async ({ req, query, principal }) =>
    s.users.list(tenantOf(req, principal), query.limit, query.offset),
  );
  r.add(
    { method: 'post', path: '/users', tag: 'users', summary: 'Add a staff user', auth: ROLES.admin, status: 201, body: obj({ email, password: staffPassword, name: str(120), role: staffRole }, ['email', 'password', 'role']) },
    async ({ req, body, principal }) => s.users.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add(
    { method: 'patch', path: '/users/:id', tag: 'users', summary: 'Change, disable or re-enable a staff user', auth: ROLES.admin, params: idParams, body: obj({ name: str(120), role: staffRole, disabled: { type: 'boolean' }, password: staffPassword }) },
    async ({ req, params, body, principal }) => s.users.update(actorOf(principal), tenantOf(req, principal), params.id, body),
  );

  r.add({ method: 'get', path: '/api-keys', tag: 'api-keys', summary: 'List API keys (never the secret)', auth: ROLES.admin, query: obj({ ...page }) }, async ({ req, query, principal }) =>
    s.apiKeys.list(tenantOf(req, principal), query.limit, query.offset),
  );
  r.add(
    {
      method: 'post', path: '/api-keys', tag: 'api-keys', auth: ROLES.admin, status: 201,
      summary: 'Create an API key; the key is shown once. expiresAt (optional, at most 730 days ahead) ends it; a key is also refused while the user who created it is disabled',
      body: obj({ name: str(120), role: staffRole, expiresAt: { type: 'string', format: 'date-time' } }, ['name', 'role']),
    },
    async ({ req, body, principal }) => s.apiKeys.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add({ method: 'delete', path: '/api-keys/:id', tag: 'api-keys', summary: 'Revoke an API key', auth: ROLES.admin, params: idParams }, async ({ req, params, principal }) =>
    s.apiKeys.revoke(actorOf(principal), tenantOf(req, principal), params.id),
  );
}
