/**
 * /metrics in Prometheus's text format (prom-client): HTTP latency by route (the Express route
 * pattern, never the raw path, so ids do not explode the label space), process metrics, and
 * figures read from the database on each scrape (ReportsService.operational): RADIUS
 * authentication outcomes per tenant (cumulative, from the auth_daily rollup), enforcement
 * outcomes of the last 24 hours, the outbox's due queue and open sessions per tenant, payments
 * and SMS of the last 24 hours by outcome, the SMS queue, and the settlement lag of STK payments.
 * Every figure comes from the database, not from this process: several api and worker processes
 * share the work, and any one of them answers a scrape with the same numbers.
 *
 * Settlement lag is a gauge of recent quantiles (p50/p95/max over the STK payments settled in the
 * last hour, by callback or STK Query; an expiry is not a settlement), not a histogram: a
 * histogram would count only what the scraped process settled, and the callback lands on an api
 * process while the query runs in the worker (docs/decisions.md 75).
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
  /** What /metrics serves (tests/unit/core/grafana-dashboard.test.ts checks the dashboard against it). */
  registry: Registry;
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

  const payments = new Gauge({
    name: 'lango_payments_24h',
    help: 'Payments created in the last 24 hours, per tenant, channel (stk, c2b, manual) and state',
    labelNames: ['tenant', 'channel', 'state'],
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'lango_payment_settlement_lag_seconds',
    help: 'Seconds from STK push to its outcome (callback or query), over the STK payments settled in the last hour',
    labelNames: ['quantile'],
    registers: [registry],
  });
  const lagSamples = new Gauge({
    name: 'lango_payment_settlement_lag_samples',
    help: 'STK payments settled in the last hour that the settlement lag quantiles are computed over',
    registers: [registry],
  });
  const sms = new Gauge({
    name: 'lango_sms_24h',
    help: 'SMS queued in the last 24 hours, per tenant and status (pending, sending, sent, failed)',
    labelNames: ['tenant', 'status'],
    registers: [registry],
  });
  const smsDepth = new Gauge({
    name: 'lango_sms_queue_depth',
    help: 'SMS waiting to be sent that are due',
    registers: [registry],
  });
  const smsOldest = new Gauge({
    name: 'lango_sms_queue_oldest_due_seconds',
    help: 'How long the oldest due SMS has waited',
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
      payments.reset();
      for (const r of snap.payments) payments.set({ tenant: r.tenant, channel: r.channel, state: r.state }, r.payments);
      lag.set({ quantile: '0.5' }, snap.settlement.p50);
      lag.set({ quantile: '0.95' }, snap.settlement.p95);
      lag.set({ quantile: '1' }, snap.settlement.max);
      lagSamples.set(snap.settlement.samples);
      sms.reset();
      for (const r of snap.sms) sms.set({ tenant: r.tenant, status: r.status }, r.messages);
      smsDepth.set(snap.smsQueue.depth);
      smsOldest.set(snap.smsQueue.oldestDueSeconds);
      res.type(registry.contentType).send(await registry.metrics());
    } catch (err) {
      next(err);
    }
  };
  return { middleware, handler: (req, res, next) => void handler(req, res, next), registry };
}
