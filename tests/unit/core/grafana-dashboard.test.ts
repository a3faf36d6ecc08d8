/**
 * docs/grafana/lango.json cannot drift from /metrics: every lango_* name its queries use is served
 * by the registry createMetrics builds (a histogram's _bucket/_count/_sum by its base name), every
 * query reads the dashboard's Prometheus data source variable, and each area issue 10 asks for has
 * a panel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createMetrics } from '../../../src/http/metrics';
import type { Services } from '../../../src/modules/services';

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
const dashboard = JSON.parse(readFileSync(join(__dirname, '../../../docs/grafana/lango.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: string }> };
};
const targets = dashboard.panels.flatMap((p) => p.targets ?? []);

const served = async () => {
  // The registry is built without touching the database (that happens per scrape).
  const { registry } = createMetrics({ db: {} as Knex, services: {} as Services });
  return new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
};

describe('the Grafana dashboard', () => {
  it('queries only metrics /metrics serves', async () => {
    const names = await served();
    const used = new Set(targets.flatMap((t) => t.expr.match(/\blango_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((n) => {
      if (names.has(n)) return false;
      const base = n.replace(/_(bucket|count|sum)$/, '');
      return !(base !== n && names.get(base) === 'histogram');
    });
    expect(missing).toEqual([]);
  });

  it('reads the data source of its Prometheus variable', () => {
    const v = dashboard.templating.list.find((x) => x.type === 'datasource');
    expect(v).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of dashboard.panels) {
      expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: '${datasource}' }]);
      for (const t of p.targets ?? []) expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('has a panel for each operational area', () => {
    const exprs = targets.map((t) => t.expr).join('\n');
    for (const name of [
      'lango_http_request_duration_seconds_bucket',
      'lango_radius_auth_attempts',
      'lango_enforcement_actions_24h',
      'lango_enforcement_queue_depth',
      'lango_payments_24h',
      'lango_payment_settlement_lag_seconds',
      'lango_sms_24h',
      'lango_sms_queue_depth',
    ])
      expect(exprs).toContain(name);
  });
});
