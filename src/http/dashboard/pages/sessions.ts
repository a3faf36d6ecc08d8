/**
 * Live sessions: search by username, MAC, IP address or NAS, and a Disconnect button that
 * queues a staff Disconnect-Request through the enforcement outbox (the same service call as
 * POST /api/v1/sessions/:id/disconnect), then shows the action's outcome (enforcement.ts).
 */
import type { Request, Router } from 'express';
import { AppError } from '../../../lib/errors';
import { LiveQuery } from '../../../modules/sessions/sessions.schemas';
import { actorOf } from '../../../modules/tenancy/principals';
import { html, type SafeHtml } from '../../html';
import { bytes, duration, formQuery, when } from '../format';
import { postForm, table, type DashboardContext } from '../layout';

const PAGE_SIZE = 50;
const FILTERS = ['username', 'mac', 'ip', 'nasId'] as const;

function pageLink(req: Request, offset: number): string {
  const q = new URLSearchParams();
  for (const k of FILTERS) {
    const v = req.query[k];
    if (typeof v === 'string' && v !== '') q.set(k, v);
  }
  if (offset > 0) q.set('offset', String(offset));
  const s = q.toString();
  return `/dashboard/sessions${s ? `?${s}` : ''}`;
}

export function registerSessionsPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;

  r.get('/sessions', async (req, res) => {
    const tenant = ctx.tenant(res);
    const typed = (k: (typeof FILTERS)[number]) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : '');
    let q: LiveQuery | undefined;
    let problem: SafeHtml | string = '';
    try {
      q = formQuery<LiveQuery>(req.query, LiveQuery);
      q.limit = Math.min(q.limit ?? PAGE_SIZE, PAGE_SIZE);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'VALIDATION_FAILED') throw err;
      problem = html`<p class="flash error" role="alert">Check the search: ${err.message.replace(/^invalid query: /, '')}</p>`;
    }
    const [nas, live] = await Promise.all([
      s.nas.list(tenant.id, { limit: 200, offset: 0 }),
      q ? s.sessions.listLive(tenant.id, q) : Promise.resolve(undefined),
    ]);
    const nasName = new Map(nas.data.map((n) => [n.id, n.name]));
    const token = ctx.csrfToken(req, res);
    const rows = (live?.data ?? []).map(
      (x) =>
        html`<tr><td>${x.username}</td><td>${x.callingStationId ?? ''}</td><td>${x.framedIpAddress ?? ''}</td>
<td>${x.nasId ? (nasName.get(x.nasId) ?? x.nasIpAddress) : x.nasIpAddress}</td><td>${when(x.startedAt, tenant.timeZone)}</td>
<td class="num">${duration(x.sessionTimeSeconds)}</td><td class="num">${bytes(x.inputOctets)} / ${bytes(x.outputOctets)}</td>
<td>${x.softBlocked ? 'walled garden' : ''}</td>
<td>${postForm({ action: `/dashboard/sessions/${x.id}/disconnect`, csrfToken: token, button: 'Disconnect', buttonClass: 'danger' })}</td></tr>`,
    );
    const offset = q?.offset ?? 0;
    const total = live?.page.total ?? 0;
    ctx.render(req, res, {
      title: 'Live sessions',
      nav: 'sessions',
      body: html`${problem}<form method="get" action="/dashboard/sessions" class="filters" role="search">
<label>Username <input name="username" value="${typed('username')}" autocomplete="off"></label>
<label>MAC <input name="mac" value="${typed('mac')}" placeholder="aa:bb:cc" autocomplete="off"></label>
<label>IP address <input name="ip" value="${typed('ip')}" inputmode="decimal" autocomplete="off"></label>
<label>NAS <select name="nasId"><option value="">any</option>${nas.data.map((n) => html`<option value="${n.id}"${typed('nasId') === n.id ? html` selected` : ''}>${n.name}</option>`)}</select></label>
<button type="submit">Search</button> <a href="/dashboard/sessions">Clear</a></form>
<p><span id="session-count">${total}</span> live session${total === 1 ? '' : 's'} (times in ${tenant.timeZone}).</p>
${table(['User', 'MAC', 'IP', 'NAS', 'Started', 'Time', 'Data in / out', '', ''], rows, 'No live sessions match.')}
<div class="pager">${offset > 0 ? html`<a href="${pageLink(req, Math.max(0, offset - PAGE_SIZE))}">Previous</a>` : ''}${offset + PAGE_SIZE < total ? html`<a href="${pageLink(req, offset + PAGE_SIZE)}">Next</a>` : ''}</div>`,
    });
  });

  r.post('/sessions/:id/disconnect', async (req, res) => {
    const tenantId = ctx.tenantId(res);
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new AppError('SESSION_NOT_FOUND', 'session not found');
    try {
      const action = await s.enforcement.disconnectSession(actorOf(ctx.principal(res)), tenantId, id);
      ctx.redirect(req, res, `/enforcement/${action.id}`, {
        kind: 'ok',
        text: `Disconnect of ${action.username} queued.`,
      });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      ctx.redirect(req, res, '/sessions', { kind: 'error', text: `Not disconnected: ${err.message}.` });
    }
  });
}
