/**
 * Inbound callbacks: requests other systems send us, not our users. Each route reads its body
 * raw (middleware/raw-body.ts: a size limit, the content types it expects), so the bytes can be
 * kept as received before anything is made of them; answers and errors are JSON. The payment
 * provider's callbacks (Daraja) come here; the first route is the browsers' Content Security
 * Policy reports for the HTML surfaces (middleware/html.ts points report-uri here); Daraja's
 * are in mpesa.ts (they read their own bodies: any type is stored, then answered).
 */
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import { jsonErrors } from '../middleware/errors';
import { rawBody } from '../middleware/raw-body';
import type { PaymentsService } from '../../modules/payments/payments.service';
import { mpesaCallbacks, type MpesaCallbackOptions } from './mpesa';

/** CSP level 2 (application/csp-report) and the Reporting API (application/reports+json). */
const CSP_TYPES = ['application/csp-report', 'application/reports+json', 'application/json'];
const MAX_REPORTS = 20;

const clip = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 300) : undefined);

/** The violations a report body names, in one shape; garbage is skipped. */
export function cspViolations(body: unknown): Array<{ document?: string; blocked?: string; directive?: string }> {
  const items = Array.isArray(body) ? body : [body];
  const out: Array<{ document?: string; blocked?: string; directive?: string }> = [];
  for (const item of items.slice(0, MAX_REPORTS)) {
    if (!item || typeof item !== 'object') continue;
    const legacy = (item as Record<string, unknown>)['csp-report'];
    if (legacy && typeof legacy === 'object') {
      const r = legacy as Record<string, unknown>;
      out.push({
        document: clip(r['document-uri']),
        blocked: clip(r['blocked-uri']),
        directive: clip(r['effective-directive'] ?? r['violated-directive']),
      });
      continue;
    }
    const { type, body: b } = item as { type?: unknown; body?: unknown };
    if (type === 'csp-violation' && b && typeof b === 'object') {
      const r = b as Record<string, unknown>;
      out.push({ document: clip(r.documentURL), blocked: clip(r.blockedURL), directive: clip(r.effectiveDirective) });
    }
  }
  return out;
}

export function callbacksSurface(o: { log: Logger; payments: PaymentsService; mpesa: MpesaCallbackOptions }): Router {
  const router = express.Router();
  const log = o.log.child({ surface: 'callbacks' });

  router.post('/csp-report', ...rawBody({ limit: '16kb', types: CSP_TYPES }), (req, res) => {
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody!.toString('utf8'));
    } catch {
      throw new AppError('BAD_JSON', 'the body is not valid JSON');
    }
    for (const v of cspViolations(body)) log.warn({ csp: v }, 'content security policy violation');
    res.status(204).end();
  });

  router.use(mpesaCallbacks({ payments: o.payments, log: o.log, options: o.mpesa }));

  router.use((_req, _res, next) => next(new AppError('ROUTE_NOT_FOUND', 'no such route')));
  router.use(jsonErrors(o.log));
  return router;
}
