/** Reports (being built on this branch). */
import type { Router } from 'express';
import { html } from '../../html';
import type { DashboardContext } from '../layout';

export function registerReportsPages(r: Router, ctx: DashboardContext): void {
  r.get('/reports', (req, res) => {
    ctx.tenantId(res);
    ctx.render(req, res, {
      title: 'Reports',
      nav: 'reports',
      body: html`<p class="empty">This page comes with the next commit.</p>`,
    });
  });
}
