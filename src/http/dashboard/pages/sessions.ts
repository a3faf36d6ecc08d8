/** Sessions (being built on this branch). */
import type { Router } from 'express';
import { html } from '../../html';
import type { DashboardContext } from '../layout';

export function registerSessionsPages(r: Router, ctx: DashboardContext): void {
  r.get('/sessions', (req, res) => {
    ctx.tenantId(res);
    ctx.render(req, res, {
      title: 'Sessions',
      nav: 'sessions',
      body: html`<p class="empty">This page comes with the next commit.</p>`,
    });
  });
}
