/**
 * The staff dashboard (HTML): sign in with email and password (the same login, throttle and
 * token as the API), the token kept in an HttpOnly, SameSite=Strict cookie scoped to /dashboard
 * that expires with the token (Secure on HTTPS and always in production: cookies.ts), signing
 * out ends the token itself. Every change is a form post with the CSRF token
 * (middleware/csrf.ts); without it the surface answers 403 CSRF_FAILED.
 *
 * Page modules: src/http/dashboard/pages/<name>.ts each export
 * `register<Name>Pages(r: Router, ctx: DashboardContext)` (the contract is in layout.ts) and are
 * registered below with one line each, after the session guard: a request without a valid
 * session cookie is redirected to the login page before any page module sees it.
 */
import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import type { Services } from '../../modules/services';
import { actorOf, type Principal } from '../../modules/tenancy/principals';
import { Login } from '../../modules/tenancy/tenancy.schemas';
import { compileBody } from '../validation';
import { html, page, STYLE_SOURCE } from '../html';
import { clearCookie, cookie, setCookie, type CookieRules } from '../middleware/cookies';
import { CSRF_FIELD, type Csrf } from '../middleware/csrf';
import { htmlSurface } from '../middleware/html';
import { MAX_LOGO_BYTES } from '../../modules/portal/logo';
import { serveAsset } from './assets';
import { DASHBOARD_PATH, renderLayout, type DashboardContext, type DashboardTenant, type Flash } from './layout';
import { registerEnforcementPages } from './pages/enforcement';
import { registerOverviewPages } from './pages/overview';
import { registerPlatformPages } from './pages/platform';
import { registerReportsPages } from './pages/reports';
import { registerSessionsPages } from './pages/sessions';
import { registerSubscribersPages } from './pages/subscribers';
import { registerPlansPages } from './pages/plans';
import { registerNasPages } from './pages/nas';
import { registerVouchersPages } from './pages/vouchers';
import { registerPaymentsPages } from './pages/payments';
import { registerSettingsPages } from './pages/settings';

export const SESSION_COOKIE = 'lango_session';
/** A platform admin's chosen tenant (a tenant id; checked on every request). */
export const TENANT_COOKIE = 'lango_dash_tenant';
const FLASH_COOKIE = 'lango_flash';
const PATH = DASHBOARD_PATH;
const validLogin = compileBody(Login);

/**
 * The dashboard's own policy: scripts and styles from /dashboard/assets (charts), the shared
 * inline style of error pages, nothing from elsewhere; JSON data blocks are not scripts.
 */
export const DASHBOARD_CSP = `default-src 'none'; script-src 'self'; style-src 'self' ${STYLE_SOURCE}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; report-uri /callbacks/csp-report`;

export interface DashboardOptions {
  services: Services;
  csrf: Csrf;
  cookies: CookieRules;
  /** Lifetime of the session cookie: the token's. */
  sessionSeconds: number;
  log: Logger;
}

interface Signed {
  principal: Principal;
  label: string;
  tenant?: DashboardTenant;
}

