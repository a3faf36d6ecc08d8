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
  /** The tenant's time zone: the instants of the range's days (for views with an `at` column). */
  timeZone?: string;
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

/** Sums over reports.revenue_daily (the rollup's rows: a few per tenant day). */
const SALES_SUMS = `sum(sales)::float8 AS sales, sum(refunds)::float8 AS refunds, sum(gross_amount)::float8 AS gross_amount,
  sum(refunded_amount)::float8 AS refunded_amount, sum(net_amount)::float8 AS net_amount`;

/** Per plan: summed from the rollup first, the plan's name looked up for the rows answered. */
const BY_PLAN = (
  extra: string,
) => `SELECT ${extra ? 's.day, ' : ''}s.plan_id, pl.name AS plan_name, s.sales, s.refunds, s.gross_amount, s.refunded_amount, s.net_amount
  FROM (SELECT ${extra ? 'day::text AS day, ' : ''}plan_id, ${SALES_SUMS} FROM reports.revenue_daily WHERE %W GROUP BY ${extra ? 'day, ' : ''}plan_id
        ORDER BY ${extra ? 'day, ' : ''}net_amount DESC, plan_id %L) s
  LEFT JOIN plans pl ON pl.id = s.plan_id
  ORDER BY ${extra ? 's.day, ' : ''}s.net_amount DESC, s.plan_id`;

const FUNNEL_SUMS = `sum(initiated)::float8 AS initiated, sum(pending)::float8 AS pending, sum(completed)::float8 AS completed,
  sum(cancelled)::float8 AS cancelled, sum(failed)::float8 AS failed, sum(expired)::float8 AS expired,
  sum(unallocated)::float8 AS unallocated, sum(refunded)::float8 AS refunded, sum(completed_amount)::float8 AS completed_amount`;

