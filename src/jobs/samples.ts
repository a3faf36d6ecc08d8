/**
 * Active sessions over time (a Periodic of the worker): the open sessions of every NAS, counted
 * from radacct's partial index on open sessions and written to session_samples at the start of
 * the current sampling slot, then samples older than the retention removed. An idle NAS gets a
 * 0 row, so a chart shows a drop to zero rather than a gap. Any number of workers may sample: a
 * slot already written is left as it is (the primary key, ON CONFLICT DO NOTHING).
 */
import type { Knex } from 'knex';

export interface SampleOptions {
  /** The sampling slot, seconds (samples land on multiples of it since the epoch). */
  everySeconds: number;
  /** Samples are kept this many days. */
  retentionDays: number;
}

export interface SampleResult {
  sampledAt: Date;
  written: number;
  removed: number;
}

export async function sampleSessions(db: Knex, o: SampleOptions, at: Date): Promise<SampleResult> {
  if (!Number.isInteger(o.everySeconds) || o.everySeconds < 1)
    throw new Error('everySeconds must be a positive integer');
  if (!Number.isInteger(o.retentionDays) || o.retentionDays < 1)
    throw new Error('retentionDays must be a positive integer');
  const slot = new Date(Math.floor(at.getTime() / (o.everySeconds * 1000)) * o.everySeconds * 1000);
  const written = await db.raw(
    `INSERT INTO session_samples (tenant_id, sampled_at, nas_id, active_sessions, active_users)
     SELECT n.tenant_id, ?::timestamptz, n.id, count(a.radacctid), count(DISTINCT a.username)
       FROM nas n LEFT JOIN radacct a ON a.nas_id = n.id AND a.acctstoptime IS NULL
      GROUP BY n.tenant_id, n.id
     ON CONFLICT (tenant_id, sampled_at, nas_id) DO NOTHING`,
    [slot.toISOString()],
  );
  const removed = await db.raw(
    `DELETE FROM session_samples WHERE sampled_at < ?::timestamptz - make_interval(days => ?)`,
    [slot.toISOString(), o.retentionDays],
  );
  return { sampledAt: slot, written: written.rowCount ?? 0, removed: removed.rowCount ?? 0 };
}
