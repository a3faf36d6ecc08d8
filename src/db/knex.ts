import knexFactory, { Knex } from 'knex';
import { AppError } from '../errors';

export type Db = Knex;
/** A handle that may be a transaction: repositories take this. */
export type Handle = Knex | Knex.Transaction;

export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'lango' },
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
 * The one way to open a transaction: reuses `h` when it already is one, so services can call
 * each other inside a caller's transaction.
 */
export async function withTransaction<T>(h: Handle, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (isTransaction(h)) return fn(h);
  try {
    return await h.transaction(fn);
  } catch (err) {
    throw mapDbError(err);
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

/**
 * SQLSTATEs a bad value causes (the schemas should have refused it first; this is the safety
 * net), with what the client is told: never the driver's text, which quotes the value and SQL.
 */
const BAD_VALUE = new Map<string, string>([
  ['22001', 'a value is too long'],
  ['22003', 'a number is out of range'],
  ['22007', 'a date or time is malformed'],
  ['22008', 'a date or time is out of range'],
  ['22009', 'a time zone offset is out of range'],
  ['22021', 'a text contains a character that cannot be stored (such as NUL)'],
  ['22P05', 'a text contains a character that cannot be stored (such as NUL)'],
  ['22P02', 'a value was rejected by the database'],
  ['23502', 'a value was rejected by the database'],
  ['23514', 'a value was rejected by the database'],
]);

/** Map driver errors to typed errors: unique/foreign key violations, bad values (BAD_VALUE), lost connections. */
export function mapDbError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; constraint?: string; name?: string; message?: string };
  if (!e || typeof e !== 'object') return err;
  if (e.code && CONNECTION_CODES.has(e.code)) {
    return new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable, try again shortly', undefined, { cause: err });
  }
  if (e.name === 'KnexTimeoutError' || /Timeout acquiring a connection|Connection terminated/i.test(e.message ?? '')) {
    return new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable, try again shortly', undefined, { cause: err });
  }
  if (e.code === '23505') return new AppError('CONFLICT', 'a record with these values already exists', { constraint: e.constraint }, { cause: err });
  if (e.code === '23503') return new AppError('CONFLICT', 'a referenced record does not exist or is still in use', { constraint: e.constraint }, { cause: err });
  const badValue = e.code ? BAD_VALUE.get(e.code) : undefined;
  if (badValue) return new AppError('VALIDATION_FAILED', badValue, { constraint: e.constraint }, { cause: err });
  return err;
}

/**
 * For `.catch()` on a write: a unique violation of one of the named constraints (or unique
 * indexes) becomes its typed error. The database decides, so there is no racy pre-SELECT.
 */
export function onUniqueViolation(errors: Record<string, () => AppError>): (err: unknown) => never {
  return (err) => {
    const e = err as { code?: string; constraint?: string } | null;
    const make = e?.code === '23505' && e.constraint ? errors[e.constraint] : undefined;
    throw make ? make() : err;
  };
}

/** The SQLSTATE of a driver error, also when it was wrapped by mapDbError. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: unknown };
  if (err instanceof AppError) return sqlState(e.cause);
  return e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
}

/**
 * Whether trying again later can help: the database is unreachable or restarting, or refused
 * for now (serialization failure or deadlock, resources, statement cancelled). Constraint and
 * data errors (23xxx, 22xxx) are not: the same statement fails the same way every time.
 */
export function isTransientDbError(err: unknown): boolean {
  const mapped = mapDbError(err);
  if (mapped instanceof AppError && mapped.code === 'DATABASE_UNAVAILABLE') return true;
  return /^(08|40|53|57)/.test(sqlState(err) ?? '');
}
