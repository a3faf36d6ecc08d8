/**
 * The staff dashboard (HTML): sign in with email and password (the same login, throttle and
 * token as the API), the token kept in an HttpOnly cookie scoped to /dashboard, and a first
 * page with the figures of the tenant. Forms carry the CSRF token (middleware/csrf.ts).
 */
import type { Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../lib/errors';
import type { Services } from '../../modules/services';
import { actorOf, type Principal } from '../../modules/tenancy/principals';
import { Login } from '../../modules/tenancy/tenancy.schemas';
import { compileBody } from '../validation';
import { html, page, type SafeHtml } from '../html';
import { clearCookie, cookie, setCookie, type CookieRules } from '../middleware/cookies';
import { CSRF_FIELD, type Csrf } from '../middleware/csrf';
import { htmlSurface } from '../middleware/html';

export const SESSION_COOKIE = 'lango_session';
const PATH = '/dashboard';
const validLogin = compileBody(Login);

export interface DashboardOptions {
  services: Services;
  csrf: Csrf;
  cookies: CookieRules;
  /** Lifetime of the session cookie: the token's. */
  sessionSeconds: number;
  log: Logger;
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

  async function figures(p: Principal): Promise<SafeHtml> {
    const one = { limit: 1, offset: 0 };
    if (!p.tenantId) {
      const [tenants, pending] = await Promise.all([s.tenants.list(1, 0), s.nas.pendingApprovals(1, 0)]);
      return html`<table><tr><th>Tenants</th><td>${tenants.page.total}</td></tr><tr><th>NAS waiting for approval</th><td>${pending.page.total}</td></tr></table>`;
    }
    const [tenant, subscribers, live, plans] = await Promise.all([
      s.tenants.get(p, p.tenantId),
      s.subscribers.list(p.tenantId, one),
      s.sessions.listLive(p.tenantId, one),
      s.plans.list(p.tenantId, { ...one, active: true }),
    ]);
    return html`<h2>${tenant.name}</h2><table><tr><th>Subscribers</th><td>${subscribers.page.total}</td></tr>
<tr><th>Online now</th><td>${live.page.total}</td></tr><tr><th>Plans on sale</th><td>${plans.page.total}</td></tr></table>`;
  }

  return htmlSurface({
    csrf: o.csrf,
    log: o.log,
    routes: (r) => {
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
        res.redirect(303, `${PATH}/login`);
      });

      r.get('/', async (req, res) => {
        const p = await signedIn(req, res);
        if (!p) return res.redirect(303, `${PATH}/login`);
        const user = p.kind === 'user' ? await s.users.get(p.id) : null;
        const token = o.csrf.token(req, res);
        res.type('html').send(
          page(
            'Lango',
            html`<h1>Lango</h1><p>Signed in as ${user?.email ?? p.id} (${p.role.replace('_', ' ')})</p>
${await figures(p)}
<form method="post" action="${PATH}/logout"><input type="hidden" name="${CSRF_FIELD}" value="${token}"><p><button type="submit">Sign out</button></p></form>`,
          ),
        );
      });
    },
  });
}
