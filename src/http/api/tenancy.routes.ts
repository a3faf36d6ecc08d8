import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { AppError } from '../../lib/errors';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import {
  ApiKeyView,
  CreateApiKey,
  CreatedApiKey,
  CreatedTenant,
  CreateTenant,
  CreateUser,
  ListQuery,
  Login,
  LoginResult,
  Me,
  TenantPatch,
  TenantView,
  UserPatch,
  UserView,
} from '../../modules/tenancy/tenancy.schemas';

/** Logins, tenants, staff users and API keys. */
export function registerTenancyRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'post',
      path: '/auth/login',
      tag: 'auth',
      auth: 'public',
      body: Login,
      response: LoginResult,
      summary:
        'Log in with email and password; returns a JWT. "tenant" (slug) picks the account when the same email and password match at several tenants. Failed logins are limited per account and per client address (429 with Retry-After).',
    },
    // The socket's address unless LANGO_TRUST_PROXY names the proxies allowed to say otherwise.
    async ({ req, body }) => s.users.login(body, req.ip ?? req.socket.remoteAddress ?? 'unknown'),
  );
  r.add(
    {
      method: 'post',
      path: '/auth/logout',
      tag: 'auth',
      summary: "Log out everywhere: ends every token of the caller's account",
      auth: ROLES.staff,
      status: 204,
    },
    async ({ principal, actor }) => {
      if (principal.kind !== 'user')
        throw new AppError('FORBIDDEN', 'an API key does not log out; revoke it with DELETE /api-keys/{id}');
      await s.users.logout(actor, principal.id);
    },
  );

  r.add(
    { method: 'get', path: '/me', tag: 'auth', summary: 'Who am I', auth: ROLES.staff, response: Me },
    async ({ principal }) => ({
      kind: principal.kind,
      id: principal.id,
      role: principal.role,
      tenantId: principal.tenantId,
      user: principal.kind === 'user' ? await s.users.get(principal.id) : undefined,
    }),
  );

  r.add(
    {
      method: 'post',
      path: '/tenants',
      tag: 'tenants',
      summary: 'Create a tenant with its first admin',
      auth: ROLES.platform,
      status: 201,
      body: CreateTenant,
      response: CreatedTenant,
    },
    async ({ body, actor }) => s.tenants.create(actor, body),
  );
  r.add(
    {
      method: 'get',
      path: '/tenants',
      tag: 'tenants',
      summary: 'List tenants',
      auth: ROLES.platform,
      query: ListQuery,
      response: PageOf(TenantView),
    },
    async ({ query }) => s.tenants.list(query.limit, query.offset),
  );
  r.add(
    {
      method: 'get',
      path: '/tenants/:id',
      tag: 'tenants',
      summary: 'Get a tenant',
      auth: ROLES.staff,
      params: IdParams,
      response: TenantView,
    },
    async ({ params, principal }) => s.tenants.get(principal, params.id),
  );
  r.add(
    {
      method: 'patch',
      path: '/tenants/:id',
      tag: 'tenants',
      summary: 'Update a tenant (time zone, currency, status)',
      auth: ROLES.admin,
      params: IdParams,
      body: TenantPatch,
      response: TenantView,
    },
    async ({ params, body, principal }) => s.tenants.update(principal, params.id, body),
  );

  r.add(
    {
      method: 'get',
      path: '/users',
      tag: 'users',
      summary: "List the tenant's staff users",
      auth: ROLES.admin,
      scope: 'tenant',
      query: ListQuery,
      response: PageOf(UserView),
    },
    async ({ tenantId, query }) => s.users.list(tenantId, query.limit, query.offset),
  );
  r.add(
    {
      method: 'post',
      path: '/users',
      tag: 'users',
      summary: 'Add a staff user',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateUser,
      response: UserView,
    },
    async ({ tenantId, body, actor }) => s.users.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'patch',
      path: '/users/:id',
      tag: 'users',
      summary: 'Change, disable or re-enable a staff user',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: UserPatch,
      response: UserView,
    },
    async ({ tenantId, params, body, actor }) => s.users.update(actor, tenantId, params.id, body),
  );

  r.add(
    {
      method: 'get',
      path: '/api-keys',
      tag: 'api-keys',
      summary: 'List API keys (never the secret)',
      auth: ROLES.admin,
      scope: 'tenant',
      query: ListQuery,
      response: PageOf(ApiKeyView),
    },
    async ({ tenantId, query }) => s.apiKeys.list(tenantId, query.limit, query.offset),
  );
  r.add(
    {
      method: 'post',
      path: '/api-keys',
      tag: 'api-keys',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateApiKey,
      response: CreatedApiKey,
      summary:
        'Create an API key; the key is shown once. expiresAt (optional, at most 730 days ahead) ends it; a key is also refused while the user who created it is disabled',
    },
    async ({ tenantId, body, actor }) => s.apiKeys.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'delete',
      path: '/api-keys/:id',
      tag: 'api-keys',
      summary: 'Revoke an API key',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      response: ApiKeyView,
    },
    async ({ tenantId, params, actor }) => s.apiKeys.revoke(actor, tenantId, params.id),
  );
}
