import { DatabaseError } from 'pg';
import { mapDbError } from '../../../src/db/errors';
import { AppError } from '../../../src/lib/errors';

/** A driver error as pg raises it: the server's message (it quotes the value) and SQLSTATE. */
function pgError(code: string, message: string): DatabaseError {
  return Object.assign(new DatabaseError(message, 0, 'error'), { code, severity: 'ERROR' });
}

describe('mapDbError', () => {
  it.each([
    ['22001', 'value too long for type character varying(2)'],
    ['22003', 'value "12345678901234567890" is out of range for type bigint'],
    ['22007', 'invalid input syntax for type timestamp with time zone: "yesterday-ish"'],
    ['22008', 'date/time field value out of range: "0000-01-01T00:00:00Z"'],
    ['22009', 'time zone displacement out of range: "2024-01-01T00:00:00+23:00"'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
    ['22P02', 'invalid input syntax for type inet: "fe80::1%eth0"'],
    ['23502', 'null value in column "name" of relation "plans" violates not-null constraint'],
    ['23514', 'new row for relation "plans" violates check constraint "plans_price_check"'],
  ])('turns SQLSTATE %s (a bad value) into VALIDATION_FAILED without the driver text', (code, message) => {
    const err = pgError(code, message);
    const mapped = mapDbError(err);
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped).toMatchObject({ code: 'VALIDATION_FAILED', status: 400, cause: err });
    expect((mapped as AppError).message).not.toContain(message.slice(0, 20));
  });

  it('keeps conflicts and lost connections, and leaves errors that are our bugs unmapped', () => {
    expect(mapDbError(pgError('23505', 'duplicate key'))).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(mapDbError(pgError('57P01', 'terminating connection'))).toMatchObject({
      code: 'DATABASE_UNAVAILABLE',
      status: 503,
    });
    // division_by_zero and a syntax error come from our SQL, not from the client's values.
    for (const code of ['22012', '42601', '42P01']) {
      const err = pgError(code, 'x');
      expect(mapDbError(err)).toBe(err);
    }
    const app = new AppError('NOT_FOUND', 'x');
    expect(mapDbError(app)).toBe(app);
    expect(mapDbError(undefined)).toBeUndefined();
  });
});

describe('constraint names map to domain errors (db/errors.ts CONSTRAINTS)', () => {
  const violation = (code: string, constraint: string, detail = '') =>
    Object.assign(pgError(code, 'x'), { constraint, detail });

  it.each([
    ['tenants_slug_key', 'TENANT_EXISTS'],
    ['users_email_tenant_unique', 'USER_EXISTS'],
    ['plans_tenant_name_unique', 'PLAN_EXISTS'],
    ['subscribers_tenant_id_username_key', 'SUBSCRIBER_EXISTS'],
  ])('a unique violation of %s is %s (409), without the constraint in details', (constraint, code) => {
    const mapped = mapDbError(violation('23505', constraint)) as AppError;
    expect(mapped).toMatchObject({ code, status: 409 });
    expect(mapped.details).toBeUndefined();
  });

  it('a foreign key tells a missing reference from one still in use', () => {
    expect(
      mapDbError(
        violation('23503', 'subscribers_plan_id_fkey', 'Key (id)=(x) is still referenced from table "subscribers".'),
      ),
    ).toMatchObject({ code: 'PLAN_IN_USE', status: 409 });
    expect(
      mapDbError(violation('23503', 'subscribers_plan_id_fkey', 'Key (plan_id)=(x) is not present in table "plans".')),
    ).toMatchObject({ code: 'PLAN_NOT_FOUND', status: 404 });
    expect(mapDbError(violation('23503', 'subscribers_plan_id_fkey', 'localised detail'))).toMatchObject({
      code: 'CONFLICT',
      status: 409,
    });
  });

  it('other constraints stay a CONFLICT naming the constraint; a name under another SQLSTATE is not taken for it', () => {
    expect(mapDbError(violation('23505', 'api_keys_prefix_key'))).toMatchObject({
      code: 'CONFLICT',
      details: { constraint: 'api_keys_prefix_key' },
    });
    expect(mapDbError(violation('23503', 'tenants_slug_key'))).toMatchObject({ code: 'CONFLICT' });
  });
});
