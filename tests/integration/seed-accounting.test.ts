/** `lango seed-accounting`: the rows asked for, over the tenants asked for, and the rollup kept on the way. */
import { Writable } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { seedAccounting } from '../../src/cli/seed-accounting';
import { parseArgs, UsageError } from '../../src/cli/args';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

it('seeds N rows across T tenants, with a progress bar, and the rollup equals radacct', async () => {
  let progress = '';
  const out = new Writable({
    write: (chunk, _enc, cb) => {
      progress += String(chunk);
      cb();
    },
  });
  const r = await seedAccounting(
    tdb.db,
    parseArgs(['--rows', '25000', '--tenants', '3', '--users', '50', '--days', '10']),
    out,
  );
  expect(r.rows).toBe(25000);
  expect(progress).toContain('100.0% 25000/25000 rows');
  const counts = (
    await tdb.db.raw(
      `SELECT tenant_id, count(*)::int AS n, sum(acctinputoctets + acctoutputoctets)::float8 AS bytes, count(DISTINCT (acctstarttime AT TIME ZONE 'UTC')::date)::int AS days FROM radacct GROUP BY tenant_id ORDER BY tenant_id`,
    )
  ).rows;
  expect(counts.map((c: { n: number }) => c.n).reduce((a: number, b: number) => a + b, 0)).toBe(25000);
  expect(counts).toHaveLength(3);
  expect(Math.min(...counts.map((c: { days: number }) => c.days))).toBeGreaterThanOrEqual(10);
  const rolled = (
    await tdb.db.raw(
      `SELECT tenant_id, sum(input_octets + output_octets)::float8 AS bytes FROM usage_daily GROUP BY tenant_id ORDER BY tenant_id`,
    )
  ).rows;
  expect(rolled).toEqual(
    counts.map((c: { tenant_id: string; bytes: number }) => ({ tenant_id: c.tenant_id, bytes: c.bytes })),
  );
  // A second run reuses the tenants.
  await seedAccounting(tdb.db, parseArgs(['--rows', '10', '--tenants', '3']), out);
  expect((await tdb.db.raw(`SELECT count(*)::int AS n FROM tenants WHERE slug LIKE 'seed-%'`)).rows[0].n).toBe(3);
});

it('refuses bad numbers', async () => {
  await expect(seedAccounting(tdb.db, parseArgs(['--rows', '-5']))).rejects.toBeInstanceOf(UsageError);
  await expect(seedAccounting(tdb.db, parseArgs(['--rows', '10', '--tenants', 'x']))).rejects.toBeInstanceOf(
    UsageError,
  );
});

it('with --payments, payments over the tenants and days, each completed one with its ledger credit', async () => {
  await seedAccounting(tdb.db, parseArgs(['--rows', '10', '--tenants', '3', '--payments', '3000', '--days', '5']));
  const r = (
    await tdb.db.raw(
      `SELECT count(*)::int AS n, count(DISTINCT tenant_id)::int AS tenants, count(DISTINCT channel)::int AS channels,
              count(*) FILTER (WHERE state = 'completed')::int AS completed, count(DISTINCT plan_id)::int AS plans,
              min(created_at) >= now() - interval '5 days' AS within
         FROM payments`,
    )
  ).rows[0];
  expect(r).toMatchObject({ n: 3000, tenants: 3, channels: 3, plans: 9, within: true });
  expect(r.completed).toBeGreaterThan(2000);
  const credits = (
    await tdb.db.raw(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE p.state <> 'completed' OR l.amount <> p.amount)::int AS wrong
         FROM ledger_entries l JOIN payments p ON p.id = l.payment_id`,
    )
  ).rows[0];
  expect(credits).toEqual({ n: r.completed, wrong: 0 });
});
