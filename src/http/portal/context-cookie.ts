/**
 * The device's router context between the portal's pages: the checked redirect (router-context.ts)
 * kept in an HttpOnly cookie under /portal/<slug>, signed (HMAC of a key derived from the
 * server secret) and bound to the tenant, so a buyer cannot edit it nor carry it to another
 * tenant's portal. It expires with the router's CHAP challenge's usefulness (an hour).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { RouterContext } from '../../modules/portal/portal.schemas';
import { cookie, setCookie, type CookieRules } from '../middleware/cookies';

export const CONTEXT_COOKIE = 'lango_portal';
const MAX_AGE_SECONDS = 3600;

interface Stored {
  t: string;
  at: number;
  c: RouterContext;
  /** Payments started from this browser (the status page shows only these). */
  p?: string[];
}

export class ContextCookie {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly rules: CookieRules,
    private readonly now: () => number,
  ) {
    this.key = createHmac('sha256', secret).update('lango portal context v1').digest();
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  private write(req: Request, res: Response, slug: string, s: Stored): void {
    const body = Buffer.from(JSON.stringify(s)).toString('base64url');
    setCookie(req, res, this.rules, CONTEXT_COOKIE, `${body}.${this.sign(body)}`, {
      path: `/portal/${slug}`,
      maxAgeSeconds: MAX_AGE_SECONDS,
      sameSite: 'lax',
    });
  }

  private read(req: Request, tenantId: string): Stored | undefined {
    const v = cookie(req, CONTEXT_COOKIE);
    if (!v || v.length > 3800) return undefined;
    const [body, sig] = v.split('.');
    if (!body || !sig) return undefined;
    const want = Buffer.from(this.sign(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    try {
      const s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Stored;
      if (s.t !== tenantId || this.now() - s.at > MAX_AGE_SECONDS * 1000) return undefined;
      return s;
    } catch {
      return undefined;
    }
  }

  set(req: Request, res: Response, slug: string, tenantId: string, c: RouterContext): void {
    this.write(req, res, slug, { t: tenantId, at: this.now(), c });
  }

  get(req: Request, tenantId: string): RouterContext | undefined {
    return this.read(req, tenantId)?.c;
  }

  payments(req: Request, tenantId: string): string[] {
    return this.read(req, tenantId)?.p ?? [];
  }

  addPayment(req: Request, res: Response, slug: string, tenantId: string, paymentId: string): void {
    const s = this.read(req, tenantId);
    if (!s) return;
    this.write(req, res, slug, { ...s, p: [paymentId, ...(s.p ?? []).filter((p) => p !== paymentId)].slice(0, 5) });
  }
}
