/**
 * The reports' queries: each reads one view of schema reports (db/sql/views), filtered by tenant
 * first (every view leads with tenant_id) and bounded by a row limit; limit + 1 rows are read so
 * the service can say the answer was truncated. Days are text (YYYY-MM-DD), sums float8 (exact to
 * 2^53 bytes), instants Date.
 */
import type { Knex } from 'knex';
import type { ReportName } from './reports.schemas';

type Handle = Knex | Knex.Transaction;

export interface ReportFilter {
  tenantId: string;
  from: string;
  to: string;
  limit: number;
  username?: string;
  nasId?: string;
}

export interface TenantClock {
  time_zone: string;
  today: string;
}

/** The tenant's time zone and its day at `at`. */
export async function findTenantDay(h: Handle, tenantId: string, at: Date): Promise<TenantClock | undefined> {
  const r = await h.raw(
    `SELECT time_zone, (?::timestamptz AT TIME ZONE time_zone)::date::text AS today FROM tenants WHERE id = ?`,
    [at.toISOString(), tenantId],
  );
  return r.rows[0];
}

const USAGE_SUMS = `sum(input_octets)::float8 AS input_octets, sum(output_octets)::float8 AS output_octets,
  sum(total_octets)::float8 AS total_octets, sum(session_seconds)::float8 AS session_seconds, sum(sessions)::float8 AS sessions`;

/**
 * Per user over the range: summed from the rollup's rows first, the subscriber looked up only for
 * the rows answered (%L: the limit goes inside).
 */
const BY_USER = `SELECT u.username, s.id AS subscriber_id, u.input_octets, u.output_octets, u.total_octets, u.session_seconds, u.sessions
  FROM (SELECT tenant_id, username, ${USAGE_SUMS} FROM reports.usage_nas_daily WHERE %W GROUP BY tenant_id, username ORDER BY total_octets DESC, username %L) u
  LEFT JOIN subscribers s ON s.tenant_id = u.tenant_id AND s.username = u.username
  ORDER BY u.total_octets DESC, u.username`;

interface Query {
  sql: string;
  /** The view's filters take these (after tenant, from, to). */
  range: boolean;
  user?: boolean;
  nas?: boolean;
}

const QUERIES: Record<ReportName, Record<string, Query>> = {
  usage: {
    day: {
      range: true,
      user: true,
      sql: `SELECT day::text AS day, count(DISTINCT username)::int AS users, ${USAGE_SUMS} FROM reports.usage_nas_daily WHERE %W GROUP BY day ORDER BY day`,
    },
    month: {
      range: true,
      user: true,
      sql: `SELECT date_trunc('month', day)::date::text AS month, count(DISTINCT username)::int AS users, ${USAGE_SUMS} FROM reports.usage_nas_daily WHERE %W GROUP BY 1 ORDER BY 1`,
    },
    user: { range: true, user: true, sql: BY_USER },
    user_day: {
      range: true,
      user: true,
      sql: `SELECT day::text AS day, username, subscriber_id, ${USAGE_SUMS} FROM reports.usage_daily WHERE %W GROUP BY day, username, subscriber_id ORDER BY day, username`,
    },
  },
  'top-users': {
    user: { range: true, sql: BY_USER },
  },
  sessions: {
    nas: {
      range: false,
      nas: true,
      sql: `SELECT nas_id, nas_name, nas_address, active_sessions::int AS active_sessions, active_users::int AS active_users, oldest_start, last_update_at FROM reports.active_sessions WHERE %W ORDER BY active_sessions DESC, nas_name, nas_id`,
    },
  },
  'auth-failures': {
    day: {
      range: true,
      sql: `SELECT day::text AS day, sum(failures)::float8 AS failures FROM reports.auth_failures WHERE %W GROUP BY day ORDER BY day`,
    },
    reason: {
      range: true,
      sql: `SELECT reason, sum(failures)::float8 AS failures FROM reports.auth_failures WHERE %W GROUP BY reason ORDER BY failures DESC, reason`,
    },
    day_reason: {
      range: true,
      sql: `SELECT day::text AS day, reason, sum(failures)::float8 AS failures FROM reports.auth_failures WHERE %W GROUP BY day, reason ORDER BY day, failures DESC, reason`,
    },
  },
  'nas-health': {
    nas: {
      range: false,
      nas: true,
      sql: `SELECT nas_id, nas_name, nas_address, kind, approved, last_accounting_at, accounting_on_count::int AS accounting_on_count,
              accounting_off_count::int AS accounting_off_count, last_on_off_at, active_sessions::int AS active_sessions,
              coa_ack_24h::int AS coa_ack_24h, coa_nak_24h::int AS coa_nak_24h, coa_timeout_24h::int AS coa_timeout_24h,
              coa_failed_24h::int AS coa_failed_24h, coa_pending::int AS coa_pending
            FROM reports.nas_health WHERE %W ORDER BY nas_name, nas_id`,
    },
  },
  enforcement: {
    day: {
      range: true,
      sql: `SELECT day::text AS day, sum(actions)::float8 AS actions FROM reports.enforcement_outcomes WHERE %W GROUP BY day ORDER BY day`,
    },
    status: {
      range: true,
      sql: `SELECT status, sum(actions)::float8 AS actions, round(sum(avg_rtt_ms * actions) / nullif(sum(actions) FILTER (WHERE avg_rtt_ms IS NOT NULL), 0))::float8 AS avg_rtt_ms FROM reports.enforcement_outcomes WHERE %W GROUP BY status ORDER BY actions DESC, status`,
    },
    reason: {
      range: true,
      sql: `SELECT reason, sum(actions)::float8 AS actions FROM reports.enforcement_outcomes WHERE %W GROUP BY reason ORDER BY actions DESC, reason`,
    },
    day_status: {
      range: true,
      sql: `SELECT day::text AS day, kind, reason, status, sum(actions)::float8 AS actions, max(max_lateness_seconds) AS max_lateness_seconds FROM reports.enforcement_outcomes WHERE %W GROUP BY day, kind, reason, status ORDER BY day, kind, reason, status`,
    },
  },
};

