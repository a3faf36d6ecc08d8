/**
 * Overview: the tenant's figures now, and charts drawn from the reports (schema reports, through
 * ReportsService): active sessions over the last 7 days from the worker's samples
 * (sessions-history), and over the last 30 of its days: sessions and users per day, revenue per
 * day (when the revenue report is there), data used per day, failed logins per day. The data
 * is embedded in the page as JSON (not script: the CSP allows only /dashboard/assets), drawn by
 * charts.js with uPlot; each chart's numbers are also in a table, shown without JavaScript.
 * A platform admin without a chosen tenant sees the platform's figures.
 */
import type { Router } from 'express';
import { REPORT_NAMES, type ReportName, type ReportView } from '../../../modules/reports/reports.schemas';
import { html, SafeHtml } from '../../html';
import type { DashboardContext, DashboardTenant } from '../layout';

const DAYS = 30;
const DAY_MS = 86400000;
const MB = 1024 * 1024;

interface ChartSpec {
  id: string;
  title: string;
  report: string;
  y: string;
  series: Array<{ column: string; label: string; scale?: number }>;
}

const CHARTS: ChartSpec[] = [
  {
    id: 'sessions',
    title: 'Sessions and users per day',
    report: 'usage',
    y: 'count',
    series: [
      { column: 'sessions', label: 'Sessions' },
      { column: 'users', label: 'Users' },
    ],
  },
  // The revenue report comes with the reports work (reports-scale); shown once it exists.
  {
    id: 'revenue',
    title: 'Revenue per day',
    report: 'revenue',
    y: 'amount',
    series: [{ column: 'net_amount', label: 'Net revenue', scale: 0.01 }],
  },
  {
    id: 'usage',
    title: 'Data used per day',
    report: 'usage',
    y: 'MB',
    series: [{ column: 'total_octets', label: 'MB', scale: 1 / MB }],
  },
  {
    id: 'failures',
    title: 'Failed logins per day',
    report: 'auth-failures',
    y: 'failures',
    series: [{ column: 'failures', label: 'Failed logins' }],
  },
];

const known = (n: string): n is ReportName => (REPORT_NAMES as readonly string[]).includes(n);

/** JSON inside <script type="application/json">: no "<" (a "</script>" in the data cannot end it). */
const jsonBlock = (v: unknown) => new SafeHtml(JSON.stringify(v).replace(/</g, '\\u003c'));

const dayText = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10);

function chart(spec: ChartSpec, view: ReportView, currency: string): SafeHtml {
  const from = Date.parse(`${view.from}T00:00:00Z`) / DAY_MS;
  const to = Date.parse(`${view.to}T00:00:00Z`) / DAY_MS;
  const byDay = new Map(view.rows.map((r) => [String(r.day), r]));
  const days: string[] = [];
  for (let d = from; d <= to; d++) days.push(dayText(d));
  const series = spec.series.map((s) => ({
    label: s.label,
    values: days.map((d) => {
      const v = Number(byDay.get(d)?.[s.column] ?? 0);
      return s.scale ? Math.round(v * s.scale * 100) / 100 : v;
    }),
  }));
  const y = spec.y === 'amount' ? currency : spec.y;
  const data = { x: days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000), y, series };
  const totals = series.map((s) => Math.round(s.values.reduce((a, b) => a + b, 0) * 100) / 100);
  return html`<figure class="chart" id="chart-${spec.id}" data-totals="${totals.join(',')}"><figcaption>${spec.title}</figcaption>
<div class="plot"></div><script type="application/json">${jsonBlock(data)}</script>
<details><summary>Numbers (total ${series.map((s, i) => `${s.label} ${totals[i]}`).join(', ')})</summary><div class="scroll"><table>
<thead><tr><th>Day</th>${series.map((s) => html`<th class="num">${s.label}</th>`)}</tr></thead><tbody>
${days.map((d, i) => html`<tr><td>${d}</td>${series.map((s) => html`<td class="num">${s.values[i]}</td>`)}</tr>`)}</tbody></table></div></details></figure>`;
}

const HISTORY_DAYS = 7;

/** The tenant day (YYYY-MM-DD) of an instant. */
const tenantDay = (tz: string, at: Date) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);

