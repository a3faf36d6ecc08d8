import { isIP } from 'node:net';
import type { Request } from 'express';
import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { AppError } from '../../lib/errors';
import type { ScriptService } from '../../mikrotik/script';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import { ListQuery } from '../../modules/tenancy/tenancy.schemas';
import {
  CreateNas,
  MikrotikScriptQuery,
  NasPatch,
  NasQuery,
  NasView,
  PendingNasView,
} from '../../modules/nas/nas.schemas';

/** Deployment facts the provisioning script needs (from config). */
export interface RadiusFacts {
  /** LANGO_PUBLIC_RADIUS_ADDRESS */
  publicAddress: string | undefined;
  authPort: number;
  acctPort: number;
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
  const loopback =
    host.toLowerCase() === 'localhost' || /^127\./.test(host) || host === '::1' || host === '0.0.0.0' || host === '::';
  if ((v === 0 && !HOSTNAME_RE.test(host)) || loopback) {
    throw new AppError(
      'VALIDATION_FAILED',
      'give radiusServer: the address this request was sent to cannot be reached by a router',
      {
        errors: [
          { path: 'query.radiusServer', message: 'required when the request host is loopback or not an address' },
        ],
      },
    );
  }
  return host;
}

export function registerNasRoutes(r: RouteRegistry, s: Services, radius: RadiusFacts): void {
  r.add(
    {
      method: 'get',
      path: '/nas',
      tag: 'nas',
      summary: 'List NAS devices (secrets are never returned)',
      auth: ROLES.staff,
      scope: 'tenant',
      query: NasQuery,
      response: PageOf(NasView),
    },
    async ({ tenantId, query }) => s.nas.list(tenantId, query),
  );
  r.add(
    {
      method: 'post',
      path: '/nas',
      tag: 'nas',
      summary: 'Add a NAS; FreeRADIUS accepts it without a restart',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateNas,
      response: NasView,
    },
    async ({ tenantId, body, actor }) => s.nas.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/nas/:id',
      tag: 'nas',
      summary: 'Get a NAS',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: NasView,
    },
    async ({ tenantId, params }) => s.nas.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'patch',
      path: '/nas/:id',
      tag: 'nas',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: NasPatch,
      response: NasView,
      summary:
        'Update a NAS (a new secret applies once FreeRADIUS drops its cached client; routerOsApi null removes API access)',
    },
    async ({ tenantId, params, body, actor }) => s.nas.update(actor, tenantId, params.id, body),
  );
  r.add(
    {
      method: 'get',
      path: '/nas-approvals',
      tag: 'nas',
      summary: 'NAS addresses waiting for approval, across tenants (platform admins)',
      auth: ROLES.platform,
      query: ListQuery,
      response: PageOf(PendingNasView),
    },
    async ({ query }) => s.nas.pendingApprovals(query.limit, query.offset),
  );
  r.add(
    {
      method: 'post',
      path: '/nas/:id/approve',
      tag: 'nas',
      summary: 'Admit a NAS address (platform admins); refused when another tenant owns it',
      auth: ROLES.platform,
      params: IdParams,
      response: NasView,
    },
    async ({ params, actor }) => s.nas.approve(actor, params.id),
  );
  r.add(
    {
      method: 'delete',
      path: '/nas/:id',
      tag: 'nas',
      summary: 'Remove a NAS',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      status: 204,
    },
    async ({ tenantId, params, actor }) => s.nas.remove(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'get',
      path: '/nas/:id/mikrotik.rsc',
      tag: 'nas',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      query: MikrotikScriptQuery,
      summary:
        'RouterOS script that sets this router up for Lango (RADIUS client with its secret, CoA on, hotspot/PPP AAA, walled garden, soft block); import with /import',
      produces: 'text/plain',
      responseDescription: 'RouterOS script (contains the NAS secret)',
    },
    async ({ req, res, tenantId, params, query, actor }) => {
      const radiusServer = query.radiusServer ?? radius.publicAddress ?? radiusServerFromRequest(req);
      const script = await s.nas.mikrotikScript(actor, tenantId, params.id, {
        radiusServer,
        authPort: radius.authPort,
        acctPort: radius.acctPort,
        services: query.services.split(',') as ScriptService[],
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
}
