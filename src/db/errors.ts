/**
 * Driver errors as typed errors. Uniqueness and foreign keys are decided by the database (no
 * racy pre-SELECT before an insert); the constraint a statement violated names the domain error
 * in CONSTRAINTS, the one table of them. A violation of a constraint not listed is a generic
 * CONFLICT naming the constraint.
 */
import { AppError, type ErrorCode } from '../lib/errors';

interface Meaning {
  code: ErrorCode;
  message: string;
}

/**
 * Constraint (or unique index) name -> what it means. A foreign key means one thing to the
 * statement that writes the referencing row (the referenced row is missing) and another to the
 * one that deletes the referenced row (it is still in use). PostgreSQL names the referencing
 * table in both, so the two are told apart by the error's detail ("Key (...) is still
 * referenced from table ..."); a server that words its messages in another language gets the
 * generic CONFLICT for both, still a 409.
 */
export const CONSTRAINTS: Readonly<Record<string, Meaning | { missing: Meaning; inUse: Meaning }>> = {
  tenants_slug_key: { code: 'TENANT_EXISTS', message: 'a tenant with this slug exists' },
  // Per tenant; platform admins among themselves (decisions.md 14).
  users_email_tenant_unique: { code: 'USER_EXISTS', message: 'a user with this email exists' },
  plans_tenant_name_unique: { code: 'PLAN_EXISTS', message: 'a plan with this name exists' },
  subscribers_tenant_id_username_key: { code: 'SUBSCRIBER_EXISTS', message: 'a subscriber with this username exists' },
  mpesa_accounts_tenant_shortcode_unique: {
    code: 'MPESA_ACCOUNT_EXISTS',
    message: 'an M-Pesa account with this shortcode exists',
  },
  subscribers_tenant_account_number_unique: {
    code: 'CONFLICT',
    message: 'a subscriber with this account number exists',
  },
  payments_tenant_id_account_id_fkey: {
    missing: { code: 'MPESA_ACCOUNT_NOT_FOUND', message: 'M-Pesa account not found' },
    inUse: { code: 'MPESA_ACCOUNT_IN_USE', message: 'payments were made through this account; deactivate it instead' },
  },
  subscribers_plan_id_fkey: {
    missing: { code: 'PLAN_NOT_FOUND', message: 'plan not found' },
    inUse: { code: 'PLAN_IN_USE', message: 'subscribers are on this plan; move them or deactivate the plan instead' },
  },
};

function constraintMeaning(e: { code?: string; constraint?: string; detail?: string }): Meaning | undefined {
  const m = e.constraint ? CONSTRAINTS[e.constraint] : undefined;
  if (!m) return undefined;
  if ('code' in m) return e.code === '23505' ? m : undefined;
  if (e.code !== '23503') return undefined;
  if (/ is still referenced from table /.test(e.detail ?? '')) return m.inUse;
  if (/ is not present in table /.test(e.detail ?? '')) return m.missing;
  return undefined;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

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

/** Map driver errors to typed errors: named constraints, other unique/foreign key violations, bad values (BAD_VALUE), lost connections. */
export function mapDbError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; constraint?: string; detail?: string; name?: string; message?: string };
  if (!e || typeof e !== 'object') return err;
  if (e.code && CONNECTION_CODES.has(e.code)) {
    return new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable, try again shortly', undefined, {
      cause: err,
    });
  }
  if (e.name === 'KnexTimeoutError' || /Timeout acquiring a connection|Connection terminated/i.test(e.message ?? '')) {
    return new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable, try again shortly', undefined, {
      cause: err,
    });
  }
  const meaning = constraintMeaning(e);
  if (meaning) return new AppError(meaning.code, meaning.message, undefined, { cause: err });
  if (e.code === '23505')
    return new AppError(
      'CONFLICT',
      'a record with these values already exists',
      { constraint: e.constraint },
      { cause: err },
    );
  if (e.code === '23503')
    return new AppError(
      'CONFLICT',
      'a referenced record does not exist or is still in use',
      { constraint: e.constraint },
      { cause: err },
    );
  const badValue = e.code ? BAD_VALUE.get(e.code) : undefined;
  if (badValue) return new AppError('VALIDATION_FAILED', badValue, { constraint: e.constraint }, { cause: err });
  return err;
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
