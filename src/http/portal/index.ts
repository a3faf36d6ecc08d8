/**
 * The captive portal: the pages a hotspot user sees before logging in. For now the landing
 * page of a tenant (GET /portal/<tenant slug>): its active plans, to choose from. Payment and
 * login forms follow on the same surface (forms, cookies and CSRF are in place: htmlSurface).
 */
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { Services } from '../../modules/services';
import type { PlanView } from '../../modules/plans/plans.schemas';
import { html, page } from '../html';
import type { Csrf } from '../middleware/csrf';
import { htmlSurface } from '../middleware/html';

function duration(seconds: number): string {
  const units: Array<[number, string]> = [[86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [n, name] of units) if (seconds % n === 0) return `${seconds / n} ${name}${seconds / n === 1 ? '' : 's'}`;
  return `${seconds} seconds`;
}

function data(bytes: number | null): string {
  if (bytes === null) return 'unlimited data';
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Number(gb.toFixed(2))} GB` : `${Number((bytes / 1024 ** 2).toFixed(1))} MB`;
}

export function portalSurface(o: { services: Services; csrf: Csrf; log: Logger }): Router {
  return htmlSurface({
    csrf: o.csrf,
    log: o.log,
    routes: (r) => {
      r.get('/:slug', async (req, res) => {
        const tenant = await o.services.tenants.portalTenant(String(req.params.slug));
        const plans: PlanView[] = (await o.services.plans.list(tenant.id, { active: true, limit: 200, offset: 0 })).data;
        res.type('html').send(
          page(
            tenant.name,
            html`<h1>${tenant.name}</h1>
<p>Choose a plan:</p>
${plans.length === 0
  ? html`<p>No plans are on sale right now.</p>`
  : html`<table><thead><tr><th>Plan</th><th>Price</th><th>Time</th><th>Data</th><th>Speed</th></tr></thead><tbody>
${plans.map((p) => html`<tr><td>${p.name}</td><td>${tenant.currency} ${p.price}</td><td>${duration(p.durationSeconds)}</td><td>${data(p.dataQuotaBytes)}</td><td>${p.rateLimit ?? 'full speed'}</td></tr>\n`)}</tbody></table>`}`,
          ),
        );
      });
    },
  });
}
