import { isTransientDbError, mapDbError, sqlState } from '../../../src/db/errors';

const pg = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('database errors: what the worker retries and what it does not', () => {
  it.each(['08006', '57P01', '40001', '40P01', '53300', '57014'])('SQLSTATE %s is transient', (code) => {
    expect(isTransientDbError(pg(code))).toBe(true);
  });

  it('lost connections and pool timeouts are transient', () => {
    expect(isTransientDbError(pg('ECONNREFUSED'))).toBe(true);
    expect(
      isTransientDbError(
        Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' }),
      ),
    ).toBe(true);
    expect(isTransientDbError(mapDbError(pg('ECONNRESET')))).toBe(true);
  });

  it.each(['23505', '23503', '23514', '22003', '22P02', '42703'])(
    'SQLSTATE %s is not, wrapped by mapDbError or not',
    (code) => {
      expect(isTransientDbError(pg(code))).toBe(false);
      expect(isTransientDbError(mapDbError(pg(code)))).toBe(false);
      expect(sqlState(mapDbError(pg(code)))).toBe(code);
    },
  );

  it('errors that are not from the driver are not transient', () => {
    expect(isTransientDbError(new TypeError('x'))).toBe(false);
    expect(sqlState(new TypeError('x'))).toBeUndefined();
  });
});
