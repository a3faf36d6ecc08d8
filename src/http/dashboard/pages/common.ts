/**
 * What the tenant pages (subscribers, plans, NAS, vouchers, payments, settings) share on top of
 * the dashboard shell: the staff member a request acts as (tenant, actor, whether they may
 * change things), and how the tenant's money, instants, data and durations read.
 */
import type { Request, Response } from 'express';
import { AppError } from '../../../lib/errors';
import type { Actor } from '../../../modules/audit/actor';
import type { Services } from '../../../modules/services';
import { actorOf, ROLES, type Principal } from '../../../modules/tenancy/principals';
import type { TenantView } from '../../../modules/tenancy/tenancy.schemas';
import { html, type SafeHtml } from '../../html';

/** The staff member behind a tenant page. */
export interface Staff {
  principal: Principal;
  actor: Actor;
  tenantId: string;
  tenant: TenantView;
  /** tenant admins (and platform admins acting on the tenant) change things; operators read. */
  admin: boolean;
}

/** The tenant a principal's pages act on: their own (platform admins pick one on Platform). */
export async function staffOf(s: Services, p: Principal, tenantId: string | null): Promise<Staff> {
  if (!tenantId)
    throw new AppError('FORBIDDEN', 'these pages belong to a tenant: open the tenant from the Platform page first');
  const tenant = await s.tenants.get(p, tenantId);
  return { principal: p, actor: actorOf(p), tenantId, tenant, admin: ROLES.admin.includes(p.role) };
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

/** A table that scrolls sideways on a phone instead of widening the page. */
export function table(head: readonly string[], rows: readonly SafeHtml[], empty: string): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="scroll"><table><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
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

/**
 * After a change: back to a page with its outcome named by a key (?done=key), 303 so a reload
 * does not repeat it. Only the page's own messages are shown, so a link cannot make the
 * dashboard say something else.
 */
export function doneRedirect(res: Response, to: string, key: string): void {
  res.redirect(303, `${to}${to.includes('?') ? '&' : '?'}done=${encodeURIComponent(key)}`);
}

export function doneMessage(req: Request, messages: Record<string, string>): SafeHtml | string {
  const key = req.query.done;
  const text = typeof key === 'string' && Object.hasOwn(messages, key) ? messages[key] : undefined;
  return text ? html`<p class="done" role="status">${text}</p>` : '';
}

/** What a tenant page needs of the shell. */
export interface Kit {
  services: Services;
  /** The staff member, or undefined when the request was answered (sent to sign in). */
  staff(req: Request, res: Response): Promise<Staff | undefined>;
  /** Sends a page of the layout. */
  send(req: Request, res: Response, o: { title: string; body: SafeHtml; status?: number }): void;
  /** The hidden CSRF field of a form. */
  csrf(req: Request, res: Response): SafeHtml;
}

/** A path id that is not a UUID is a missing page, as the API's IdParams make it a 400/404. */
export function idOf(req: Request): string {
  const id = String(req.params.id ?? '');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new AppError('ROUTE_NOT_FOUND', 'no such page');
  return id.toLowerCase();
}
