/**
 * CSRF protection of the HTML surfaces' forms: the signed double-submit cookie (OWASP). Every
 * page view makes sure the browser holds a random `lango_csrf` cookie (HttpOnly, SameSite=Strict)
 * and puts HMAC(key, cookie) into its forms; an unsafe request (POST and the like) must send
 * that token back (form field `_csrf`, or header X-CSRF-Token). Another site can make a browser
 * send the cookie but cannot read it, nor compute the token without the key; a cookie planted
 * by a sibling domain has no valid token either. Refusals are CSRF_FAILED (403).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { AppError } from '../../lib/errors';
import { cookie, setCookie, type CookieRules } from './cookies';

export const CSRF_COOKIE = 'lango_csrf';
export const CSRF_FIELD = '_csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Csrf {
  private readonly key: Buffer;

  /** `secret`: a server secret (the key is derived from it for this use only). */
  constructor(
    secret: string,
    private readonly rules: CookieRules,
  ) {
    this.key = createHmac('sha256', secret).update('lango csrf v1').digest();
  }

  private sign(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  /** The token for this browser's forms (sets the cookie when it has none). */
  token(req: Request, res: Response): string {
    let value = (res.locals.csrfCookie as string | undefined) ?? cookie(req, CSRF_COOKIE);
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      setCookie(req, res, this.rules, CSRF_COOKIE, value, { path: '/', sameSite: 'strict' });
    }
    res.locals.csrfCookie = value;
    return this.sign(value);
  }

  /** Refuses unsafe requests whose token does not match their cookie. */
  verify(): RequestHandler {
    return (req, _res, next) => {
      if (SAFE.has(req.method)) return next();
      const value = cookie(req, CSRF_COOKIE);
      const body = req.body as Record<string, unknown> | undefined;
      const sent =
        req.get('x-csrf-token') ?? (typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : undefined);
      if (!value || !sent)
        return next(
          new AppError('CSRF_FAILED', 'the form is missing its security token; reload the page and try again'),
        );
      const want = Buffer.from(this.sign(value));
      const got = Buffer.from(sent);
      if (want.length !== got.length || !timingSafeEqual(want, got))
        return next(new AppError('CSRF_FAILED', 'the form has expired; reload the page and try again'));
      next();
    };
  }
}
