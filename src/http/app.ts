import express, { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { mapDbError } from '../db/knex';
import { createAuthenticator } from './auth';
import { RouteRegistry } from './registry';
import { registerAdminRoutes } from './routes/admin.routes';
import { registerTenantRoutes } from './routes/tenant.routes';
import { registerSessionRoutes } from './routes/sessions.routes';
import type { Services } from '../services';
import { DEFAULT_LOGIN_LIMITS, type Config } from '../config';
import { LoginThrottle } from './login-throttle';

/** A dependency that /ready reports on besides the database: check() resolves while it is up. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface AppDeps {
  db: Knex;
  services: Services;
  config: Pick<Config, 'jwtSecret' | 'jwtTtlSeconds'> &
    Partial<Pick<Config, 'login' | 'trustProxy'>> & { radius?: Pick<Config['radius'], 'publicAddress' | 'authPort' | 'acctPort'> };
  logger: Logger;
  /** Injected by whoever runs the dependency (`lango up`: FreeRADIUS); `lango api` has none. */
  readiness?: readonly ReadinessCheck[];
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

/** Builds the Express app without listening (tests drive it with supertest). */
export function createApp(deps: AppDeps): { app: express.Express; registry: RouteRegistry; openapi: Record<string, unknown> } {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Which proxies may set the client address (X-Forwarded-For) that login limits count.
  app.set('trust proxy', deps.config.trustProxy ?? false);
  const log = deps.logger.child({ module: 'http' });

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      log.info({ requestId: id, method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - start) / 1e6 }, 'request');
    });
    next();
  });

  app.use(express.json({ limit: '256kb', strict: true }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Every dependency, each up or down; 503 names the ones that are down (why is logged only).
  const checks: ReadinessCheck[] = [
    { name: 'database', check: async () => void (await deps.db.raw('SELECT 1')) },
    ...(deps.readiness ?? []),
  ];
  const ready = async (_req: Request, res: Response): Promise<void> => {
    const results = await Promise.all(
      checks.map(async (c): Promise<[string, 'up' | 'down']> => {
        try {
          await within(c.check(), READY_CHECK_TIMEOUT_MS);
          return [c.name, 'up'];
        } catch (err) {
          log.warn({ check: c.name, err: (err as Error)?.message }, 'readiness check failed');
          return [c.name, 'down'];
        }
      }),
    );
    const status = Object.fromEntries(results);
    const down = results.filter(([, s]) => s === 'down').map(([name]) => name);
    if (down.length) throw new AppError('NOT_READY', `not ready: ${down.join(', ')} down`, { checks: status, down });
    res.json({ status: 'ready', checks: status });
  };
  app.get('/ready', ready);
  app.get('/readyz', ready);

  const router = express.Router();
  const registry = new RouteRegistry(router, createAuthenticator(deps.db, deps.config.jwtSecret));
  const throttle = new LoginThrottle(deps.db, deps.config.login ?? DEFAULT_LOGIN_LIMITS);
  registerAdminRoutes(registry, deps.services, { jwtSecret: deps.config.jwtSecret, ttl: deps.config.jwtTtlSeconds, throttle });
  registerTenantRoutes(registry, deps.services, deps.db, deps.config.radius ? { radius: deps.config.radius } : {});
  registerSessionRoutes(registry, deps.services);
  const openapi = registry.openapi({ title: 'Lango API', version: '1' });
  router.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/v1', router);

  app.use((_req, _res, next) => next(new AppError('ROUTE_NOT_FOUND', 'no such route')));

  // One error shape; unknown errors are logged with their cause and answered as INTERNAL.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e = requestError(err) ?? mapDbError(err);
    if (!(e instanceof AppError)) {
      log.error({ err, requestId: res.locals.requestId, method: req.method, path: req.path }, 'unhandled error');
      e = new AppError('INTERNAL', 'internal error');
    } else if (e.status >= 500) {
      log.warn({ code: e.code, cause: (e.cause as Error | undefined)?.message, requestId: res.locals.requestId }, 'request failed');
    }
    const ae = e as AppError;
    res.status(ae.status).json({ error: { code: ae.code, message: ae.message, ...(ae.details ? { details: ae.details } : {}) } });
  });

  return { app, registry, openapi };
}

/**
 * Errors Express raises before a route runs, as client errors: the router's URIError (status
 * 400) for a path parameter with malformed percent-encoding, and body-parser's http-errors
 * (4xx, `expose`; a body that does not decompress is the zlib error, wrapped with status 400).
 */
function requestError(err: unknown): AppError | undefined {
  const h = err as { type?: string; status?: number; expose?: boolean } | null;
  if (err instanceof URIError && h?.status === 400) {
    return new AppError('VALIDATION_FAILED', 'a path parameter has malformed percent-encoding', { errors: [{ path: 'params', message: 'malformed percent-encoding' }] });
  }
  if (!h || typeof h !== 'object' || h.expose !== true || typeof h.status !== 'number' || h.status < 400 || h.status > 499) return undefined;
  if (h.type === 'entity.parse.failed') return new AppError('BAD_JSON', 'the body is not valid JSON');
  if (h.type === 'entity.too.large' || h.status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'the body is too large');
  if (h.type === 'encoding.unsupported') return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Encoding: send gzip, deflate, br or none');
  if (h.type === 'charset.unsupported' || h.status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body charset: send UTF-8');
  return new AppError('BAD_REQUEST', 'the body could not be read: truncated, or not compressed as its Content-Encoding says');
}
