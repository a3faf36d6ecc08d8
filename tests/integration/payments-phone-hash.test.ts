/**
 * subscribers.phone_hash is computed by PostgreSQL (lango_msisdn, a generated column) and must
 * equal src/mpesa/phone.ts hashPhone() for every number the normaliser accepts, and be NULL for
 * what it refuses: otherwise a C2B payment by hashed MSISDN would not find its subscriber.
 */
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { hashPhone, parsePhone } from '../../src/mpesa/phone';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => tdb?.drop());

const INPUTS = [
  '0712345678',
  '0112345678',
  '712345678',
  '112345678',
  '254712345678',
  '+254712345678',
  '+254 712 345 678',
  '0712-345-678',
  '(0712) 345678',
  '254 0712345678',
  '+2540712345678',
  '0812345678',
  '071234567',
  '07123456789',
  '+255712345678',
  '',
  'abc',
  '0712 345 67a',
  '2547123456789',
  '25471234567',
];

it.each(INPUTS)('%j hashes the same in SQL and TypeScript', async (input) => {
  const r = await tdb.db.raw(`SELECT lango_msisdn(?) AS m, encode(sha256(lango_msisdn(?)::bytea), 'hex') AS h`, [
    input,
    input,
  ]);
  const p = parsePhone(input);
  expect(r.rows[0].m).toBe(p.ok ? p.msisdn : null);
  expect(r.rows[0].h).toBe(p.ok ? hashPhone(input) : null);
});
