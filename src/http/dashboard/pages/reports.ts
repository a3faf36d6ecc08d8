/**
 * Reports: pick a report (schema reports, docs/reports.md), a grouping and a range of the
 * tenant's days; see the table; download the same rows as CSV (lib/csv.ts, as the REST route:
 * cells a spreadsheet would read as a formula are quoted). Range rules are the service's.
 */
import type { Request, Response, Router } from 'express';
import { toCsv } from '../../../lib/csv';
import { AppError } from '../../../lib/errors';
import {
  REPORT_GROUPS,
  REPORT_NAMES,
  ReportQuery,
  type ReportName,
  type ReportView,
} from '../../../modules/reports/reports.schemas';
import { html, type SafeHtml } from '../../html';
import { formQuery } from '../format';
import { table, type DashboardContext } from '../layout';

const isReport = (v: unknown): v is ReportName =>
  typeof v === 'string' && (REPORT_NAMES as readonly string[]).includes(v);
/** The page shows this many rows; the CSV has up to the query's limit. */
const SHOWN = 500;

export function registerReportsPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;

  /** The report the query asks for (name is not part of ReportQuery: it is the REST path). */
  async function run(req: Request, res: Response, limit?: number): Promise<{ name: ReportName; view: ReportView }> {
    const name = req.query.name ?? 'usage';
    if (!isReport(name))
      throw new AppError('VALIDATION_FAILED', `choose one of the reports: ${REPORT_NAMES.join(', ')}`, {
        errors: [{ path: 'query.name', message: 'unknown report' }],
      });
    const { name: _name, ...rest } = req.query as Record<string, unknown>;
    const q = formQuery<ReportQuery>(rest, ReportQuery);
    if (limit !== undefined) q.limit = Math.min(q.limit, limit);
    if (q.groupBy !== undefined && !REPORT_GROUPS[name].includes(q.groupBy)) delete q.groupBy;
    return { name, view: await s.reports.run(ctx.tenantId(res), name, q) };
  }

  r.get('/reports', async (req, res) => {
    const tenant = ctx.tenant(res);
    const typed = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : '');
    const chosen = isReport(req.query.name) ? req.query.name : 'usage';
    let result: { name: ReportName; view: ReportView } | undefined;
    let problem: SafeHtml | string = '';
    try {
      result = await run(req, res, SHOWN);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'VALIDATION_FAILED') throw err;
      problem = html`<p class="flash error" role="alert">${err.message.replace(/^invalid query: /, '')}</p>`;
    }
    const v = result?.view;
    const csvQuery = new URLSearchParams();
    for (const k of ['name', 'groupBy', 'from', 'to']) if (typed(k)) csvQuery.set(k, typed(k));
    if (v) csvQuery.set('groupBy', v.groupBy);
    const rows = (v?.rows ?? []).map(
      (row) =>
        html`<tr>${v!.columns.map((c) => {
          const x = row[c];
          return typeof x === 'number'
            ? html`<td class="num">${x}</td>`
            : html`<td>${x === null ? '' : String(x)}</td>`;
        })}</tr>`,
    );
    ctx.render(req, res, {
      title: 'Reports',
      nav: 'reports',
      body: html`${problem}<form method="get" action="/dashboard/reports" class="filters">
<label>Report <select name="name">${REPORT_NAMES.map((n) => html`<option${n === chosen ? html` selected` : ''}>${n}</option>`)}</select></label>
<label>Group by <select name="groupBy"><option value="">default</option>${[...new Set(Object.values(REPORT_GROUPS).flat())].map((g) => html`<option${g === (v?.groupBy ?? typed('groupBy')) ? html` selected` : ''}>${g}</option>`)}</select></label>
<label>From <input type="date" name="from" value="${v?.from ?? typed('from')}"></label>
<label>To <input type="date" name="to" value="${v?.to ?? typed('to')}"></label>
<button type="submit">Show</button></form>
${
  v
    ? html`<p>${v.report} by ${v.groupBy}${v.from ? html`, ${v.from} to ${v.to}` : ''} (days in ${v.timeZone}). Groupings of this report: ${REPORT_GROUPS[result!.name].join(', ')}.
${v.truncated ? html` Showing the first ${v.rows.length} rows; the CSV has more.` : ''} <a href="/dashboard/reports.csv?${csvQuery.toString()}" download>Download CSV</a></p>
${table(v.columns, rows, 'No rows in this range.')}`
    : ''
}
<p><small>Times and days are ${tenant.timeZone}'s. The same reports are at /api/v1/reports and in SQL (docs/reports.md).</small></p>`,
    });
  });

  r.get('/reports.csv', async (req, res) => {
    const { name, view } = await run(req, res);
    res
      .status(200)
      .type('text/csv; charset=utf-8')
      .attachment(`${name}-${view.from ?? 'now'}-${view.to ?? 'now'}.csv`);
    if (view.truncated) res.set('X-Lango-Truncated', 'true');
    res.send(toCsv(view.columns, view.rows));
  });
}
