/**
 * Inbound callbacks keep the body exactly as sent (a payment provider's callback is stored
 * before it is parsed, and signatures are computed over the bytes): read raw, up to a limit,
 * only in the content types the route expects. Too large: PAYLOAD_TOO_LARGE (413, and nothing
 * more is read); another type: UNSUPPORTED_MEDIA_TYPE (415).
 */
import express, { type RequestHandler } from 'express';
import { AppError } from '../../lib/errors';

declare module 'express-serve-static-core' {
  interface Request {
    /** The body's bytes (callbacks only: raw-body.ts). */
    rawBody?: Buffer;
  }
}

export function rawBody(o: { limit: string; types: readonly string[] }): RequestHandler[] {
  const types = new Set(o.types.map((t) => t.toLowerCase()));
  const typeOf = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();
  return [
    (req, _res, next) => {
      if (!types.has(typeOf(req.get('content-type')))) {
        return next(new AppError('UNSUPPORTED_MEDIA_TYPE', `send one of: ${[...types].join(', ')}`));
      }
      next();
    },
    // inflate off: the bytes as sent are the record (a provider that compresses is refused).
    express.raw({ type: () => true, limit: o.limit, inflate: false }),
    (req, _res, next) => {
      req.rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      next();
    },
  ];
}
