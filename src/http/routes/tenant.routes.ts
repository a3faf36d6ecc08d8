import { isIP } from 'node:net';
import type { Knex } from 'knex';
import type { Request } from 'express';
import type { RouteRegistry } from '../registry';
import { AppError } from '../../errors';
import type { ScriptService } from '../../mikrotik/script';
import type { Services } from '../../services';
import { ROLES, tenantOf } from '../auth';
import { email, idParams, ipAddress, ipv4, ipv6, nullable, obj, page, radiusPassword, str, uuid } from './schemas';
import { actorOf } from './admin.routes';

const planFields = {
  name: str(80),
  price: { type: 'integer', minimum: 0, maximum: 100000000 },
  durationSeconds: { type: 'integer', minimum: 60, maximum: 10 * 366 * 86400 },
  dataQuotaBytes: nullable({ type: 'integer', minimum: 1, maximum: 9007199254740991 }),
  rateLimit: nullable(str(128)),
  sessionTimeoutSeconds: nullable({ type: 'integer', minimum: 60, maximum: 31 * 86400 }),
  idleTimeoutSeconds: nullable({ type: 'integer', minimum: 60, maximum: 86400 }),
  simultaneousUse: { type: 'integer', minimum: 1, maximum: 1000 },
  interimIntervalSeconds: { type: 'integer', minimum: 60, maximum: 86400 },
  active: { type: 'boolean' },
};

const subscriberProfile = {
  fullName: str(120),
  phone: { type: 'string', pattern: '^\\+?[0-9 ]{6,20}$' },
  email,
  macAddress: nullable({ type: 'string', maxLength: 17 }),
  staticIp: nullable(ipv4),
  notes: str(2000, 0),
};

// Usernames: any UTF-8 the RADIUS User-Name can carry (byte length is checked in the service).
const username = str(253);
const password = radiusPassword;

const nasFields = {
  name: str(64),
  address: ipAddress,
  identifier: nullable(str(253)),
  secret: { type: 'string', minLength: 6, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' },
  kind: { enum: ['mikrotik', 'gateway', 'other'] },
  coaPort: { type: 'integer', minimum: 1, maximum: 65535 },
  description: nullable(str(500, 0)),
  requireMessageAuthenticator: { type: 'boolean' },
};

// RouterOS API credentials: write-only (the view says only whether they are configured).
// RouterOS allows an empty password (the factory admin has one), so the schema does too.
const routerOsApiFields = {
  username: str(64),
  password: str(128, 0),
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  tls: { type: 'boolean' },
};

const hostname = { type: 'string', format: 'hostname' };
const mikrotikScriptQuery = obj({
  radiusServer: { type: 'string', maxLength: 253, anyOf: [ipv4, ipv6, hostname] },
  // The soft-block redirect is an IPv4 dst-nat: the portal is a name or an IPv4 address.
  portalHost: { type: 'string', maxLength: 253, anyOf: [ipv4, hostname] },
  hotspotProfile: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7e]+$', default: 'hsprof1' },
  services: { type: 'string', pattern: '^(hotspot|ppp)(,(hotspot|ppp))?$', default: 'hotspot,ppp' },
});

/** Deployment facts the routes need (from config; tests may leave them out). */
export interface TenantRouteOptions {
  radius?: {
    /** LANGO_PUBLIC_RADIUS_ADDRESS */
    publicAddress?: string | undefined;
    authPort?: number;
    acctPort?: number;
  };
}

const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Without radiusServer and LANGO_PUBLIC_RADIUS_ADDRESS, the router is pointed at the host this
 * request was sent to. A loopback or unusable host would give a script that cannot work, so it
 * is refused instead.
 */
function radiusServerFromRequest(req: Request): string {
  const host = req.hostname?.replace(/^\[(.*)\]$/, '$1') ?? '';
  const v = isIP(host);
  const loopback = host.toLowerCase() === 'localhost' || /^127\./.test(host) || host === '::1' || host === '0.0.0.0' || host === '::';
  if ((v === 0 && !HOSTNAME_RE.test(host)) || loopback) {
    throw new AppError('VALIDATION_FAILED', 'give radiusServer: the address this request was sent to cannot be reached by a router', {
      errors: [{ path: 'query.radiusServer', message: 'required when the request host is loopback or not an address' }],
    });
  }
  return host;
}

