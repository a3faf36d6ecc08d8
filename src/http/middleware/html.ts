/**
 * What every HTML surface (portal, dashboard) runs before its routes: security headers, form
 * bodies (urlencoded, small), and the CSRF check of unsafe requests. Their errors are pages.
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import { STYLE_SOURCE } from '../html';
import type { Csrf } from './csrf';
import { multipartForm } from './multipart';
import { htmlErrors } from './errors';

/** Nothing but our own inline style and forms to ourselves; no framing; violations reported. */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src ${STYLE_SOURCE}; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; report-uri /callbacks/csp-report`;

const headers =
  (policy: string): RequestHandler =>
  (_req, res, next) => {
    res.set({
      'Content-Security-Policy': policy,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    next();
  };

/**
 * Mounts `routes` behind the HTML middleware, with an HTML 404 and error page after them. A
 * surface that serves its own scripts or styles passes its own `contentSecurityPolicy`.
 */
export function htmlSurface(o: {
  csrf: Csrf;
  log: Logger;
  routes: (router: Router) => void;
  contentSecurityPolicy?: string;
  /** Accept multipart/form-data bodies up to this many bytes (the dashboard's logo upload). */
  uploadLimit?: number;
}): Router {
  const router = express.Router();
  router.use(headers(o.contentSecurityPolicy ?? CONTENT_SECURITY_POLICY));
  router.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }));
  if (o.uploadLimit !== undefined) router.use(multipartForm({ limit: o.uploadLimit, maxParts: 4 }));
  router.use(o.csrf.verify());
  o.routes(router);
  router.use((_req, _res, next) => next(new AppError('ROUTE_NOT_FOUND', 'no such page')));
  router.use(htmlErrors(o.log));
  return router;
}