function loginPage(token: string, o: { email?: string; error?: string } = {}): string {
  return page(
    'Sign in - Lango',
    html`<h1>Sign in</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form method="post" action="${PATH}/login">
<input type="hidden" name="${CSRF_FIELD}" value="${token}">
<p><label>Email <input type="email" name="email" value="${o.email ?? ''}" required autocomplete="username"></label></p>
<p><label>Password <input type="password" name="password" required autocomplete="current-password"></label></p>
<p><label>Tenant (only if asked) <input name="tenant" autocomplete="organization"></label></p>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

const MAX_FLASH = 300;

function readFlash(req: Request): Flash | undefined {
  const raw = cookie(req, FLASH_COOKIE);
  if (!raw) return undefined;
  try {
    const f = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Flash>;
    if ((f.kind === 'ok' || f.kind === 'error') && typeof f.text === 'string')
      return { kind: f.kind, text: f.text.slice(0, MAX_FLASH) };
  } catch {
    // not ours: ignored (and cleared)
  }
  return undefined;
}

export function dashboardSurface(o: DashboardOptions): Router {
  const s = o.services;

  /** The signed-in principal, or null (a stale or revoked cookie is dropped). */
  async function signedIn(req: Request, res: Response): Promise<Principal | null> {
    const token = cookie(req, SESSION_COOKIE);
    if (!token) return null;
    try {
      return await s.authenticator.authenticate(token);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 401) throw err;
      clearCookie(req, res, o.cookies, SESSION_COOKIE, PATH);
      return null;
    }
  }

  /** The tenant pages act on: the staff member's own, or a platform admin's chosen one. */
  async function actingTenant(req: Request, res: Response, p: Principal): Promise<DashboardTenant | undefined> {
    let id = p.tenantId;
    if (id === null) {
      const chosen = cookie(req, TENANT_COOKIE);
      if (!chosen || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(chosen)) return undefined;
      id = chosen;
    }
    try {
      const t = await s.tenants.get(p, id);
      return { id: t.id, name: t.name, timeZone: t.timeZone, currency: t.currency };
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 404 || p.tenantId !== null) throw err;
      clearCookie(req, res, o.cookies, TENANT_COOKIE, PATH);
      return undefined;
    }
  }

  /** The session guard: every page module's route runs after it. */
  async function guard(req: Request, res: Response, next: NextFunction): Promise<void> {
    const p = await signedIn(req, res);
    if (!p) {
      if (req.method === 'GET') return res.redirect(303, `${PATH}/login`);
      throw new AppError('UNAUTHENTICATED', 'your session has ended; sign in again');
    }
    const [user, tenant] = await Promise.all([
      p.kind === 'user' ? s.users.get(p.id) : Promise.resolve(null),
      actingTenant(req, res, p),
    ]);
    const signed: Signed = { principal: p, label: user?.email ?? p.id, ...(tenant ? { tenant } : {}) };
    res.locals.dashboard = signed;
    next();
  }

  const signedOf = (res: Response): Signed => {
    const v = res.locals.dashboard as Signed | undefined;
    if (!v) throw new Error('dashboard page used outside the session guard');
    return v;
  };
  const tenantOf = (res: Response): DashboardTenant => {
    const t = signedOf(res).tenant;
    if (!t) throw new AppError('TENANT_REQUIRED', 'choose a tenant on the Platform page first');
    return t;
  };

  const ctx: DashboardContext = {
    services: s,
    log: o.log,
    principal: (res) => signedOf(res).principal,
    tenant: tenantOf,
    maybeTenant: (res) => signedOf(res).tenant,
    tenantId: (res) => tenantOf(res).id,
    csrfToken: (req, res) => o.csrf.token(req, res),
    chooseTenant(req, res, tenantId) {
      if (tenantId === null) clearCookie(req, res, o.cookies, TENANT_COOKIE, PATH);
      else setCookie(req, res, o.cookies, TENANT_COOKIE, tenantId, { path: PATH, sameSite: 'strict' });
    },
    render(req, res, v) {
      const signed = signedOf(res);
      const flash = readFlash(req);
      if (cookie(req, FLASH_COOKIE) !== undefined) clearCookie(req, res, o.cookies, FLASH_COOKIE, PATH);
      res
        .status(v.status ?? 200)
        .type('html')
        .send(
          renderLayout({
            title: v.title,
            ...(v.nav ? { nav: v.nav } : {}),
            body: v.body,
            who: {
              principal: signed.principal,
              label: signed.label,
              ...(signed.tenant ? { tenantName: signed.tenant.name } : {}),
            },
            csrfToken: o.csrf.token(req, res),
            ...(flash ? { flash } : {}),
            ...(v.scripts ? { scripts: v.scripts } : {}),
          }),
        );
    },
    redirect(req, res, path, flash) {
      if (flash) {
        const value = Buffer.from(JSON.stringify({ kind: flash.kind, text: flash.text.slice(0, MAX_FLASH) })).toString(
          'base64url',
        );
        setCookie(req, res, o.cookies, FLASH_COOKIE, value, { path: PATH, sameSite: 'strict', maxAgeSeconds: 60 });
      }
      res.redirect(303, `${PATH}${path}`);
    },
  };

  return htmlSurface({
    csrf: o.csrf,
    log: o.log,
    contentSecurityPolicy: DASHBOARD_CSP,
    // The logo (at most 200 KB) and the form's fields and boundaries.
    uploadLimit: MAX_LOGO_BYTES + 16 * 1024,
    routes: (r) => {
      r.get('/assets/:hash/:name', serveAsset);

      r.get('/login', (req, res) => {
        res.type('html').send(loginPage(o.csrf.token(req, res)));
      });

      r.post('/login', async (req, res) => {
        const form = req.body as Record<string, unknown>;
        const input: Record<string, unknown> = { email: form.email, password: form.password };
        if (typeof form.tenant === 'string' && form.tenant !== '') input.tenant = form.tenant;
        const again = (status: number, error: string) =>
          res
            .status(status)
            .type('html')
            .send(
              loginPage(o.csrf.token(req, res), { email: typeof form.email === 'string' ? form.email : '', error }),
            );
        if (!validLogin(input)) return again(400, 'Enter an email address and a password.');
        try {
          const { token } = await s.users.login(input as Login, req.ip ?? req.socket.remoteAddress ?? 'unknown');
          setCookie(req, res, o.cookies, SESSION_COOKIE, token, {
            path: PATH,
            sameSite: 'strict',
            maxAgeSeconds: o.sessionSeconds,
          });
          res.redirect(303, `${PATH}/`);
        } catch (err) {
          if (!(err instanceof AppError) || err.status >= 500) throw err;
          if (err.code === 'RATE_LIMITED') res.set('Retry-After', String(err.details?.retryAfterSeconds ?? 60));
          again(err.status, err.message);
        }
      });

      r.post('/logout', async (req, res) => {
        const p = await signedIn(req, res);
        if (p?.kind === 'user') await s.users.logout(actorOf(p), p.id);
        clearCookie(req, res, o.cookies, SESSION_COOKIE, PATH);
        clearCookie(req, res, o.cookies, TENANT_COOKIE, PATH);
        res.redirect(303, `${PATH}/login`);
      });

      r.use(guard);
      // Page modules, one line each (contract: layout.ts).
      registerOverviewPages(r, ctx);
      registerSessionsPages(r, ctx);
      registerEnforcementPages(r, ctx);
      registerReportsPages(r, ctx);
      registerPlatformPages(r, ctx);
      registerSubscribersPages(r, ctx);
      registerPlansPages(r, ctx);
      registerNasPages(r, ctx);
      registerVouchersPages(r, ctx);
      registerPaymentsPages(r, ctx);
      registerSettingsPages(r, ctx);
    },
  });
}
