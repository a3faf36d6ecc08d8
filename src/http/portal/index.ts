/**
 * The captive portal (docs: src/modules/portal/CONTEXT.md). The tenant is the path segment
 * (/portal/<slug>), never a parameter. A device arrives from its router's login.html with the
 * router's parameters; they are checked (the login address must be one of the tenant's
 * routers), kept in a signed cookie and dropped from the address bar (303 to the clean page).
 * The buyer picks a package and pays, or types a voucher, or restores a payment; the last page
 * posts the CHAP login to the router (pages.ts loginBody). Every form carries the CSRF token.
 */
import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import { chapResponse } from '../../modules/portal/chap';
import {
  PaidEntry,
  PayEntry,
  RouterRedirect,
  TrialEntry,
  VoucherEntry,
  type RouterContext,
} from '../../modules/portal/portal.schemas';
import { PORTAL_ACTOR } from '../../modules/portal/portal.service';
import type { HotspotLogin } from '../../modules/portal/portal.service';
import { hasRouterParameters } from '../../modules/portal/router-context';
import type { Services } from '../../modules/services';
import type { TenantView } from '../../modules/tenancy/tenancy.schemas';
import { setCookie, type CookieRules } from '../middleware/cookies';
import type { Csrf } from '../middleware/csrf';
import { htmlSurface } from '../middleware/html';
import { compileBody, compileQuery } from '../validation';
import { ContextCookie } from './context-cookie';
import { isLang, LANG_COOKIE, pickLang, WORDS } from './i18n';
import { failedBody, failureText, homeBody, loginBody, messageBody, send, waitingBody, type Shell } from './pages';

export interface PortalOptions {
  services: Services;
  csrf: Csrf;
  cookies: CookieRules;
  /** The server secret the context cookie's key is derived from. */
  secret: string;
  log: Logger;
}

const validRedirect = compileQuery(RouterRedirect);
const validVoucher = compileBody(VoucherEntry);
const validPay = compileBody(PayEntry);
const validPaid = compileBody(PaidEntry);
const validTrial = compileBody(TrialEntry);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Errors the buyer can act on: shown on the portal's own page, in their language. */
const BUYER_ERRORS = new Set([
  'PORTAL_REDIRECT_INVALID',
  'PORTAL_NO_DEVICE',
  'VOUCHER_NOT_FOUND',
  'INVALID_STATE',
  'RATE_LIMITED',
  'VALIDATION_FAILED',
  'PLAN_NOT_FOUND',
  'PAYMENT_PROVIDER_ERROR',
  'NOT_CONFIGURED',
  'PAYMENT_NOT_FOUND',
]);

