/**
 * Platform view (platform admins only): every tenant with its subscribers and live sessions, and the choice of the tenant the other
 * pages act on (kept in a cookie, checked on every request).
 */
import type { Response, Router } from 'express';
import { AppError } from '../../../lib/errors';
import { html } from '../../html';
import { postForm, table, csrfField, type DashboardContext } from '../layout';

/** Each tenant's figures are two counts: a page of 25 is 50 small queries. */
const PAGE_SIZE = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerPlatformPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;

  const platformOnly = (res: Response) => {
    const p = ctx.principal(res);
    if (p.role !== 'platform_admin') throw new AppError('FORBIDDEN', 'the platform view is for platform admins');
    return p;
  };

  r.get('/platform', async (req, res) => {
    platformOnly(res);
    const offset = Math.max(0, Number.parseInt(String(req.query.offset ?? '0'), 10) || 0);
    const tenants = await s.tenants.list(PAGE_SIZE, offset);
    const token = ctx.csrfToken(req, res);
    const current = ctx.maybeTenant(res);
    const one = { limit: 1, offset: 0 };
    const figures = await Promise.all(
      tenants.data.map(async (t) => {
        const [subscribers, live] = await Promise.all([s.subscribers.list(t.id, one), s.sessions.listLive(t.id, one)]);
        return { subscribers: subscribers.page.total, live: live.page.total };
      }),
    );
    const rows = tenants.data.map(
      (t, i) =>
        html`<tr data-tenant="${t.slug}"><td>${t.name}</td><td>${t.slug}</td><td>${t.status}</td><td>${t.timeZone}</td><td class="num">${figures[i]!.subscribers}</td><td class="num">${figures[i]!.live}</td><td>${t.id === current?.id ? html`<strong>chosen</strong>` : postForm({ action: '/dashboard/platform/tenant', csrfToken: token, button: 'Open', fields: html`<input type="hidden" name="tenantId" value="${t.id}">` })}</td></tr>`,
    );
    ctx.render(req, res, {
      title: 'Platform',
      nav: 'platform',
      body: html`<p>${tenants.page.total} tenants. Open one to act on its sessions, reports and settings.</p>
${current ? html`<form method="post" action="/dashboard/platform/tenant">${csrfField(token)}<input type="hidden" name="tenantId" value=""><p>Acting on ${current.name}. <button type="submit">Leave</button></p></form>` : ''}
${table(['Tenant', 'Slug', 'Status', 'Time zone', 'Subscribers', 'Online now', ''], rows, 'No tenants yet.')}
<div class="pager">${offset > 0 ? html`<a href="/dashboard/platform?offset=${Math.max(0, offset - PAGE_SIZE)}">Previous</a>` : ''}${offset + PAGE_SIZE < tenants.page.total ? html`<a href="/dashboard/platform?offset=${offset + PAGE_SIZE}">Next</a>` : ''}</div>`,
    });
  });

  r.post('/platform/tenant', async (req, res) => {
    const p = platformOnly(res);
    const id = (req.body as Record<string, unknown>).tenantId;
    if (id === '') {
      ctx.chooseTenant(req, res, null);
      return ctx.redirect(req, res, '/platform', { kind: 'ok', text: 'Back to the platform view.' });
    }
    if (typeof id !== 'string' || !UUID.test(id))
      throw new AppError('VALIDATION_FAILED', 'choose a tenant from the list');
    const t = await s.tenants.get(p, id);
    ctx.chooseTenant(req, res, t.id);
    ctx.redirect(req, res, '/', { kind: 'ok', text: `Acting on ${t.name}.` });
  });
}
