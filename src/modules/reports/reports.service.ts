import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import type { Clock } from '../../lib/clock';
import { findTenantDay, operationalSnapshot, reportQuery, runReport, type OperationalSnapshot } from './reports.repo';
import {
  MAX_RANGE_DAYS,
  REPORT_GROUPS,
  type ReportName,
  type ReportQuery,
  type ReportView,
  type Row,
} from './reports.schemas';

const DAY_MS = 86400000;

/** A YYYY-MM-DD that is a real calendar day, as days since the epoch (undefined if not). */
function dayNumber(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1970 || y > 9999) return undefined;
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return t / DAY_MS;
}

const dayText = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10);

function bad(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', message, { errors: [{ path: `query.${field}`, message }] });
}

function cell(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  return String(v);
}

/**
 * Reports over the views of schema reports, for one tenant: date ranges are the tenant's days
 * (from and to inclusive; default the last 30 days up to today in the tenant's time zone),
 * bounded to MAX_RANGE_DAYS, answers bounded by a row limit. Reads go to the reports database
 * (LANGO_REPORTS_DATABASE_URL, a streaming replica) when one is configured.
 */
export class ReportsService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  /** Platform-wide operational figures for /metrics (read on the primary: they must be current). */
  operational(primary: Knex): Promise<OperationalSnapshot> {
    return operationalSnapshot(primary, this.clock.date());
  }

  async run(tenantId: string, name: ReportName, q: ReportQuery): Promise<ReportView> {
    const groups = REPORT_GROUPS[name];
    const groupBy = q.groupBy ?? groups[0]!;
    const query = groups.includes(groupBy) ? reportQuery(name, groupBy) : undefined;
    if (!query) throw bad('groupBy', `report ${name} groups by one of: ${groups.join(', ')}`);
    const tenant = await findTenantDay(this.db, tenantId, this.clock.date());
    if (!tenant) throw new AppError('TENANT_NOT_FOUND', 'no such tenant');

    let from: string | null = null;
    let to: string | null = null;
    if (query.range) {
      const toN = q.to === undefined ? dayNumber(tenant.today)! : dayNumber(q.to);
      if (toN === undefined) throw bad('to', `to is not a calendar day (YYYY-MM-DD): ${q.to}`);
      const fromN = q.from === undefined ? toN - 29 : dayNumber(q.from);
      if (fromN === undefined) throw bad('from', `from is not a calendar day (YYYY-MM-DD): ${q.from}`);
      if (fromN > toN) throw bad('from', `from (${dayText(fromN)}) is after to (${dayText(toN)})`);
      if (toN - fromN + 1 > MAX_RANGE_DAYS)
        throw bad('to', `the range is ${toN - fromN + 1} days; at most ${MAX_RANGE_DAYS} days per report`);
      from = dayText(fromN);
      to = dayText(toN);
    } else if (q.from !== undefined || q.to !== undefined) {
      throw bad(q.from !== undefined ? 'from' : 'to', `report ${name} describes the present and takes no date range`);
    }

    const raw = await runReport(this.db, query, {
      tenantId,
      from: from ?? '',
      to: to ?? '',
      limit: q.limit,
      timeZone: tenant.time_zone,
      ...(q.username !== undefined ? { username: q.username } : {}),
      ...(q.nasId !== undefined ? { nasId: q.nasId } : {}),
    });
    const truncated = raw.length > q.limit;
    const rows: Row[] = raw
      .slice(0, q.limit)
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, cell(v)])));
    const columns = raw.length > 0 ? Object.keys(raw[0]!) : columnsOf(query.sql);
    return { report: name, groupBy, timeZone: tenant.time_zone, from, to, columns, rows, truncated };
  }
}

/** The output column names of a report's SELECT (for an empty answer's CSV header). */
function columnsOf(sql: string): string[] {
  const list = /^SELECT\s+([\s\S]*?)\s+FROM\s/i.exec(sql)?.[1] ?? '';
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((c) => {
    const t = c.trim();
    const as = /\s+AS\s+(\w+)$/i.exec(t);
    return as ? as[1]! : t.replace(/^\w+\./, '');
  });
}
