import type { RouteRegistry } from '../registry';
import type { Services } from '../../services';
import { ROLES, signToken, tenantOf } from '../auth';
import { AppError } from '../../errors';
import { email, idParams, obj, page, staffPassword, str } from './schemas';
import type { Actor } from '../../services/context';
import type { Principal } from '../auth';

export const actorOf = (p: Principal): Actor => ({ type: p.kind, id: p.id });

export function registerAdminRoutes(r: RouteRegistry, s: Services, auth: { jwtSecret: string; ttl: number }): void {
  r.add(
    { method: 'post', path: '/auth/login', tag: 'auth', summary: 'Log in with email and password; returns a JWT', auth: 'public', body: obj({ email, password: { type: 'string', minLength: 1, maxLength: 200 } }, ['email', 'password']) },
    async ({ body }) => {
      const user = await s.users.verifyLogin(body.email, body.password);
      return { token: signToken(auth.jwtSecret, auth.ttl, { sub: user.id, role: user.role, tid: user.tenantId }), expiresIn: auth.ttl, user };
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
    slug: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' },
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
    { method: 'post', path: '/api-keys', tag: 'api-keys', summary: 'Create an API key; the key is shown once', auth: ROLES.admin, status: 201, body: obj({ name: str(120), role: staffRole }, ['name', 'role']) },
    async ({ req, body, principal }) => s.apiKeys.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add({ method: 'delete', path: '/api-keys/:id', tag: 'api-keys', summary: 'Revoke an API key', auth: ROLES.admin, params: idParams }, async ({ req, params, principal }) =>
    s.apiKeys.revoke(actorOf(principal), tenantOf(req, principal), params.id),
  );
}