/** The tenant-local hour of an instant, "YYYY-MM-DD HH:00". */
function tenantHour(tz: string, at: Date): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day} ${p.hour}:00`;
}

/**
 * Active sessions over time: one point per sample (instants, labelled in the tenant's zone); the
 * table under it has the peak of each hour (a week of 5-minute samples is 2016 rows).
 */
function historyChart(view: ReportView, tz: string): SafeHtml {
  const x = view.rows.map((r) => Date.parse(String(r.at)) / 1000);
  const values = view.rows.map((r) => Number(r.active_sessions ?? 0));
  const peaks = new Map<string, number>();
  view.rows.forEach((r, i) => {
    const h = tenantHour(tz, new Date(String(r.at)));
    peaks.set(h, Math.max(peaks.get(h) ?? 0, values[i]!));
  });
  const peak = values.reduce((a, b) => Math.max(a, b), 0);
  const data = { x, y: 'sessions', tz, series: [{ label: 'Active sessions', values }] };
  const numbers =
    values.length === 0
      ? html`<p class="empty">No samples yet: the worker samples open sessions every few minutes.</p>`
      : html`<details><summary>Numbers (peak ${peak}, ${values.length} samples)</summary><div class="scroll"><table>
<thead><tr><th>Hour (${tz})</th><th class="num">Peak sessions</th></tr></thead><tbody>
${[...peaks].map(([h, v]) => html`<tr><td>${h}</td><td class="num">${v}</td></tr>`)}</tbody></table></div></details>`;
  return html`<figure class="chart" id="chart-active" data-peak="${peak}" data-samples="${values.length}"><figcaption>Active sessions, last ${HISTORY_DAYS} days</figcaption>
<div class="plot"></div><script type="application/json">${jsonBlock(data)}</script>
${numbers}${view.truncated ? html`<p class="empty">Only the oldest samples are shown: the range has more than the row limit.</p>` : ''}</figure>`;
}

export function registerOverviewPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  const one = { limit: 1, offset: 0 };

  async function platformFigures(): Promise<SafeHtml> {
    const [tenants, pending] = await Promise.all([s.tenants.list(1, 0), s.nas.pendingApprovals(1, 0)]);
    return html`<table><tr><th>Tenants</th><td>${tenants.page.total}</td></tr><tr><th>NAS waiting for approval</th><td>${pending.page.total}</td></tr></table>
<p><a href="/dashboard/platform">Open a tenant</a> to see its sessions, charts and reports.</p>`;
  }

  async function charts(t: DashboardTenant): Promise<SafeHtml[]> {
    const specs = CHARTS.filter((c) => known(c.report));
    const views = new Map<string, Promise<ReportView>>();
    for (const c of specs) {
      if (!views.has(c.report))
        views.set(c.report, s.reports.run(t.id, c.report as ReportName, { groupBy: 'day', limit: DAYS + 1 }));
    }
    const now = new Date();
    const history = s.reports.run(t.id, 'sessions-history', {
      groupBy: 'sample',
      from: tenantDay(t.timeZone, new Date(now.getTime() - (HISTORY_DAYS - 1) * DAY_MS)),
      to: tenantDay(t.timeZone, now),
      limit: 10000,
    });
    return Promise.all([
      history.then((v) => historyChart(v, t.timeZone)),
      ...specs.map(async (c) => chart(c, await views.get(c.report)!, t.currency)),
    ]);
  }

  r.get('/', async (req, res) => {
    const tenant = ctx.maybeTenant(res);
    if (!tenant) return ctx.render(req, res, { title: 'Overview', nav: 'overview', body: await platformFigures() });
    const [subscribers, live, plans, figures] = await Promise.all([
      s.subscribers.list(tenant.id, one),
      s.sessions.listLive(tenant.id, one),
      s.plans.list(tenant.id, { ...one, active: true }),
      charts(tenant),
    ]);
    ctx.render(req, res, {
      title: 'Overview',
      nav: 'overview',
      scripts: ['uplot.js', 'charts.js'],
      body: html`<h2>${tenant.name}</h2><div class="cards">
<div class="card">Online now<b id="online-now">${live.page.total}</b></div>
<div class="card">Subscribers<b>${subscribers.page.total}</b></div>
<div class="card">Plans on sale<b>${plans.page.total}</b></div></div>
<p>The last ${DAYS} days in ${tenant.timeZone}.</p>
<div class="charts">${figures}</div>`,
    });
  });
}
