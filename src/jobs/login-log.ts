/**
 * The login log's retention (a Periodic of the worker): radpostauth rows older than
 * `retentionDays` are removed, oldest first, in batches of `batch` rows, each its own statement,
 * so no run holds many row locks or one long transaction. A run stops after `maxBatches`; a
 * backlog (an install upgraded with years of logins) is worked off over the following runs.
 *
 * What stays: the daily counts per tenant, reply and reason (auth_daily, kept by the insert
 * trigger, never by these rows), so the reports do not change. The failed-login throttles read
 * minutes of history, far inside the shortest retention (1 day).
 *
 * Any number of workers may run it: FOR UPDATE SKIP LOCKED gives each its own rows.
 */
import type { Knex } from 'knex';

export interface LoginLogOptions {
  /** Rows are kept this many days (the database's clock). */
  retentionDays: number;
  /** Rows per DELETE. Default 5000. */
  batch?: number;
  /** DELETEs per run at most. Default 40. */
  maxBatches?: number;
}

export async function pruneLoginLog(db: Knex, o: LoginLogOptions): Promise<{ removed: number }> {
  if (!Number.isInteger(o.retentionDays) || o.retentionDays < 1)
    throw new Error('retentionDays must be a positive integer');
  const batch = o.batch ?? 5000;
  const maxBatches = o.maxBatches ?? 40;
  let removed = 0;
  for (let i = 0; i < maxBatches; i++) {
    const r = await db.raw(
      `DELETE FROM radpostauth WHERE id IN (
         SELECT id FROM radpostauth WHERE authdate < now() - make_interval(days => ?)
         ORDER BY authdate LIMIT ? FOR UPDATE SKIP LOCKED)`,
      [o.retentionDays, batch],
    );
    const n = r.rowCount ?? 0;
    removed += n;
    if (n < batch) break;
  }
  return { removed };
}
