/**
 * The HTTP app, without listen (tests drive it with supertest). Four surfaces, each with its
 * own middleware:
 *   /api/v1      JSON API (api/): JSON bodies, the route registry, OpenAPI, bearer/API-key auth
 *   /portal      captive portal pages (portal/): HTML, forms, cookies, CSRF
 *   /dashboard   staff dashboard pages (dashboard/): the same, with a session cookie
 *   /callbacks   inbound callbacks (callbacks/): raw bodies with size and type limits
 * plus /health, /ready and /metrics (metrics.ts). Errors are one shape (middleware/errors.ts), as JSON or as a page.
 */
import express, { type Request, type Response } from 'express';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { AppError, NotReady } from '../lib/errors';
import type { Services } from '../modules/services';
import type { RouteRegistry } from './registry';
import { apiSurface } from './api';
import type { RadiusFacts } from './api/nas.routes';
import { callbacksSurface } from './callbacks';
import type { MpesaCallbackOptions } from './callbacks/mpesa';
import { dashboardSurface } from './dashboard';
import { portalSurface } from './portal';
import { Csrf } from './middleware/csrf';
import { jsonErrors } from './middleware/errors';
import { requestId } from './middleware/request-id';
import { createMetrics } from './metrics';

/** A dependency that /ready reports on besides the database: check() resolves while it is up. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  db: Knex;
  services: Services;
  config: {
    production: boolean;
    /** Signs the HTML surfaces' CSRF tokens (a key is derived from it). */
    jwtSecret: string;
    jwtTtlSeconds: number;
    /** Which proxies may set the client address (X-Forwarded-For) that login limits count. */
    trustProxy: false | number | readonly string[];
    radius: RadiusFacts;
    /** Daraja callbacks: body size limit and allowed source networks (config.payments). */
    mpesaCallbacks?: MpesaCallbackOptions;
    /** /metrics needs this bearer token; without one it is open, or not served in production. */
    metricsToken?: string;
  };
  logger: Logger;
  /** Injected by whoever runs the dependency (`lango up`: FreeRADIUS); `lango api` has none. */
  readiness?: readonly ReadinessCheck[];
  /** Validate every API answer against its schema (tests). */
  checkResponses?: boolean;
}

/** A check that does not answer in this time counts as down (a hung pool, a lost packet). */
const READY_CHECK_TIMEOUT_MS = 3000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createApp(deps: AppDeps): {
  app: express.Express;
  registry: RouteRegistry;
  openapi: Record<string, unknown>;
} {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.config.trustProxy);
  const log = deps.logger.child({ module: 'http' });

  app.use(requestId(log));
  if (deps.config.metricsToken !== undefined || !deps.config.production) {
    const metrics = createMetrics({
      db: deps.db,
      services: deps.services,
      ...(deps.config.metricsToken !== undefined ? { token: deps.config.metricsToken } : {}),
    });
    app.use(metrics.middleware);
    app.get('/metrics', metrics.handler);
  }

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Every dependency, each up or down; 503 names the ones that are down, with the reason when a
  // check gives one that is safe to show (NotReady: a stale heartbeat); other errors are only logged.
  const checks: ReadinessCheck[] = [
    { name: 'database', check: async () => void (await deps.db.raw('SELECT 1')) },
    ...(deps.readiness ?? []),
  ];
  const ready = async (_req: Request, res: Response): Promise<void> => {
    const results = await Promise.all(
      checks.map(async (c): Promise<[string, 'up' | 'down', string | undefined]> => {
        try {
          await within(c.check(), READY_CHECK_TIMEOUT_MS);
          return [c.name, 'up', undefined];
        } catch (err) {
          log.warn({ check: c.name, err: (err as Error)?.message }, 'readiness check failed');
          return [c.name, 'down', err instanceof NotReady ? err.message : undefined];
        }
      }),
    );
    const status = Object.fromEntries(results.map(([name, s]) => [name, s]));
    const down = results.filter(([, s]) => s === 'down').map(([name]) => name);
    const reasons = Object.fromEntries(results.filter(([, , r]) => r !== undefined).map(([name, , r]) => [name, r]));
    if (down.length)
      throw new AppError('NOT_READY', `not ready: ${down.join(', ')} down`, { checks: status, down, reasons });
    res.json({ status: 'ready', checks: status });
  };
  app.get('/ready', ready);
  app.get('/readyz', ready);

  const api = apiSurface({
    services: deps.services,
    radius: deps.config.radius,
    checkResponses: deps.checkResponses ?? false,
  });
  app.use('/api/v1', api.router);

  const csrf = new Csrf(deps.config.jwtSecret, { production: deps.config.production });
  app.use(
    '/portal',
    portalSurface({
      services: deps.services,
      csrf,
      cookies: { production: deps.config.production },
      secret: deps.config.jwtSecret,
      log,
    }),
  );
  app.use(
    '/dashboard',
    dashboardSurface({
      services: deps.services,
      csrf,
      cookies: { production: deps.config.production },
      sessionSeconds: deps.config.jwtTtlSeconds,
      log,
    }),
  );
  app.use(
    '/callbacks',
    callbacksSurface({
      log,
      payments: deps.services.payments,
      mpesa: deps.config.mpesaCallbacks ?? { maxBytes: 16384, networks: [] },
    }),
  );

  app.use((_req, _res, next) => next(new AppError('ROUTE_NOT_FOUND', 'no such route')));
  app.use(jsonErrors(log));

  return { app, registry: api.registry, openapi: api.openapi };
}
