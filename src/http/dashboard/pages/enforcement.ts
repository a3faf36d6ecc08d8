/**
 * The enforcement log (Disconnect and CoA actions and their outcomes) with filters, and one
 * action's page, which reloads itself (meta refresh, no script) while the action is pending or
 * being sent, so a staff Disconnect shows pending, then ack, nak (with its Error-Cause) or timeout.
 */
import type { Router } from 'express';
import { AppError } from '../../../lib/errors';
import { ENFORCEMENT_REASONS, ENFORCEMENT_STATUSES } from '../../../modules/enforcement/contract';
import { ActionQuery, type ActionView } from '../../../modules/enforcement/enforcement.schemas';
import { html, type SafeHtml } from '../../html';
import { formQuery, when } from '../format';
import { table, type DashboardContext } from '../layout';

const PAGE_SIZE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How often an unfinished action's page reloads, in seconds. */
const REFRESH_SECONDS = 2;
const UNFINISHED = new Set(['pending', 'sending']);

const status = (a: ActionView): SafeHtml =>
  html`<span class="status-${a.status}" data-status="${a.status}">${a.status}${a.errorCauseName ? html` (${a.errorCauseName})` : ''}</span>`;

function select(name: string, values: readonly string[], chosen: string): SafeHtml {
  return html`<select name="${name}"><option value="">any</option>${values.map((v) => html`<option${v === chosen ? html` selected` : ''}>${v}</option>`)}</select>`;
}

export function registerEnforcementPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;

  r.get('/enforcement', async (req, res) => {
    const tenant = ctx.tenant(res);
    const typed = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : '');
    let q: ActionQuery | undefined;
    let problem: SafeHtml | string = '';
    try {
      q = formQuery<ActionQuery>(req.query, ActionQuery);
      q.limit = Math.min(q.limit ?? PAGE_SIZE, PAGE_SIZE);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'VALIDATION_FAILED') throw err;
      problem = html`<p class="flash error" role="alert">Check the filters: ${err.message.replace(/^invalid query: /, '')}</p>`;
    }
    const [nas, actions] = await Promise.all([
      s.nas.list(tenant.id, { limit: 200, offset: 0 }),
      q ? s.enforcement.listActions(tenant.id, q) : Promise.resolve(undefined),
    ]);
    const nasName = new Map(nas.data.map((n) => [n.id, n.name]));
    const rows = (actions?.data ?? []).map(
      (a) =>
        html`<tr><td><a href="/dashboard/enforcement/${a.id}">${when(a.createdAt, tenant.timeZone)}</a></td><td>${a.kind}</td><td>${a.reason}</td>
<td>${status(a)}</td><td>${a.username}</td><td>${a.nasId ? (nasName.get(a.nasId) ?? '') : ''}</td><td class="num">${a.attempts}</td><td class="num">${a.rttMs ?? ''}</td></tr>`,
    );
    const offset = q?.offset ?? 0;
    const total = actions?.page.total ?? 0;
    const link = (o: number) => {
      const p = new URLSearchParams();
      for (const k of ['status', 'reason', 'kind', 'nasId']) if (typed(k)) p.set(k, typed(k));
      if (o > 0) p.set('offset', String(o));
      return `/dashboard/enforcement${p.size ? `?${p}` : ''}`;
    };
    ctx.render(req, res, {
      title: 'Enforcement log',
      nav: 'enforcement',
      body: html`${problem}<form method="get" action="/dashboard/enforcement" class="filters">
<label>Status ${select('status', ENFORCEMENT_STATUSES, typed('status'))}</label>
<label>Reason ${select('reason', ENFORCEMENT_REASONS, typed('reason'))}</label>
<label>Kind ${select('kind', ['disconnect', 'coa'], typed('kind'))}</label>
<label>NAS <select name="nasId"><option value="">any</option>${nas.data.map((n) => html`<option value="${n.id}"${typed('nasId') === n.id ? html` selected` : ''}>${n.name}</option>`)}</select></label>
<button type="submit">Filter</button> <a href="/dashboard/enforcement">Clear</a></form>
<p>${total} action${total === 1 ? '' : 's'}, newest first (times in ${tenant.timeZone}).</p>
${table(['Queued', 'Kind', 'Reason', 'Outcome', 'User', 'NAS', 'Attempts', 'RTT ms'], rows, 'No actions match.')}
<div class="pager">${offset > 0 ? html`<a href="${link(Math.max(0, offset - PAGE_SIZE))}">Previous</a>` : ''}${offset + PAGE_SIZE < total ? html`<a href="${link(offset + PAGE_SIZE)}">Next</a>` : ''}</div>`,
    });
  });

  r.get('/enforcement/:id', async (req, res) => {
    const tenant = ctx.tenant(res);
    if (!UUID.test(req.params.id as string))
      throw new AppError('ENFORCEMENT_ACTION_NOT_FOUND', 'enforcement action not found');
    const a = await s.enforcement.getAction(tenant.id, req.params.id as string);
    const waiting = UNFINISHED.has(a.status);
    if (waiting) res.set('Refresh', String(REFRESH_SECONDS));
    const row = (k: string, v: SafeHtml | string | number | null) => html`<tr><th>${k}</th><td>${v ?? ''}</td></tr>`;
    ctx.render(req, res, {
      title: `${a.kind === 'disconnect' ? 'Disconnect' : 'CoA'} of ${a.username}`,
      nav: 'enforcement',
      body: html`<p id="outcome" aria-live="polite">Outcome: ${status(a)}${waiting ? html` <small>(this page reloads until the router answers)</small>` : ''}</p>
<div class="scroll"><table>
${row('Reason', a.reason)}${row('Session', a.acctSessionId)}${row('Address', a.framedIp)}
${row('Attempts', `${a.attempts} of ${a.maxAttempts}`)}${row('Round trip (ms)', a.rttMs)}
${row('Error-Cause', a.errorCause === null ? null : `${a.errorCause} ${a.errorCauseName ?? ''}`)}${row('Last error', a.lastError)}
${row('Fallback', a.fallback ? `${a.fallback.status}${a.fallback.error ? `: ${a.fallback.error}` : ''}` : null)}
${row('Queued', when(a.createdAt, tenant.timeZone))}${row('Finished', when(a.completedAt, tenant.timeZone))}
</table></div>
<p><a href="/dashboard/sessions">Live sessions</a> · <a href="/dashboard/enforcement">Enforcement log</a></p>`,
    });
  });
}
