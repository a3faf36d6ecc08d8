/**
 * The staff dashboard's page shell, and the pieces every dashboard page uses.
 *
 * Contract for page modules (src/http/dashboard/pages/<name>.ts):
 *   export function register<Name>Pages(r: Router, ctx: DashboardContext): void
 * registered with one line in src/http/dashboard/index.ts. Every route a page module adds is
 * behind the session guard (index.ts mounts the modules after it), so inside a handler:
 *   - `ctx.principal(res)`: who is signed in (a Principal);
 *   - `ctx.tenantId(res)`: the tenant the page acts on: the staff member's own, or for a platform
 *     admin the one chosen on the Platform page (without one: TENANT_REQUIRED, shown as a page
 *     that links to Platform);
 *   - `ctx.tenant(res)` the same with name, time zone and currency; `ctx.maybeTenant(res)`;
 *   - `ctx.render(req, res, { title, nav, body })`: sends the page in this layout (navigation,
 *     the signed-in principal, a pending flash message, the stylesheet); `body` is SafeHtml built
 *     with html`` (src/http/html.ts), which escapes every value;
 *   - `ctx.csrfToken(req, res)` and `postForm(...)`/`csrfField(...)` below: every form that
 *     changes something posts with the CSRF token (the surface refuses one without: 403);
 *   - `ctx.redirect(res, path, flash?)`: post/redirect/get with an outcome message that the next
 *     page shows once (a short-lived cookie);
 *   - `ctx.services`, `ctx.log`: the composition root's services and the surface's logger.
 * Pages are HTML forms and links and work without JavaScript; only charts need script
 * (assets.ts). The Content-Security-Policy allows scripts and styles from /dashboard/assets only.
 */
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Services } from '../../modules/services';
import type { Principal } from '../../modules/tenancy/principals';
import { html, type SafeHtml } from '../html';
import { CSRF_FIELD } from '../middleware/csrf';
import { assetUrl } from './assets';

export const DASHBOARD_PATH = '/dashboard';

/** The navigation, in order. `platform` entries are shown to platform admins only. */
export const NAV = [
  { key: 'overview', label: 'Overview', path: '/' },
  { key: 'sessions', label: 'Sessions', path: '/sessions' },
  { key: 'subscribers', label: 'Subscribers', path: '/subscribers' },
  { key: 'plans', label: 'Plans', path: '/plans' },
  { key: 'nas', label: 'NAS', path: '/nas' },
  { key: 'vouchers', label: 'Vouchers', path: '/vouchers' },
  { key: 'payments', label: 'Payments', path: '/payments' },
  { key: 'enforcement', label: 'Enforcement', path: '/enforcement' },
  { key: 'reports', label: 'Reports', path: '/reports' },
  { key: 'settings', label: 'Settings', path: '/settings' },
  { key: 'platform', label: 'Platform', path: '/platform', platform: true },
] as const;
export type NavKey = (typeof NAV)[number]['key'];

/** An outcome message shown once on the next page. */
export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

/** Who the layout says is signed in. */
export interface SignedInAs {
  principal: Principal;
  /** The user's email (or the key's id). */
  label: string;
  /** The tenant the pages act on (name), if any. */
  tenantName?: string;
}

export interface LayoutOptions {
  title: string;
  /** Which navigation entry is current. */
  nav?: NavKey;
  body: SafeHtml;
  who: SignedInAs;
  csrfToken: string;
  flash?: Flash;
  /** Scripts of /dashboard/assets the page needs (charts). */
  scripts?: readonly string[];
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

/**
 * A form that posts with the CSRF token: `fields` go inside before the button. `confirm` is a
 * plain question shown as the button's title (no script needed).
 */
export function postForm(o: {
  action: string;
  csrfToken: string;
  button: string;
  fields?: SafeHtml;
  className?: string;
  /** e.g. 'danger' for destructive buttons */
  buttonClass?: string;
}): SafeHtml {
  return html`<form method="post" action="${o.action}"${o.className ? html` class="${o.className}"` : ''}>${csrfField(o.csrfToken)}${o.fields ?? ''}<button type="submit"${o.buttonClass ? html` class="${o.buttonClass}"` : ''}>${o.button}</button></form>`;
}

export function flashBox(f: Flash | undefined): SafeHtml {
  if (!f) return html``;
  return html`<p class="flash ${f.kind}" role="${f.kind === 'error' ? 'alert' : 'status'}">${f.text}</p>`;
}

/** A table that scrolls sideways on a phone rather than overflowing the page. */
export function table(head: readonly string[], rows: readonly SafeHtml[], empty = 'Nothing here yet.'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="scroll"><table><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

const ROLE_LABEL: Record<Principal['role'], string> = {
  platform_admin: 'platform admin',
  tenant_admin: 'admin',
  tenant_operator: 'operator',
};

function navigation(current: NavKey | undefined, p: Principal): SafeHtml {
  const entries = NAV.filter((e) => !('platform' in e) || p.role === 'platform_admin');
  return html`<nav aria-label="Main"><ul>${entries.map(
    (e) =>
      html`<li><a href="${DASHBOARD_PATH}${e.path}"${e.key === current ? html` aria-current="page"` : ''}>${e.label}</a></li>`,
  )}</ul></nav>`;
}

/** A whole staff page. */
export function renderLayout(o: LayoutOptions): string {
  const p = o.who.principal;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} - Lango</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${assetUrl('dashboard.css')}">
${o.scripts?.includes('uplot.js') ? html`<link rel="stylesheet" href="${assetUrl('uplot.css')}">` : ''}
${(o.scripts ?? []).map((s) => html`<script src="${assetUrl(s)}" defer></script>`)}</head>
<body><header class="top"><a class="brand" href="${DASHBOARD_PATH}/">Lango</a>
<span class="who">${o.who.label} <small>(${ROLE_LABEL[p.role]}${o.who.tenantName ? html`, ${o.who.tenantName}` : ''})</small></span>
<form method="post" action="${DASHBOARD_PATH}/logout" class="logout">${csrfField(o.csrfToken)}<button type="submit">Sign out</button></form></header>
${navigation(o.nav, p)}
<main><h1>${o.title}</h1>${flashBox(o.flash)}${o.body}</main></body></html>`.value;
}

export interface DashboardTenant {
  id: string;
  name: string;
  timeZone: string;
  currency: string;
}

/** What a page module gets (index.ts builds it). */
export interface DashboardContext {
  services: Services;
  log: Logger;
  /** The signed-in principal (set by the guard; every page route is behind it). */
  principal(res: Response): Principal;
  /** The tenant the page acts on; for a platform admin without one chosen, TENANT_REQUIRED. */
  tenantId(res: Response): string;
  /** The same tenant with its name, time zone (what people see is in it) and currency. */
  tenant(res: Response): DashboardTenant;
  /** The tenant, or undefined for a platform admin who has not chosen one. */
  maybeTenant(res: Response): DashboardTenant | undefined;
  /** A platform admin's choice of the tenant the pages act on (null: none). */
  chooseTenant(req: Request, res: Response, tenantId: string | null): void;
  /** This browser's CSRF token for forms. */
  csrfToken(req: Request, res: Response): string;
  /** Sends a page in the layout (status 200 unless given). */
  render(
    req: Request,
    res: Response,
    o: { title: string; nav?: NavKey; body: SafeHtml; status?: number; scripts?: readonly string[] },
  ): void;
  /** 303 to a dashboard path (relative to /dashboard, e.g. '/sessions'), with a message shown once. */
  redirect(req: Request, res: Response, path: string, flash?: Flash): void;
}
