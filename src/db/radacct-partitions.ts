/**
 * radacct's monthly partitions (docs/decisions.md 78, docs/reports.md "Partitions of radacct"):
 * list them, make future months (lango_radacct_partition, also run daily by the worker) and
 * archive whole months: detached from radacct, their keys dropped from radacct_keys, then either
 * left as standalone tables for the operator's pg_dump or dumped here with pg_dump (custom
 * format) and dropped. Reports do not change: usage_daily is kept apart from radacct.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { withTransaction } from './knex';

export interface RadacctPartition {
  name: string;
  /** Inclusive lower bound; null for radacct_legacy (MINVALUE) and the default partition. */
  from: string | null;
  /** Exclusive upper bound; null for the default partition. */
  to: string | null;
  isDefault: boolean;
  /** pg_class.reltuples: PostgreSQL's estimate (-1 before the first ANALYZE or VACUUM). */
  estimatedRows: number;
}

const BOUNDS = `
  SELECT c.relname AS name, c.relkind = 'p' AS partitioned,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper,
         c.reltuples::float8 AS reltuples
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'public.radacct'::regclass`;

interface BoundRow {
  name: string;
  is_default: boolean;
  lower: Date | null;
  upper: Date | null;
  reltuples: number;
}

export async function listRadacctPartitions(db: Knex): Promise<RadacctPartition[]> {
  const rows = (await db.raw(`${BOUNDS} ORDER BY is_default, upper NULLS LAST`)).rows as BoundRow[];
  return rows.map((r) => ({
    name: r.name,
    from: r.lower ? r.lower.toISOString() : null,
    to: r.upper ? r.upper.toISOString() : null,
    isDefault: r.is_default,
    estimatedRows: r.reltuples,
  }));
}

/** Creates the partitions of the current month and `ahead` months after it; returns the new names. */
export async function createRadacctPartitions(db: Knex, ahead: number): Promise<string[]> {
  const rows = (await db.raw(`SELECT lango_radacct_partition(?::int) AS name`, [ahead])).rows as Array<{
    name: string;
  }>;
  return rows.map((r) => r.name);
}

/** "2026-10" as the instant its UTC month starts; null when malformed. */
export function parseMonth(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})$/.exec(s);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (year < 2000 || year > 2999 || month < 1 || month > 12) return null;
  return new Date(Date.UTC(year, month - 1, 1));
}

export interface ArchiveResult {
  /** Partitions detached (whole months before the bound, and radacct_legacy if it ends by then). */
  detached: string[];
  /** With an output directory: the pg_dump files written (their tables are then dropped). */
  files: string[];
}

/**
 * Detaches every partition that ends on or before `before` (the default partition never) and
 * forgets their rows' keys, in one transaction; with `outDir`, dumps each with pg_dump to
 * <outDir>/<table>.dump and drops it once the dump succeeded.
 */
export async function archiveRadacctPartitions(
  db: Knex,
  databaseUrl: string,
  before: Date,
  outDir?: string,
): Promise<ArchiveResult> {
  if (outDir !== undefined && !(existsSync(outDir) && statSync(outDir).isDirectory()))
    throw new Error(`--out: ${outDir} is not a directory`);
  const detached = await withTransaction(db, async (trx) => {
    const rows = (await trx.raw(`${BOUNDS} AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' ORDER BY upper`))
      .rows as BoundRow[];
    const old = rows.filter((r) => r.upper !== null && r.upper.getTime() <= before.getTime());
    for (const r of old) {
      await trx.raw(`ALTER TABLE radacct DETACH PARTITION ??`, [r.name]);
      await trx.raw(`DELETE FROM radacct_keys k USING ?? d WHERE k.radacctid = d.radacctid`, [r.name]);
    }
    return old.map((r) => r.name);
  });
  const files: string[] = [];
  if (outDir !== undefined) {
    for (const name of detached) {
      const file = path.join(path.resolve(outDir), `${name}.dump`);
      await pgDump(databaseUrl, name, file);
      await db.raw(`DROP TABLE ??`, [name]);
      files.push(file);
    }
  }
  return { detached, files };
}

/** pg_dump of one table; the password goes through the environment, never the command line. */
async function pgDump(databaseUrl: string, table: string, file: string): Promise<void> {
  const u = new URL(databaseUrl);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const env = { ...process.env, ...(password ? { PGPASSWORD: password } : {}) };
  await promisify(execFile)(
    'pg_dump',
    ['--dbname', u.toString(), '--table', `public.${table}`, '--format', 'custom', '--file', file],
    { env },
  );
}