export function reportQuery(name: ReportName, groupBy: string): Query | undefined {
  return QUERIES[name][groupBy];
}

export async function runReport(h: Handle, q: Query, f: ReportFilter): Promise<Array<Record<string, unknown>>> {
  const where = ['tenant_id = ?'];
  const bindings: string[] = [f.tenantId];
  if (q.range) {
    where.push('day BETWEEN ?::date AND ?::date');
    bindings.push(f.from, f.to);
  }
  if (q.user && f.username !== undefined) {
    where.push('username = ?');
    bindings.push(f.username);
  }
  if (q.nas && f.nasId !== undefined) {
    where.push('nas_id = ?');
    bindings.push(f.nasId);
  }
  const sql = q.sql.replace('%W', where.join(' AND '));
  const r = await h.raw(sql.includes('%L') ? sql.replace('%L', 'LIMIT ?') : `${sql} LIMIT ?`, [
    ...bindings,
    f.limit + 1,
  ] as Knex.RawBinding[]);
  return r.rows;
}

export interface OperationalSnapshot {
  auth: Array<{ tenant: string; reply: string; attempts: number }>;
  enforcement: Array<{ kind: string; status: string; actions: number }>;
  queue: { depth: number; oldestDueSeconds: number };
  openSessions: Array<{ tenant: string; sessions: number }>;
}

/**
 * What /metrics reports, read on each scrape: cumulative authentication outcomes per tenant
 * (the auth_daily rollup, never radpostauth), enforcement outcomes of the last 24 hours, the
 * outbox's due queue (its partial index) and open sessions per tenant (radacct's open-session index).
 */
export async function operationalSnapshot(h: Handle, at: Date): Promise<OperationalSnapshot> {
  const now = at.toISOString();
  const [auth, enforcement, queue, open] = await Promise.all([
    h.raw(
      `SELECT t.slug AS tenant, a.reply, sum(a.attempts)::float8 AS attempts FROM auth_daily a JOIN tenants t ON t.id = a.tenant_id GROUP BY t.slug, a.reply`,
    ),
    h.raw(
      `SELECT kind, status, count(*)::float8 AS actions FROM enforcement_actions WHERE created_at >= ?::timestamptz - interval '24 hours' GROUP BY kind, status`,
      [now],
    ),
    h.raw(
      `SELECT count(*)::float8 AS depth, coalesce(extract(epoch FROM ?::timestamptz - min(next_attempt_at)), 0)::float8 AS oldest
           FROM enforcement_actions WHERE status = 'pending' AND next_attempt_at <= ?::timestamptz`,
      [now, now],
    ),
    h.raw(
      `SELECT t.slug AS tenant, count(*)::float8 AS sessions FROM radacct a JOIN tenants t ON t.id = a.tenant_id WHERE a.acctstoptime IS NULL GROUP BY t.slug`,
    ),
  ]);
  return {
    auth: auth.rows,
    enforcement: enforcement.rows,
    queue: { depth: queue.rows[0].depth, oldestDueSeconds: Math.max(0, queue.rows[0].oldest) },
    openSessions: open.rows,
  };
}