interface Query {
  sql: string;
  /** The view's filters take these (after tenant, from, to). */
  range: boolean;
  /**
   * The view has the instant `at` of each row: the range is also bounded on it (from's midnight to
   * the midnight after to, in the tenant's zone), so an index on the instant is used.
   */
  at?: boolean;
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
  revenue: {
    day: {
      range: true,
      sql: `SELECT day::text AS day, ${SALES_SUMS} FROM reports.revenue_daily WHERE %W GROUP BY day ORDER BY day`,
    },
    plan: { range: true, sql: BY_PLAN('') },
    channel: {
      range: true,
      sql: `SELECT channel, ${SALES_SUMS} FROM reports.revenue_daily WHERE %W GROUP BY channel ORDER BY net_amount DESC, channel`,
    },
    day_channel: {
      range: true,
      sql: `SELECT day::text AS day, channel, ${SALES_SUMS} FROM reports.revenue_daily WHERE %W GROUP BY day, channel ORDER BY day, channel`,
    },
    day_plan: { range: true, sql: BY_PLAN('day') },
  },
  'payment-funnel': {
    day: {
      range: true,
      sql: `SELECT day::text AS day, ${FUNNEL_SUMS} FROM reports.payment_funnel WHERE %W GROUP BY day ORDER BY day`,
    },
    channel: {
      range: true,
      sql: `SELECT channel, ${FUNNEL_SUMS} FROM reports.payment_funnel WHERE %W GROUP BY channel ORDER BY channel`,
    },
    day_channel: {
      range: true,
      sql: `SELECT day::text AS day, channel, ${FUNNEL_SUMS} FROM reports.payment_funnel WHERE %W GROUP BY day, channel ORDER BY day, channel`,
    },
  },
  'voucher-stock': {
    batch: {
      range: false,
      sql: `SELECT batch_id, created_day::text AS created_day, plan_id, plan_name, price, quantity, in_stock::int AS in_stock, sold::int AS sold,
              revoked_unused::int AS revoked_unused, expired_unused::int AS expired_unused, sold_amount::float8 AS sold_amount,
              first_sold_at, last_sold_at, expires_at, note
            FROM reports.voucher_stock WHERE %W ORDER BY created_day DESC, batch_id`,
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
  // The worker's samples (src/jobs/samples.ts); users are summed over NAS (one user on two NAS counts twice).
  'sessions-history': {
    sample: {
      range: true,
      at: true,
      nas: true,
      sql: `SELECT at, sum(active_sessions)::int AS active_sessions, sum(active_users)::int AS active_users FROM reports.session_samples WHERE %W GROUP BY at ORDER BY at`,
    },
    nas_sample: {
      range: true,
      at: true,
      nas: true,
      sql: `SELECT at, nas_id, nas_name, active_sessions, active_users FROM reports.session_samples WHERE %W ORDER BY at, nas_name, nas_id`,
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
  if (q.at && f.timeZone !== undefined) {
    where.push(`at >= (?::date)::timestamp AT TIME ZONE ? AND at < (?::date + 1)::timestamp AT TIME ZONE ?`);
    bindings.push(f.from, f.timeZone, f.to, f.timeZone);
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
  payments: Array<{ tenant: string; channel: string; state: string; payments: number }>;
  /** STK payments settled (callback or query, not expiry) in the last hour: seconds from the push to the outcome. */
  settlement: { samples: number; p50: number; p95: number; max: number };
  sms: Array<{ tenant: string; status: string; messages: number }>;
  smsQueue: { depth: number; oldestDueSeconds: number };
}

/** How far back the settlement lag looks, and at most how many payments it ranks. */
export const SETTLEMENT_WINDOW = { seconds: 3600, maxSamples: 10000 };

/**
 * What /metrics reports, read on each scrape: cumulative authentication outcomes per tenant
 * (the auth_daily rollup, never radpostauth), enforcement outcomes of the last 24 hours, the
 * outbox's due queue (its partial index) and open sessions per tenant (radacct's open-session index);
 * payments and SMS created in the last 24 hours by outcome (indexes on created_at), the settlement
 * lag of STK payments settled in the last hour (a partial index on settled_at; at most
 * SETTLEMENT_WINDOW.maxSamples ranked) and the SMS outbox's due queue (its partial index).
 */
export async function operationalSnapshot(h: Handle, at: Date): Promise<OperationalSnapshot> {
  const now = at.toISOString();
  const [auth, enforcement, queue, open, payments, settlement, sms, smsQueue] = await Promise.all([
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
    h.raw(
      `SELECT t.slug AS tenant, p.channel, p.state, count(*)::float8 AS payments
         FROM payments p JOIN tenants t ON t.id = p.tenant_id
        WHERE p.created_at >= ?::timestamptz - interval '24 hours' GROUP BY t.slug, p.channel, p.state`,
      [now],
    ),
    h.raw(
      `SELECT count(*)::float8 AS samples,
              coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), 0)::float8 AS p50,
              coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY lag), 0)::float8 AS p95,
              coalesce(max(lag), 0)::float8 AS max
         FROM (SELECT greatest(0, extract(epoch FROM settled_at - created_at)) AS lag FROM payments
                WHERE channel = 'stk' AND settled_at IS NOT NULL AND settled_at >= ?::timestamptz - make_interval(secs => ?)
                  AND settled_by IN ('callback', 'query')
                ORDER BY settled_at DESC LIMIT ?) recent`,
      [now, SETTLEMENT_WINDOW.seconds, SETTLEMENT_WINDOW.maxSamples],
    ),
    h.raw(
      `SELECT t.slug AS tenant, o.status, count(*)::float8 AS messages
         FROM sms_outbox o JOIN tenants t ON t.id = o.tenant_id
        WHERE o.created_at >= ?::timestamptz - interval '24 hours' GROUP BY t.slug, o.status`,
      [now],
    ),
    h.raw(
      `SELECT count(*)::float8 AS depth, coalesce(extract(epoch FROM ?::timestamptz - min(next_attempt_at)), 0)::float8 AS oldest
         FROM sms_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?::timestamptz`,
      [now, now],
    ),
  ]);
  return {
    auth: auth.rows,
    enforcement: enforcement.rows,
    queue: { depth: queue.rows[0].depth, oldestDueSeconds: Math.max(0, queue.rows[0].oldest) },
    openSessions: open.rows,
    payments: payments.rows,
    settlement: settlement.rows[0],
    sms: sms.rows,
    smsQueue: { depth: smsQueue.rows[0].depth, oldestDueSeconds: Math.max(0, smsQueue.rows[0].oldest) },
  };
}
