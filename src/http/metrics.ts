/**
 * /metrics in Prometheus's text format (prom-client): HTTP latency by route (the Express route
 * pattern, never the raw path, so ids do not explode the label space), process metrics, and
 * figures read from the database on each scrape (ReportsService.operational): RADIUS
 * authentication outcomes per tenant (cumulative, from the auth_daily rollup), enforcement
 * outcomes of the last 24 hours, the outbox's due queue and open sessions per tenant.
 * docs/grafana/lango.json is a dashboard over these names.
 */
import type { NextFunction, Request, Response, RequestHandler } from 'express';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Services } from '../modules/services';

export interface Metrics {
  /** Times every request; mount first. */
  middleware: RequestHandler;
  /** GET /metrics. */
  handler: RequestHandler;
}

function routeOf(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

export function createMetrics(o: { db: Knex; services: Services; token?: string }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lango_' });
  const http = new Histogram({
    name: 'lango_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const auth = new Gauge({
    name: 'lango_radius_auth_attempts',
    help: 'Authentication outcomes since the start (cumulative; use rate()), per tenant and reply',
    labelNames: ['tenant', 'reply'],
    registers: [registry],
  });
  const enforcement = new Gauge({
    name: 'lango_enforcement_actions_24h',
    help: 'CoA/Disconnect actions created in the last 24 hours, by kind and status',
    labelNames: ['kind', 'status'],
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'lango_enforcement_queue_depth',
    help: 'Pending enforcement actions that are due',
    registers: [registry],
  });
  const oldest = new Gauge({
    name: 'lango_enforcement_queue_oldest_due_seconds',
    help: 'How long the oldest due action has waited',
    registers: [registry],
  });
  const open = new Gauge({
    name: 'lango_sessions_open',
    help: 'Open accounting sessions per tenant',
    labelNames: ['tenant'],
    registers: [registry],
  });

  const middleware: RequestHandler = (req, res, next) => {
    const end = http.startTimer();
    res.on('finish', () => end({ method: req.method, route: routeOf(req), status: String(res.statusCode) }));
    next();
  };

  const handler = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      if (o.token !== undefined && req.get('authorization') !== `Bearer ${o.token}`) {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer')
          .type('text/plain')
          .send('metrics need the bearer token (LANGO_METRICS_TOKEN)\n');
        return;
      }
      const snap = await o.services.reports.operational(o.db);
      auth.reset();
      for (const r of snap.auth) auth.set({ tenant: r.tenant, reply: r.reply || 'none' }, r.attempts);
      enforcement.reset();
      for (const r of snap.enforcement) enforcement.set({ kind: r.kind, status: r.status }, r.actions);
      depth.set(snap.queue.depth);
      oldest.set(snap.queue.oldestDueSeconds);
      open.reset();
      for (const r of snap.openSessions) open.set({ tenant: r.tenant }, r.sessions);
      res.type(registry.contentType).send(await registry.metrics());
    } catch (err) {
      next(err);
    }
  };
  return { middleware, handler: (req, res, next) => void handler(req, res, next) };
}
