/**
 * radacct partitioned by month (docs/decisions.md 78): a fresh install and a filled table both
 * end up partitioned with every row kept; acctuniqueid stays unique across partitions for every
 * writer; lango_acct_do keeps one row per session; an UPDATE that moves a row between partitions
 * (a late Start) leaves usage_daily equal to radacct's counters; future months are made ahead;
 * archiving detaches whole months while the reports keep their sums.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createDb } from '../../src/db/knex';
import { migrationSource } from '../../db/migrations';
import { migrateLatest } from '../../src/db/migrate';
import { applyPrivileges } from '../../src/db/roles';
import {
  archiveRadacctPartitions,
  createRadacctPartitions,
  listRadacctPartitions,
  parseMonth,
} from '../../src/db/radacct-partitions';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { quoteIdent, urlForDatabase } from '../helpers/global-setup';
import { addNas, FAST, silent } from './enforcement-fixtures';
import { startWorker } from '../../src/jobs/worker';

const MIGRATION = '20261206000100_radacct_partitions';
const options = { migrationSource, tableName: 'lango_migrations' };

/** The UTC month partition name of an instant. */
const monthName = (d: Date) => `radacct_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
const addMonths = (d: Date, n: number) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));

async function newTenant(db: Knex): Promise<{ tenantId: string; ident: string }> {
  const slug = `p-${randomBytes(4).toString('hex')}`;
  const [t] = await db('tenants').insert({ name: slug, slug, time_zone: 'UTC' }).returning('id');
  const ident = `nas-${randomBytes(3).toString('hex')}`;
  await addNas(db, t.id, '127.0.0.1', 'secret', 3799, { identifier: ident });
  return { tenantId: t.id, ident };
}

interface Acct {
  status: 'Start' | 'Interim-Update' | 'Stop' | 'Accounting-On';
  uid: string;
  seconds?: number;
  input?: number;
  output?: number;
  delay?: number;
}

/** One accounting packet through lango_acct_do, as lango_acct passes FreeRADIUS's on. */
async function acct(db: Knex, ident: string, p: Acct): Promise<number> {
  const r = await db.raw(
    `SELECT lango_acct_do(?, '127.0.0.1', ?, 'alice', 'sess', ?, '', '', '', '', ?, ?, ?, 0, ?, 0,
                          '', '', '', '', 'User-Request', '', '', '', '', '', '', '', '') AS n`,
    [p.status, ident, p.uid, p.delay ?? 0, p.seconds ?? 0, p.input ?? 0, p.output ?? 0],
  );
  return r.rows[0].n as number;
}

async function usageSum(
  db: Knex,
  tenantId: string,
): Promise<{ input: number; output: number; seconds: number; sessions: number }> {
  const r = await db.raw(
    `SELECT coalesce(sum(input_octets), 0)::float8 AS input, coalesce(sum(output_octets), 0)::float8 AS output,
            coalesce(sum(session_seconds), 0)::float8 AS seconds, coalesce(sum(sessions), 0)::float8 AS sessions
     FROM usage_daily WHERE tenant_id = ?`,
    [tenantId],
  );
  return r.rows[0];
}

async function radacctSum(
  db: Knex,
  tenantId: string,
): Promise<{ input: number; output: number; seconds: number; sessions: number }> {
  const r = await db.raw(
    `SELECT coalesce(sum(acctinputoctets), 0)::float8 AS input, coalesce(sum(acctoutputoctets), 0)::float8 AS output,
            coalesce(sum(acctsessiontime), 0)::float8 AS seconds, count(*)::float8 AS sessions
     FROM radacct WHERE tenant_id = ?`,
    [tenantId],
  );
  return r.rows[0];
}

const partitionOf = async (db: Knex, uid: string): Promise<string | undefined> =>
  (await db.raw(`SELECT tableoid::regclass::text AS p FROM radacct WHERE acctuniqueid = ?`, [uid])).rows[0]?.p;

describe('a fresh install', () => {
  let tdb: TestDatabase;
  let db: Knex;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = tdb.db;
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it('is partitioned: legacy before this month, this month and 3 ahead, a default, no UNIQUE on the parent', async () => {
    const now = new Date();
    const parts = await listRadacctPartitions(db);
    const names = parts.map((p) => p.name);
    for (let i = 0; i <= 3; i++) expect(names).toContain(monthName(addMonths(now, i)));
    expect(names).toContain('radacct_legacy');
    expect(parts.find((p) => p.isDefault)?.name).toBe('radacct_default');
    expect(parts.find((p) => p.name === 'radacct_legacy')).toMatchObject({
      from: null,
      to: addMonths(now, 0).toISOString(),
    });
    const kind = await db.raw(`SELECT relkind FROM pg_class WHERE oid = 'public.radacct'::regclass`);
    expect(kind.rows[0].relkind).toBe('p');
    const unique = await db.raw(
      `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'public.radacct'::regclass AND indisunique`,
    );
    expect(unique.rows[0].n).toBe(0);
  });

  it('duplicate Start, Interim and Stop through lango_acct_do stay one row, counted once', async () => {
    const { tenantId, ident } = await newTenant(db);
    const uid = randomBytes(8).toString('hex');
    expect(await acct(db, ident, { status: 'Start', uid })).toBe(1);
    expect(await acct(db, ident, { status: 'Start', uid })).toBe(1);
    await acct(db, ident, { status: 'Interim-Update', uid, seconds: 60, input: 1000, output: 2000 });
    await acct(db, ident, { status: 'Interim-Update', uid, seconds: 60, input: 1000, output: 2000 });
    expect(await acct(db, ident, { status: 'Stop', uid, seconds: 120, input: 1500, output: 2500 })).toBe(1);
    // A retransmitted Stop of a closed session changes nothing.
    expect(await acct(db, ident, { status: 'Stop', uid, seconds: 120, input: 1500, output: 2500 })).toBe(0);
    const rows = await db('radacct').where({ acctuniqueid: uid });
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].acctinputoctets)).toBe(1500);
    expect(rows[0].acctterminatecause).toBe('User-Request');
    expect(await db('radacct_keys').where({ acctuniqueid: uid }).count('* as n')).toEqual([{ n: '1' }]);
    expect(await usageSum(db, tenantId)).toEqual({ input: 1500, output: 2500, seconds: 120, sessions: 1 });
  });

  it('concurrent first packets of one session make one row, none fails', async () => {
    const { tenantId, ident } = await newTenant(db);
    const uid = randomBytes(8).toString('hex');
    const packets = Array.from({ length: 10 }, (_, i) =>
      acct(db, ident, { status: i % 3 === 0 ? 'Start' : 'Interim-Update', uid, seconds: 60 + i, input: 100 * i }),
    );
    expect(await Promise.all(packets)).toEqual(Array(10).fill(1));
    expect(await db('radacct').where({ acctuniqueid: uid })).toHaveLength(1);
    expect(await usageSum(db, tenantId)).toEqual(await radacctSum(db, tenantId));
  });

  it('any writer gets 23505 for a second row with the same acctuniqueid, in another partition too', async () => {
    const { tenantId } = await newTenant(db);
    const uid = randomBytes(8).toString('hex');
    const row = {
      tenant_id: tenantId,
      acctsessionid: 's',
      acctuniqueid: uid,
      username: 'bob',
      nasipaddress: '127.0.0.1',
    };
    await db('radacct').insert({ ...row, acctstarttime: new Date() });
    await expect(
      db('radacct').insert({ ...row, acctstarttime: new Date('2020-01-01T00:00:00Z') }),
    ).rejects.toMatchObject({
      code: '23505',
    });
    await expect(db('radacct').insert({ ...row, acctstarttime: null })).rejects.toMatchObject({ code: '23505' });
    // NULL acctstarttime goes to the default partition.
    const other = randomBytes(8).toString('hex');
    await db('radacct').insert({ ...row, acctuniqueid: other, acctstarttime: null });
    expect(await partitionOf(db, other)).toBe('radacct_default');
  });

  it('a late Start moves the row to another partition without counting it twice', async () => {
    const { tenantId, ident } = await newTenant(db);
    const uid = randomBytes(8).toString('hex');
    // The Interim came first: its start is computed 40 days back, a month before this one.
    const forty = 40 * 86400;
    await acct(db, ident, { status: 'Interim-Update', uid, seconds: forty, input: 7000, output: 9000 });
    expect(await partitionOf(db, uid)).toBe('radacct_legacy');
    expect(await usageSum(db, tenantId)).toEqual({ input: 7000, output: 9000, seconds: forty, sessions: 1 });
    // Then the Start: acctstarttime becomes now, so the row moves (DELETE + INSERT triggers).
    expect(await acct(db, ident, { status: 'Start', uid })).toBe(1);
    expect(await partitionOf(db, uid)).toBe(monthName(new Date()));
    expect(await usageSum(db, tenantId)).toEqual({ input: 7000, output: 9000, seconds: forty, sessions: 1 });
    // The key followed the row: the next Interim finds it in its new partition.
    expect(
      await acct(db, ident, { status: 'Interim-Update', uid, seconds: forty + 60, input: 8000, output: 9500 }),
    ).toBe(1);
    expect(await usageSum(db, tenantId)).toEqual({ input: 8000, output: 9500, seconds: forty + 60, sessions: 1 });
    // An operator's UPDATE that moves the row and changes its counters in the same statement.
    await db.raw(
      `UPDATE radacct SET acctstarttime = now() - interval '70 days', acctinputoctets = 10000, acctupdatetime = now()
       WHERE acctuniqueid = ?`,
      [uid],
    );
    expect(await partitionOf(db, uid)).toBe('radacct_legacy');
    expect(await usageSum(db, tenantId)).toEqual(await radacctSum(db, tenantId));
    expect(await acct(db, ident, { status: 'Stop', uid, seconds: forty + 120, input: 11000, output: 9600 })).toBe(1);
    expect(await usageSum(db, tenantId)).toEqual({ input: 11000, output: 9600, seconds: forty + 120, sessions: 1 });
    expect(await radacctSum(db, tenantId)).toEqual(await usageSum(db, tenantId));
    const keys = await db('radacct_keys').where({ acctuniqueid: uid });
    expect(keys).toHaveLength(1);
    expect(keys[0].moved_xact).toBeNull();
  });

  it('Accounting-On closes open sessions in every partition', async () => {
    const { ident } = await newTenant(db);
    const a = randomBytes(8).toString('hex');
    const b = randomBytes(8).toString('hex');
    await acct(db, ident, { status: 'Start', uid: a });
    await acct(db, ident, { status: 'Interim-Update', uid: b, seconds: 40 * 86400, input: 1 });
    expect(await partitionOf(db, a)).not.toBe(await partitionOf(db, b));
    expect(await acct(db, ident, { status: 'Accounting-On', uid: 'on' })).toBe(2);
    // A Stop after the reboot close still records the real end.
    expect(await acct(db, ident, { status: 'Stop', uid: b, seconds: 40 * 86400 + 5, input: 2 })).toBe(1);
  });

  it('makes future months as the app role and moves their rows out of the default partition', async () => {
    const { tenantId } = await newTenant(db);
    const far = addMonths(new Date(), 6);
    const uid = randomBytes(8).toString('hex');
    await db('radacct').insert({
      tenant_id: tenantId,
      acctsessionid: 's',
      acctuniqueid: uid,
      username: 'carol',
      nasipaddress: '127.0.0.1',
      acctstarttime: new Date(far.getTime() + 3600_000),
      acctupdatetime: new Date(),
      acctinputoctets: 42,
    });
    expect(await partitionOf(db, uid)).toBe('radacct_default');
    const before = await usageSum(db, tenantId);
    const created = await createRadacctPartitions(tdb.appDb, 7);
    expect(created).toEqual([4, 5, 6, 7].map((i) => monthName(addMonths(new Date(), i))));
    expect(await createRadacctPartitions(tdb.appDb, 7)).toEqual([]);
    expect(await partitionOf(db, uid)).toBe(monthName(far));
    expect(await db('radacct_keys').where({ acctuniqueid: uid })).toHaveLength(1);
    expect(await usageSum(db, tenantId)).toEqual(before);
    await expect(createRadacctPartitions(tdb.appDb, -1)).rejects.toMatchObject({ code: '22023' });
  });

  it('the worker makes the months ahead as it starts, with the application role', async () => {
    const want = monthName(addMonths(new Date(), 9));
    const exists = async () => (await db.raw(`SELECT to_regclass(?) IS NOT NULL AS ok`, [want])).rows[0].ok as boolean;
    expect(await exists()).toBe(false);
    const worker = startWorker({
      db: tdb.appDb,
      databaseUrl: tdb.appUrl,
      logger: silent,
      options: { ...FAST, sampleSeconds: 0, partitionAhead: 9 },
      heartbeatMs: 0,
    });
    try {
      for (let i = 0; i < 200 && !(await exists()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await exists()).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  it('archive detaches whole months before the bound; the usage report still sums them', async () => {
    const { tenantId, ident } = await newTenant(db);
    const uid = randomBytes(8).toString('hex');
    await acct(db, ident, { status: 'Interim-Update', uid, seconds: 40 * 86400, input: 500, output: 600 });
    const fresh = randomBytes(8).toString('hex');
    await acct(db, ident, { status: 'Start', uid: fresh });
    await acct(db, ident, { status: 'Interim-Update', uid: fresh, seconds: 30, input: 50, output: 60 });
    const report = async () =>
      (
        await db.raw(
          `SELECT sum(input_octets)::float8 AS i, sum(output_octets)::float8 AS o FROM reports.usage_daily WHERE tenant_id = ?`,
          [tenantId],
        )
      ).rows[0];
    expect(await report()).toEqual({ i: 550, o: 660 });
    const out = mkdtempSync(path.join(tmpdir(), 'radacct-archive-'));
    try {
      const thisMonth = parseMonth(new Date().toISOString().slice(0, 7))!;
      const r = await archiveRadacctPartitions(db, tdb.url, thisMonth, out);
      expect(r.detached).toEqual(['radacct_legacy']);
      expect(readdirSync(out)).toEqual(['radacct_legacy.dump']);
      expect(statSync(path.join(out, 'radacct_legacy.dump')).size).toBeGreaterThan(0);
      expect(await db.raw(`SELECT to_regclass('public.radacct_legacy') AS t`)).toMatchObject({ rows: [{ t: null }] });
      expect(await db('radacct').where({ acctuniqueid: uid })).toHaveLength(0);
      expect(await db('radacct_keys').where({ acctuniqueid: uid })).toHaveLength(0);
      expect(await report()).toEqual({ i: 550, o: 660 });
      // The current month still takes accounting, and a row older than every partition now
      // lands in the default partition instead of failing.
      expect(await acct(db, ident, { status: 'Interim-Update', uid: fresh, seconds: 60, input: 70, output: 80 })).toBe(
        1,
      );
      const late = randomBytes(8).toString('hex');
      await acct(db, ident, { status: 'Interim-Update', uid: late, seconds: 40 * 86400, input: 1, output: 1 });
      expect(await partitionOf(db, late)).toBe('radacct_default');
      expect(await report()).toEqual({ i: 571, o: 681 });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('migrating a filled radacct', () => {
  const name = `lango_test_part_${process.pid}_${randomBytes(3).toString('hex')}`;
  let admin: Client;
  let db: Knex;
  let tenantId: string;
  let ident: string;
  const ROWS = 3000;

  beforeAll(async () => {
    admin = new Client({ connectionString: process.env.LANGO_TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
    db = createDb(urlForDatabase(process.env.LANGO_TEST_ADMIN_URL!, name), { min: 0, max: 2 });
    // Every migration before this one, one at a time.
    for (;;) {
      const [, pending] = (await db.migrate.list(options)) as [unknown, Array<[string]>];
      if (pending[0]?.[0] === MIGRATION) break;
      await db.migrate.up(options);
    }
    // As `lango migrate` leaves an install: every object given to the owner role.
    await applyPrivileges(db, {});
    ({ tenantId, ident } = await newTenant(db));
    // Sessions over the last 120 days (some of this month), 10 still open, 5 without a start.
    await db.raw(
      `INSERT INTO radacct (tenant_id, acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime, acctupdatetime,
                            acctstoptime, acctsessiontime, acctinputoctets, acctoutputoctets)
       SELECT ?, 's' || g, 'old-' || g, 'u' || (g % 50), '127.0.0.1',
              CASE WHEN g <= 5 THEN NULL ELSE now() - make_interval(secs => (g * 3456)::float8) END,
              now() - make_interval(secs => (g * 3456)::float8) + interval '10 minutes',
              CASE WHEN g BETWEEN 6 AND 15 THEN NULL ELSE now() - make_interval(secs => (g * 3456)::float8) + interval '10 minutes' END,
              600, g * 10, g * 20
       FROM generate_series(1, ?) g`,
      [tenantId, ROWS],
    );
  });
  afterAll(async () => {
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await admin.end();
  });

  it('keeps every row, their uniqueness and the rollup, and rolls back', async () => {
    const before = await radacctSum(db, tenantId);
    const usageBefore = await usageSum(db, tenantId);
    expect(await migrateLatest(db)).toContain(MIGRATION);
    expect(await radacctSum(db, tenantId)).toEqual(before);
    expect(await usageSum(db, tenantId)).toEqual(usageBefore);
    expect(await db('radacct_keys').count('* as n')).toEqual([{ n: String(ROWS) }]);
    const nulls = await db.raw(
      `SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM radacct WHERE acctstarttime IS NULL GROUP BY 1`,
    );
    expect(nulls.rows).toEqual([{ p: 'radacct_default', n: 5 }]);
    // The old rows are still unique and still updated by accounting.
    await expect(
      db('radacct').insert({
        tenant_id: tenantId,
        acctsessionid: 's',
        acctuniqueid: 'old-100',
        username: 'x',
        nasipaddress: '127.0.0.1',
        acctstarttime: new Date(),
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(
      await acct(db, ident, { status: 'Interim-Update', uid: 'old-10', seconds: 900, input: 5000, output: 6000 }),
    ).toBe(1);
    expect(await usageSum(db, tenantId)).toEqual(await radacctSum(db, tenantId));
    // A session of the legacy table that is closed takes no more updates.
    expect(await acct(db, ident, { status: 'Interim-Update', uid: 'old-100', seconds: 900, input: 1, output: 1 })).toBe(
      0,
    );
    const after = await radacctSum(db, tenantId);

    await db.migrate.rollback(options);
    const kind = await db.raw(`SELECT relkind FROM pg_class WHERE oid = 'public.radacct'::regclass`);
    expect(kind.rows[0].relkind).toBe('r');
    expect(await radacctSum(db, tenantId)).toEqual(after);
    expect(
      await acct(db, ident, { status: 'Interim-Update', uid: 'old-10', seconds: 960, input: 5100, output: 6100 }),
    ).toBe(1);
    expect(await migrateLatest(db)).toContain(MIGRATION);
    expect(await db('radacct').where({ acctuniqueid: 'old-10' }).first()).toMatchObject({ acctinputoctets: '5100' });
  });
});
