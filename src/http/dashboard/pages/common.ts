/**
 * What the tenant pages (subscribers, plans, NAS, vouchers, payments, settings) share on top of
 * the dashboard shell: the staff member a request acts as (tenant, actor, whether they may
 * change things), and how the tenant's money, instants, data and durations read.
 */
import { createHash } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import { AppError } from '../../../lib/errors';
import type { Actor } from '../../../modules/audit/actor';
import { actorOf, ROLES, type Principal } from '../../../modules/tenancy/principals';
import { html, type SafeHtml } from '../../html';
import { csrfField, type DashboardContext, type DashboardTenant } from '../layout';

/** The staff member behind a tenant page. */
export interface Staff {
  principal: Principal;
  actor: Actor;
  tenantId: string;
  tenant: DashboardTenant;
  /** tenant admins (and platform admins acting on the tenant) change things; operators read. */
  admin: boolean;
  /** The hidden CSRF field for this browser's forms. */
  csrf: SafeHtml;
}

/** Who acts, on which tenant (the shell's: own, or a platform admin's chosen one). */
export function staffOf(ctx: DashboardContext, req: Request, res: Response): Staff {
  const principal = ctx.principal(res);
  const tenant = ctx.tenant(res);
  return {
    principal,
    actor: actorOf(principal),
    tenantId: tenant.id,
    tenant,
    admin: ROLES.admin.includes(principal.role),
    csrf: csrfField(ctx.csrfToken(req, res)),
  };
}

/** Refuses an operator's change (the same rule as the REST route's ROLES.admin). */
export function mustAdmin(st: Staff): void {
  if (!st.admin) throw new AppError('FORBIDDEN', 'your role can look but not change this; ask a tenant admin');
}

export function money(st: Staff, minor: number): string {
  return `${st.tenant.currency} ${(minor / 100).toLocaleString('en-KE', { maximumFractionDigits: 2 })}`;
}

/** An instant in the tenant's time zone (e.g. "2 Dec 2026, 14:05"). */
export function when(st: Staff, isoText: string | null | undefined): string {
  if (!isoText) return '';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: st.tenant.timeZone,
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(isoText));
}

export function bytes(n: number | null): string {
  if (n === null) return 'unlimited';
  if (n >= 1024 ** 3) return `${Number((n / 1024 ** 3).toFixed(2))} GB`;
  if (n >= 1024 ** 2) return `${Number((n / 1024 ** 2).toFixed(1))} MB`;
  return `${n} B`;
}

export function duration(seconds: number): string {
  for (const [n, one, many] of [
    [86400, 'day', 'days'],
    [3600, 'hour', 'hours'],
    [60, 'minute', 'minutes'],
  ] as const)
    if (seconds % n === 0) return `${seconds / n} ${seconds / n === 1 ? one : many}`;
  return `${seconds} seconds`;
}

/** Previous/next links of a list (the query kept, offset moved). */
export function pager(req: Request, page: { limit: number; offset: number; total: number }): SafeHtml | string {
  if (page.total <= page.limit && page.offset === 0) return '';
  const link = (offset: number) => {
    const q = new URLSearchParams(req.query as Record<string, string>);
    q.set('offset', String(offset));
    return `${req.baseUrl}${req.path}?${q.toString()}`;
  };
  const prev = page.offset > 0 ? html`<a href="${link(Math.max(0, page.offset - page.limit))}">Previous</a> ` : '';
  const next = page.offset + page.limit < page.total ? html`<a href="${link(page.offset + page.limit)}">Next</a>` : '';
  return html`<p class="pager">${page.offset + 1}-${Math.min(page.total, page.offset + page.limit)} of ${page.total} ${prev}${next}</p>`;
}

/** A path id that is not a UUID is a missing page, as the API's IdParams make it a 400/404. */
export function idOf(req: Request): string {
  const id = String(req.params.id ?? '');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new AppError('ROUTE_NOT_FOUND', 'no such page');
  return id.toLowerCase();
}

/** The form pages' own styles (labels over inputs, errors, fact tables), served beside the pages. */
const FORMS_CSS = `
form.form{background:#fff;border:1px solid #dde1e6;border-radius:.4rem;padding:.4rem .8rem;margin:0 0 1rem;max-width:36rem}
form.form p{margin:.55rem 0}
form.form label{display:block;font-size:.9rem;margin-bottom:.15rem}
form.form input:not([type=checkbox]),form.form select,form.form textarea{width:100%}
form.form input[type=color]{height:2.4rem;padding:.1rem}
form.form small{display:block;color:#5b6570}
textarea{font:inherit;padding:.4rem .55rem;border:1px solid #b9c0c8;border-radius:.3rem}
fieldset{border:1px solid #dde1e6;border-radius:.3rem;margin:.6rem 0}
.row{display:flex;gap:.6rem;flex-wrap:wrap}.row>p{flex:1;min-width:8rem}
.error{color:#8a1c14;display:block}p.error{background:#fbe5e3;padding:.5rem .7rem;border-radius:.3rem}
[aria-invalid=true]{border-color:#a3221b}
.warn{color:#7a5a00}
table.facts{background:#fff;border:1px solid #dde1e6;border-radius:.4rem;margin-bottom:1rem;max-width:40rem}
table.facts th{width:40%;white-space:normal}table.facts td{white-space:normal;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}
form.inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:flex-end;background:#fff;border:1px solid #dde1e6;border-radius:.4rem;padding:.5rem}
form.inline label{display:block;font-size:.85rem}
section.item{background:#fff;border:1px solid #dde1e6;border-radius:.4rem;padding:.4rem .8rem;margin-bottom:.8rem;max-width:36rem}
`;
const FORMS_PATH = `/forms-${createHash('sha256').update(FORMS_CSS).digest('hex').slice(0, 12)}.css`;
const served = new WeakSet<Router>();

/** Serves the form pages' stylesheet once per router (each form page module asks for it). */
export function serveFormStyles(r: Router): void {
  if (served.has(r)) return;
  served.add(r);
  r.get(FORMS_PATH, (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=31536000, immutable').send(FORMS_CSS);
  });
}

/** The stylesheet link a form page's body starts with (a body-ok link: the layout's head is the shell's). */
export const formStyles = html`<link rel="stylesheet" href="/dashboard${FORMS_PATH}">`;

/** Post/redirect/get with the outcome shown once (the shell's flash); `to` may start with /dashboard. */
export function done(ctx: DashboardContext, req: Request, res: Response, to: string, text: string): void {
  ctx.redirect(req, res, to.replace(/^\/dashboard(?=\/|$)/, '') || '/', { kind: 'ok', text });
}