export function portalSurface(o: PortalOptions): Router {
  const ctxCookie = new ContextCookie(o.secret, o.cookies, () => Date.now());
  const { services } = o;

  async function shell(req: Request, res: Response, path: string): Promise<{ sh: Shell; tenant: TenantView }> {
    const tenant = await services.tenants.portalTenant(String(req.params.slug));
    const settings = await services.portal.settings(tenant.id);
    const lang = pickLang(req);
    if (isLang(req.query.lang))
      setCookie(req, res, o.cookies, LANG_COOKIE, lang, {
        path: '/portal',
        maxAgeSeconds: 365 * 86400,
        sameSite: 'lax',
      });
    return {
      tenant,
      sh: {
        lang,
        slug: tenant.slug,
        tenantName: tenant.name,
        currency: tenant.currency,
        settings,
        csrf: o.csrf.token(req, res),
        path,
      },
    };
  }

  /** An error the buyer can act on, as a page with the way back; others go to the error page. */
  function buyerError(res: Response, sh: Shell, err: unknown): void {
    if (!(err instanceof AppError) || !BUYER_ERRORS.has(err.code)) throw err;
    if (err.code === 'RATE_LIMITED' && typeof err.details?.retryAfterSeconds === 'number')
      res.set('Retry-After', String(err.details.retryAfterSeconds));
    send(res, sh, {
      title: WORDS[sh.lang].error,
      status: err.status,
      body: messageBody(sh, err.code === 'PORTAL_NO_DEVICE' ? WORDS[sh.lang].notOnWifi : err.message),
    });
  }

  function device(req: Request, tenantId: string): RouterContext {
    const ctx = ctxCookie.get(req, tenantId);
    if (!ctx) throw new AppError('PORTAL_NO_DEVICE', 'open the portal through the WiFi hotspot');
    return ctx;
  }

  function login(res: Response, sh: Shell, ctx: RouterContext, creds: HotspotLogin, message?: string): void {
    send(res, sh, {
      title: WORDS[sh.lang].connecting,
      scripts: ['login'],
      formTargets: [ctx.loginUrl, ...(ctx.dst ? [ctx.dst] : [])],
      body: loginBody(sh, {
        loginUrl: ctx.loginUrl,
        username: creds.username,
        password: creds.password,
        chapId: ctx.chapId,
        chapChallenge: ctx.chapChallenge,
        dst: ctx.dst,
        serverResponse: chapResponse(ctx.chapId, creds.password, ctx.chapChallenge),
        ...(message ? { message } : {}),
      }),
    });
  }

  return htmlSurface({
    csrf: o.csrf,
    log: o.log,
    routes: (r) => {
      // The tenant's logo: its checked bytes (PNG/JPEG/WebP), cacheable. The page asks for
      // ?v=<hash prefix>, which changes with the logo, so that address may be cached for a year.
      r.get('/:slug/logo', async (req, res) => {
        const tenant = await services.tenants.portalTenant(String(req.params.slug));
        const logo = await services.portal.logo(tenant.id);
        if (!logo) throw new AppError('ROUTE_NOT_FOUND', 'no logo');
        const etag = `"${logo.sha256}"`;
        res.set({
          ETag: etag,
          'Cache-Control':
            req.query.v === logo.sha256.slice(0, 16) ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
          'Content-Security-Policy': "default-src 'none'; sandbox",
          'Cross-Origin-Resource-Policy': 'same-origin',
        });
        if (req.get('if-none-match') === etag) {
          res.status(304).end();
          return;
        }
        res.type(logo.content_type).send(logo.bytes);
      });

      // The landing page, and the router's redirect to it.
      r.get('/:slug', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        const q = req.query as Record<string, unknown>;
        if (hasRouterParameters(q)) {
          try {
            if (!validRedirect(q))
              throw new AppError(
                'PORTAL_REDIRECT_INVALID',
                'the address from the router is malformed; reconnect to the WiFi and try again',
              );
            const ctx = await services.portal.routerContext(tenant.id, q as RouterRedirect & Record<string, unknown>);
            ctxCookie.set(req, res, tenant.slug, tenant.id, ctx);
          } catch (err) {
            return buyerError(res, sh, err);
          }
          return res.redirect(
            303,
            `/portal/${tenant.slug}${typeof q.error === 'string' && q.error ? `?error=${encodeURIComponent(q.error)}` : ''}`,
          );
        }
        const [plans, trial] = await Promise.all([
          services.portal.plans(tenant.id),
          services.portal.trialPlan(tenant.id),
        ]);
        const routerError = typeof q.error === 'string' ? q.error.slice(0, 200) : '';
        send(res, sh, {
          title: WORDS[sh.lang].choose,
          body: homeBody(sh, {
            plans,
            onHotspot: !!ctxCookie.get(req, tenant.id),
            canPay: true,
            canRestore: true,
            trial,
            ...(routerError ? { message: { text: routerError } } : {}),
          }),
        });
      });

      // A typed voucher code.
      r.post('/:slug/voucher', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        try {
          const ctx = device(req, tenant.id);
          if (!validVoucher(req.body)) throw new AppError('VALIDATION_FAILED', WORDS[sh.lang].code);
          const creds = await services.portal.voucherLogin(tenant.id, (req.body as { code: string }).code, ctx);
          login(res, sh, ctx, creds);
        } catch (err) {
          buyerError(res, sh, err);
        }
      });

      // "Already paid?": phone + M-Pesa receipt claims unallocated money or restores a running package here.
      r.post('/:slug/paid', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        try {
          const ctx = device(req, tenant.id);
          if (!validPaid(req.body)) throw new AppError('VALIDATION_FAILED', WORDS[sh.lang].paidHelp);
          const body = req.body as { phone: string; receipt: string };
          const r = await services.portal.restorePaid(tenant.id, body, ctx);
          login(res, sh, ctx, r, r.outcome === 'claimed' ? WORDS[sh.lang].claimedOk : WORDS[sh.lang].restoredOk);
        } catch (err) {
          buyerError(res, sh, err);
        }
      });

      // The free trial (when the tenant offers one): once per device and per phone per period.
      r.post('/:slug/trial', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        try {
          const ctx = device(req, tenant.id);
          if (!validTrial(req.body)) throw new AppError('VALIDATION_FAILED', WORDS[sh.lang].phone);
          const t = await services.portal.freeTrial(tenant.id, (req.body as { phone: string }).phone, ctx);
          login(res, sh, ctx, t, WORDS[sh.lang].trialOk);
        } catch (err) {
          buyerError(res, sh, err);
        }
      });

      // Pay with M-Pesa: the STK push to the phone, then the status page.
      r.post('/:slug/pay', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        try {
          device(req, tenant.id);
          if (!validPay(req.body)) throw new AppError('VALIDATION_FAILED', WORDS[sh.lang].phone);
          const body = req.body as { planId: string; phone: string };
          const buyer = await services.portal.walkInBuyer(tenant.id, body.planId, body.phone);
          const p = await services.stk.initiate(PORTAL_ACTOR, tenant.id, buyer, { portal: true });
          ctxCookie.addPayment(req, res, tenant.slug, tenant.id, p.id);
          res.redirect(303, `/portal/${tenant.slug}/pay/${p.id}`);
        } catch (err) {
          buyerError(res, sh, err);
        }
      });

      /** A payment this browser started (others are not found: ids do not travel between phones). */
      async function ownPayment(req: Request, tenantId: string) {
        const id = String(req.params.id);
        if (!UUID.test(id) || !ctxCookie.payments(req, tenantId).includes(id))
          throw new AppError('PAYMENT_NOT_FOUND', 'payment not found');
        return services.payments.get(tenantId, id);
      }

      r.get('/:slug/pay/:id/state', async (req, res) => {
        const tenant = await services.tenants.portalTenant(String(req.params.slug));
        const p = await ownPayment(req, tenant.id);
        res.json({ state: p.state });
      });

      r.get('/:slug/pay/:id', async (req, res) => {
        const { sh, tenant } = await shell(req, res, `/pay/${String(req.params.id)}`);
        try {
          const ctx = device(req, tenant.id);
          const p = await ownPayment(req, tenant.id);
          const self = `/portal/${tenant.slug}/pay/${p.id}`;
          if (p.state === 'pending') {
            return send(res, sh, {
              title: WORDS[sh.lang].waiting,
              scripts: ['poll'],
              refreshSeconds: 4,
              refreshUrl: self,
              body: waitingBody(sh, { pollUrl: `${self}/state`, nextUrl: self, state: p.state, amount: p.amount }),
            });
          }
          if (p.state === 'completed' && p.allocation === 'allocated' && p.subscriberId) {
            return login(
              res,
              sh,
              ctx,
              await services.portal.buyerLogin(tenant.id, p.subscriberId),
              WORDS[sh.lang].paidOk,
            );
          }
          const account = p.subscriberId
            ? (await services.subscribers.get(tenant.id, p.subscriberId)).accountNumber
            : null;
          const text = p.state === 'completed' ? p.message : failureText(sh, p.resultCode);
          send(res, sh, { title: WORDS[sh.lang].failed, body: failedBody(sh, { text, account }) });
        } catch (err) {
          buyerError(res, sh, err);
        }
      });

      // A voucher's QR code: a one-time token (used up here), never the code in the address.
      r.get('/:slug/voucher', async (req, res) => {
        const { sh, tenant } = await shell(req, res, '');
        try {
          // No device, no login: the token is kept for when the phone is on the hotspot.
          const ctx = device(req, tenant.id);
          const token = typeof req.query.token === 'string' ? req.query.token : '';
          const v = await services.vouchers.redeemLoginToken(tenant.id, token);
          login(res, sh, ctx, { username: v.code, password: v.code });
        } catch (err) {
          buyerError(res, sh, err);
        }
      });
    },
  });
}
