/**
 * Where PostgreSQL spends its time during a benchmark phase, per statement, from
 * pg_stat_statements: calls, total execution time, rows and buffers of every statement run in
 * the benchmark's database, top-level and nested (the statements inside SQL functions and
 * triggers, e.g. lango_acct_do's upsert and the radacct rollup trigger's INSERT into usage_daily).
 *
 * Needs the extension preloaded by the server (shared_preload_libraries); the benchmark never
 * restarts a server for it. Without it, `available` is false with the reason and the report says
 * that the breakdown is unavailable. The counters are reset per database (dbid), so other
 * databases on a shared server are neither read nor reset.
 *
 * Execution time is wall-clock time inside the executor, not CPU: on a busy machine it also holds
 * time spent waiting for a CPU or a lock. Nested statements' time is also inside their caller's
 * (the function or the statement whose trigger ran them): the totals add top-level rows only.
 */
import { Client } from 'pg';

export interface StatementRow {
  toplevel: boolean;
  calls: number;
  totalMs: number;
  planMs: number;
  rows: number;
  sharedHit: number;
  sharedRead: number;
  sharedDirtied: number;
  walBytes: number;
  query: string;
}

export interface StatementBreakdown {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  rows: StatementRow[];
  /** Sum of the top-level statements' execution time. */
  topLevelMs: number;
}

export class StatementStats {
  private constructor(
    /** A connection to the benchmark's database (where the extension's functions are). */
    private readonly client: Client | null,
    private readonly dbid: number | null,
    private readonly reason: string | undefined,
  ) {}

  /**
   * Creates the extension in `databaseUrl`'s database and makes it track nested statements
   * there (ALTER DATABASE ... SET, for the sessions opened afterwards). Call it before anything
   * else connects to the database.
   */
  static async setUp(admin: Client, databaseUrl: string, database: string): Promise<StatementStats> {
    const preload = await admin.query<{ s: string }>("SELECT current_setting('shared_preload_libraries') AS s");
    if (!/(^|[\s,])pg_stat_statements([\s,]|$)/.test(preload.rows[0]?.s ?? '')) {
      return new StatementStats(null, null, 'pg_stat_statements is not in shared_preload_libraries on this server');
    }
    const c = new Client({ connectionString: databaseUrl, application_name: 'lango-bench-statements' });
    await c.connect();
    try {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await c.query(`ALTER DATABASE "${database.replace(/"/g, '""')}" SET pg_stat_statements.track = 'all'`);
      const r = await c.query<{ oid: number }>('SELECT oid FROM pg_database WHERE datname = current_database()');
      return new StatementStats(c, Number(r.rows[0]!.oid), undefined);
    } catch (err) {
      await c.end();
      return new StatementStats(null, null, `pg_stat_statements unusable: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.client?.end();
  }

  /** Forgets this database's counters (only this database's). */
  async reset(): Promise<void> {
    if (this.client === null) return;
    await this.client.query('SELECT pg_stat_statements_reset(0::oid, $1::oid, 0::bigint)', [this.dbid]);
  }

  /** The statements run in this database since the last reset, the most expensive first. */
  async read(limit = 30): Promise<StatementBreakdown> {
    if (this.client === null)
      return { available: false, reason: this.reason ?? 'unavailable', rows: [], topLevelMs: 0 };
    const r = await this.client.query<Record<string, string | number | boolean>>(
      // Not this class's own two statements.
      `SELECT toplevel, calls, total_exec_time, total_plan_time, rows, shared_blks_hit, shared_blks_read,
              shared_blks_dirtied, wal_bytes, query
       FROM pg_stat_statements WHERE dbid = $1 AND query NOT LIKE '%pg_stat_statements%'
       ORDER BY total_exec_time DESC`,
      [this.dbid],
    );
    const all = r.rows.map((x): StatementRow => ({
      toplevel: x.toplevel === true,
      calls: Number(x.calls),
      totalMs: Number(x.total_exec_time),
      planMs: Number(x.total_plan_time),
      rows: Number(x.rows),
      sharedHit: Number(x.shared_blks_hit),
      sharedRead: Number(x.shared_blks_read),
      sharedDirtied: Number(x.shared_blks_dirtied),
      walBytes: Number(x.wal_bytes),
      query: String(x.query).replace(/\s+/g, ' ').trim(),
    }));
    const topLevelMs = all.filter((x) => x.toplevel).reduce((s, x) => s + x.totalMs, 0);
    return { available: true, rows: all.slice(0, limit), topLevelMs };
  }
}

/** The breakdown as a Markdown table, ms per `per` (e.g. per expired session). */
export function renderStatements(b: StatementBreakdown, per: number, perLabel: string, limit = 15): string {
  if (!b.available) return `Per-statement breakdown unavailable: ${b.reason}.\n`;
  const short = (q: string): string => {
    const s = q.length > 150 ? `${q.slice(0, 147)}...` : q;
    return s.replace(/\|/g, '\\|');
  };
  const lines = b.rows
    .slice(0, limit)
    .map(
      (x) =>
        `| ${x.toplevel ? 'top' : 'nested'} | ${x.calls} | ${x.totalMs.toFixed(0)} | ${(x.totalMs / per).toFixed(3)} | ${x.rows} | ${x.sharedHit + x.sharedRead} | ${(x.walBytes / 1024 / 1024).toFixed(1)} | \`${short(x.query)}\` |`,
    );
  return `| level | calls | total ms | ms ${perLabel} | rows | buffers | WAL MiB | statement |
|---|---:|---:|---:|---:|---:|---:|---|
${lines.join('\n')}

Top-level statements together: ${b.topLevelMs.toFixed(0)} ms (${(b.topLevelMs / per).toFixed(3)} ms ${perLabel}).
`;
}
