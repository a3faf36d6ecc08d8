/** Enforcement (being built on this branch). */
import type { Router } from 'express';
import { html } from '../../html';
import type { DashboardContext } from '../layout';

export function registerEnforcementPages(r: Router, ctx: DashboardContext): void {
  r.get('/enforcement', (req, res) => {
    ctx.tenantId(res);
    ctx.render(req, res, {
      title: 'Enforcement',
      nav: 'enforcement',
      body: html`<p class="empty">This page comes with the next commit.</p>`,
    });
  });
}
