import knexFactory, { Knex } from 'knex';
import { mapDbError } from './errors';

/** A handle that may be a transaction: repositories take this. */
export type Handle = Knex | Knex.Transaction;

export function createDb(
  databaseUrl: string,
  pool: { min?: number; max?: number; applicationName?: string } = {},
): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: pool.applicationName ?? 'lango' },
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    acquireConnectionTimeout: 5000,
    // Knex prints pool errors with console.log; they are mapped to DATABASE_UNAVAILABLE and
    // logged by the HTTP layer instead.
    log: { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined },
  });
}

function isTransaction(h: Handle): h is Knex.Transaction {
  return (h as Knex.Transaction).isTransaction === true;
}

/**
 * The one way to open a transaction: reuses `h` when it already is one, so a module's repo and
 * hook functions join the caller's transaction. Driver errors leave it mapped (db/errors.ts).
 */
export async function withTransaction<T>(h: Handle, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (isTransaction(h)) return fn(h);
  try {
    return await h.transaction(fn);
  } catch (err) {
    throw mapDbError(err);
  }
}
