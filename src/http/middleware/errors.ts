/**
 * One error shape, {"error": {"code", "message", "details"}}, from the catalogue (lib/errors.ts);
 * HTML surfaces answer the same status and code as a page. Unknown errors are logged with their
 * cause and answered as INTERNAL: a driver's, a router's or a stack's text never reaches a client.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import { mapDbError } from '../../db/errors';
import { errorPage } from '../html';

/**
 * Errors Express raises before a route runs, as client errors: the router's URIError (status
 * 400) for a path parameter with malformed percent-encoding, and body-parser's http-errors
 * (4xx, `expose`; a body that does not decompress is the zlib error, wrapped with status 400).
 */
export function requestError(err: unknown): AppError | undefined {
  const h = err as { type?: string; status?: number; expose?: boolean } | null;
  if (err instanceof URIError && h?.status === 400) {
    return new AppError('VALIDATION_FAILED', 'a path parameter has malformed percent-encoding', {
      errors: [{ path: 'params', message: 'malformed percent-encoding' }],
    });
  }
  if (
    !h ||
    typeof h !== 'object' ||
    h.expose !== true ||
    typeof h.status !== 'number' ||
    h.status < 400 ||
    h.status > 499
  )
    return undefined;
  if (h.type === 'entity.parse.failed') return new AppError('BAD_JSON', 'the body is not valid JSON');
  if (h.type === 'entity.too.large' || h.status === 413)
    return new AppError('PAYLOAD_TOO_LARGE', 'the body is too large');
  if (h.type === 'encoding.unsupported')
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Encoding: send gzip, deflate, br or none');
  if (h.type === 'charset.unsupported' || h.status === 415)
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body charset: send UTF-8');
  return new AppError(
    'BAD_REQUEST',
    'the body could not be read: truncated, or not compressed as its Content-Encoding says',
  );
}

/** `err` as the AppError the client is told (logged here when it is not one, or a 5xx). */
function toAppError(err: unknown, req: Request, res: Response, log: Logger): AppError {
  const e = requestError(err) ?? mapDbError(err);
  if (!(e instanceof AppError)) {
    log.error({ err, requestId: res.locals.requestId, method: req.method, path: req.path }, 'unhandled error');
    return new AppError('INTERNAL', 'internal error');
  }
  if (e.status >= 500)
    log.warn(
      { code: e.code, cause: (e.cause as Error | undefined)?.message, requestId: res.locals.requestId },
      'request failed',
    );
  return e;
}

/** A rate limit says when to come back. */
function retryAfter(res: Response, e: AppError): void {
  const seconds = e.details?.retryAfterSeconds;
  if (e.code === 'RATE_LIMITED' && typeof seconds === 'number') res.set('Retry-After', String(seconds));
}

export function jsonErrors(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toAppError(err, req, res, log);
    retryAfter(res, e);
    res
      .status(e.status)
      .json({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } });
  };
}

export function htmlErrors(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toAppError(err, req, res, log);
    retryAfter(res, e);
    res
      .status(e.status)
      .type('html')
      .send(errorPage(e.status, e.code, e.message));
  };
}
