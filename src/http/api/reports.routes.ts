import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { toCsv } from '../../lib/csv';
import { ReportParams, ReportQuery, ReportView } from '../../modules/reports/reports.schemas';

/** The views of schema reports over HTTP: JSON, or CSV with ?format=csv or Accept: text/csv. */
export function registerReportRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/reports/:name',
      tag: 'reports',
      auth: ROLES.staff,
      scope: 'tenant',
      params: ReportParams,
      query: ReportQuery,
      response: ReportView,
      summary:
        "A report (docs/reports.md) over the tenant's days: from/to (YYYY-MM-DD, inclusive, at most 366 days), groupBy, limit; JSON or CSV (?format=csv or Accept: text/csv)",
    },
    async ({ tenantId, params, query, req, res }) => {
      const view = await s.reports.run(tenantId, params.name, query);
      const csv =
        query.format === 'csv' ||
        (query.format === undefined && req.accepts(['application/json', 'text/csv']) === 'text/csv');
      if (!csv) return view;
      res
        .status(200)
        .type('text/csv; charset=utf-8')
        .attachment(`${params.name}-${view.from ?? 'now'}-${view.to ?? 'now'}.csv`);
      if (view.truncated) res.set('X-Lango-Truncated', 'true');
      res.send(toCsv(view.columns, view.rows));
      return view;
    },
  );
}
