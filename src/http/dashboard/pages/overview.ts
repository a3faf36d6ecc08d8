/** Overview: the tenant's figures (and for a platform admin without a tenant, the platform's). */
import type { Router } from 'express';
import { html, type SafeHtml } from '../../html';
import type { DashboardContext } from '../layout';

export function registerOverviewPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  const one = { limit: 1, offset: 0 };

  async function platformFigures(): Promise<SafeHtml> {
    const [tenants, pending] = await Promise.all([s.tenants.list(1, 0), s.nas.pendingApprovals(1, 0)]);
    return html`<table><tr><th>Tenants</th><td>${tenants.page.total}</td></tr><tr><th>NAS waiting for approval</th><td>${pending.page.total}</td></tr></table>`;
  }

  r.get('/', async (req, res) => {
    if (!ctx.maybeTenant(res)) {
      return ctx.render(req, res, { title: 'Overview', nav: 'overview', body: await platformFigures() });
    }
    const tenant = ctx.tenant(res);
    const [subscribers, live, plans] = await Promise.all([
      s.subscribers.list(tenant.id, one),
      s.sessions.listLive(tenant.id, one),
      s.plans.list(tenant.id, { ...one, active: true }),
    ]);
    ctx.render(req, res, {
      title: 'Overview',
      nav: 'overview',
      body: html`<h2>${tenant.name}</h2><table><tr><th>Subscribers</th><td>${subscribers.page.total}</td></tr>
<tr><th>Online now</th><td>${live.page.total}</td></tr><tr><th>Plans on sale</th><td>${plans.page.total}</td></tr></table>`,
    });
  });
}