export function registerTenantRoutes(r: RouteRegistry, s: Services, db: Knex, opts: TenantRouteOptions = {}): void {
  // Plans
  r.add({ method: 'get', path: '/plans', tag: 'plans', summary: 'List plans', auth: ROLES.staff, query: obj({ ...page, active: { type: 'boolean' } }) }, async ({ req, query, principal }) =>
    s.plans.list(tenantOf(req, principal), query),
  );
  r.add(
    { method: 'post', path: '/plans', tag: 'plans', summary: 'Create a plan (a FreeRADIUS group)', auth: ROLES.admin, status: 201, body: obj(planFields, ['name', 'durationSeconds']) },
    async ({ req, body, principal }) => s.plans.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add({ method: 'get', path: '/plans/:id', tag: 'plans', summary: 'Get a plan', auth: ROLES.staff, params: idParams }, async ({ req, params, principal }) =>
    s.plans.get(db, tenantOf(req, principal), params.id),
  );
  r.add(
    { method: 'patch', path: '/plans/:id', tag: 'plans', summary: 'Update a plan (speed applies at next login; allowance applies to new periods)', auth: ROLES.admin, params: idParams, body: obj(planFields) },
    async ({ req, params, body, principal }) => s.plans.update(actorOf(principal), tenantOf(req, principal), params.id, body),
  );
  r.add({ method: 'delete', path: '/plans/:id', tag: 'plans', summary: 'Delete an unused plan', auth: ROLES.admin, params: idParams, status: 204 }, async ({ req, params, principal }) =>
    s.plans.remove(actorOf(principal), tenantOf(req, principal), params.id),
  );

  // Subscribers
  r.add(
    {
      method: 'get', path: '/subscribers', tag: 'subscribers', summary: 'List subscribers (filter by status, plan, expiry, text)', auth: ROLES.staff,
      query: obj({ ...page, status: { enum: ['active', 'suspended'] }, planId: uuid, q: str(100), expired: { type: 'boolean' } }),
    },
    async ({ req, query, principal }) => s.subscribers.list(tenantOf(req, principal), query),
  );
  r.add(
    {
      method: 'post', path: '/subscribers', tag: 'subscribers', summary: 'Create a subscriber (and start a subscription when a plan is given)', auth: ROLES.admin, status: 201,
      body: obj({ username, password, planId: uuid, startSubscription: { type: 'boolean' }, ...subscriberProfile }, ['username', 'password']),
    },
    async ({ req, body, principal }) => s.subscribers.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add({ method: 'get', path: '/subscribers/:id', tag: 'subscribers', summary: 'Get a subscriber', auth: ROLES.staff, params: idParams }, async ({ req, params, principal }) =>
    s.subscribers.get(db, tenantOf(req, principal), params.id),
  );
  r.add(
    { method: 'patch', path: '/subscribers/:id', tag: 'subscribers', summary: 'Update profile, MAC binding or static IP', auth: ROLES.admin, params: idParams, body: obj(subscriberProfile) },
    async ({ req, params, body, principal }) => s.subscribers.update(actorOf(principal), tenantOf(req, principal), params.id, body),
  );
  r.add(
    { method: 'post', path: '/subscribers/:id/suspend', tag: 'subscribers', summary: 'Suspend: RADIUS rejects the subscriber', auth: ROLES.staff, params: idParams, body: obj({ reason: str(200) }) },
    async ({ req, params, body, principal }) => s.subscribers.setStatus(actorOf(principal), tenantOf(req, principal), params.id, 'suspended', body.reason),
  );
  r.add(
    { method: 'post', path: '/subscribers/:id/activate', tag: 'subscribers', summary: 'Lift a suspension', auth: ROLES.staff, params: idParams, body: obj({}) },
    async ({ req, params, principal }) => s.subscribers.setStatus(actorOf(principal), tenantOf(req, principal), params.id, 'active'),
  );
  r.add(
    { method: 'post', path: '/subscribers/:id/renew', tag: 'subscribers', summary: 'Add one period of the current plan', auth: ROLES.admin, params: idParams, body: obj({}) },
    async ({ req, params, principal }) => s.subscribers.renew(actorOf(principal), tenantOf(req, principal), params.id),
  );
  r.add(
    { method: 'post', path: '/subscribers/:id/change-plan', tag: 'subscribers', summary: 'Move to another plan now', auth: ROLES.admin, params: idParams, body: obj({ planId: uuid }, ['planId']) },
    async ({ req, params, body, principal }) => s.subscribers.changePlan(actorOf(principal), tenantOf(req, principal), params.id, body.planId),
  );
  r.add(
    { method: 'post', path: '/subscribers/:id/reset-password', tag: 'subscribers', summary: 'Set a new password', auth: ROLES.admin, params: idParams, status: 204, body: obj({ password }, ['password']) },
    async ({ req, params, body, principal }) => s.subscribers.resetPassword(actorOf(principal), tenantOf(req, principal), params.id, body.password),
  );
  r.add({ method: 'delete', path: '/subscribers/:id', tag: 'subscribers', summary: 'Delete a subscriber (accounting history is kept)', auth: ROLES.admin, params: idParams, status: 204 }, async ({ req, params, principal }) =>
    s.subscribers.remove(actorOf(principal), tenantOf(req, principal), params.id),
  );
  r.add(
    { method: 'get', path: '/subscribers/:id/subscriptions', tag: 'subscribers', summary: "A subscriber's subscription periods", auth: ROLES.staff, params: idParams, query: obj({ ...page }) },
    async ({ req, params, query, principal }) => s.subscribers.subscriptions(tenantOf(req, principal), params.id, query.limit, query.offset),
  );

  // NAS
  r.add(
    { method: 'get', path: '/nas', tag: 'nas', summary: 'List NAS devices (secrets are never returned)', auth: ROLES.staff, query: obj({ ...page, kind: nasFields.kind, address: ipAddress }) },
    async ({ req, query, principal }) => s.nas.list(tenantOf(req, principal), query),
  );
  r.add(
    {
      method: 'post', path: '/nas', tag: 'nas', summary: 'Add a NAS; FreeRADIUS accepts it without a restart', auth: ROLES.admin, status: 201,
      body: obj({ ...nasFields, routerOsApi: nullable(obj(routerOsApiFields, ['username', 'password'])) }, ['name', 'address', 'secret']),
    },
    async ({ req, body, principal }) => s.nas.create(actorOf(principal), tenantOf(req, principal), body),
  );
  r.add({ method: 'get', path: '/nas/:id', tag: 'nas', summary: 'Get a NAS', auth: ROLES.staff, params: idParams }, async ({ req, params, principal }) =>
    s.nas.get(db, tenantOf(req, principal), params.id),
  );
  r.add(
    {
      method: 'patch', path: '/nas/:id', tag: 'nas', summary: 'Update a NAS (a new secret applies once FreeRADIUS drops its cached client; routerOsApi null removes API access)', auth: ROLES.admin, params: idParams,
      body: obj({ ...nasFields, routerOsApi: nullable(obj(routerOsApiFields)) }),
    },
    async ({ req, params, body, principal }) => s.nas.update(actorOf(principal), tenantOf(req, principal), params.id, body),
  );
  r.add(
    { method: 'get', path: '/nas-approvals', tag: 'nas', summary: 'NAS addresses waiting for approval, across tenants (platform admins)', auth: ROLES.platform, query: obj({ ...page }) },
    async ({ query }) => s.nas.pendingApprovals(query.limit, query.offset),
  );
  r.add(
    { method: 'post', path: '/nas/:id/approve', tag: 'nas', summary: 'Admit a NAS address (platform admins); refused when another tenant owns it', auth: ROLES.platform, params: idParams },
    async ({ params, principal }) => s.nas.approve(actorOf(principal), params.id),
  );
  r.add({ method: 'delete', path: '/nas/:id', tag: 'nas', summary: 'Remove a NAS', auth: ROLES.admin, params: idParams, status: 204 }, async ({ req, params, principal }) =>
    s.nas.remove(actorOf(principal), tenantOf(req, principal), params.id),
  );
  r.add(
    {
      method: 'get', path: '/nas/:id/mikrotik.rsc', tag: 'nas', auth: ROLES.admin, params: idParams, query: mikrotikScriptQuery,
      summary: 'RouterOS script that sets this router up for Lango (RADIUS client with its secret, CoA on, hotspot/PPP AAA, walled garden, soft block); import with /import',
      produces: 'text/plain', responseDescription: 'RouterOS script (contains the NAS secret)',
    },
    async ({ req, res, params, query, principal }) => {
      const tenantId = tenantOf(req, principal);
      const radiusServer: string = query.radiusServer ?? opts.radius?.publicAddress ?? radiusServerFromRequest(req);
      const script = await s.nas.mikrotikScript(actorOf(principal), tenantId, params.id, {
        radiusServer,
        authPort: opts.radius?.authPort ?? 1812,
        acctPort: opts.radius?.acctPort ?? 1813,
        services: (query.services as string).split(',') as ScriptService[],
        hotspotProfile: query.hotspotProfile,
        portalHost: query.portalHost ?? null,
      });
      res
        .status(200)
        .type('text/plain; charset=utf-8')
        .set('Cache-Control', 'no-store')
        .set('Content-Disposition', 'attachment; filename="lango.rsc"')
        .send(script);
    },
  );

  // Audit log
  r.add(
    { method: 'get', path: '/audit-log', tag: 'audit', summary: "The tenant's audit trail", auth: ROLES.admin, query: obj({ ...page, entity: str(40), entityId: str(100) }) },
    async ({ req, query, principal }) => s.audit.list(tenantOf(req, principal), query),
  );
}
