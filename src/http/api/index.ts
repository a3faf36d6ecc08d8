/** The JSON API, /api/v1: its body parser, the route registry and the OpenAPI document. */
import express, { type Router } from 'express';
import type { Services } from '../../modules/services';
import { RouteRegistry } from '../registry';
import { apiAuthentication } from '../middleware/authenticate';
import { registerAuditRoutes } from './audit.routes';
import { registerEnforcementRoutes } from './enforcement.routes';
import { registerNasRoutes, type RadiusFacts } from './nas.routes';
import { registerPaymentRoutes } from './payments.routes';
import { registerPlanRoutes } from './plans.routes';
import { registerPortalRoutes } from './portal.routes';
import { registerReportRoutes } from './reports.routes';
import { registerSessionRoutes } from './sessions.routes';
import { registerSubscriberRoutes } from './subscribers.routes';
import { registerTenancyRoutes } from './tenancy.routes';
import { registerVoucherRoutes } from './vouchers.routes';

export function apiSurface(o: { services: Services; radius: RadiusFacts; checkResponses?: boolean }): {
  router: Router;
  registry: RouteRegistry;
  openapi: Record<string, unknown>;
} {
  const router = express.Router();
  router.use(express.json({ limit: '256kb', strict: true }));
  const registry = new RouteRegistry(router, {
    authenticate: apiAuthentication(o.services.authenticator),
    checkResponses: o.checkResponses ?? false,
  });
  registerTenancyRoutes(registry, o.services);
  registerPlanRoutes(registry, o.services);
  registerSubscriberRoutes(registry, o.services);
  registerNasRoutes(registry, o.services, o.radius);
  registerAuditRoutes(registry, o.services);
  registerSessionRoutes(registry, o.services);
  registerEnforcementRoutes(registry, o.services);
  registerVoucherRoutes(registry, o.services);
  registerPortalRoutes(registry, o.services);
  registerPaymentRoutes(registry, o.services);
  registerReportRoutes(registry, o.services);
  const openapi = registry.openapi({ title: 'Lango API', version: '1' });
  router.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  return { router, registry, openapi };
}
