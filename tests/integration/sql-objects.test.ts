import { readFileSync } from 'node:fs';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { newestSqlObjects } from '../../src/db/sql-objects';

/**
 * db/sql is the single source of SQL objects: after `migrate latest` every function in the
 * database must be exactly its newest file (pg_get_functiondef, so formatting is PostgreSQL's),
 * and every lango_* function in the database must have a file.
 */
describe('db/sql objects', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  const defsOf = async (h: TestDatabase['db'], name: string) =>
    (
      await h.raw(
        `SELECT p.oid::int AS oid, pg_get_functiondef(p.oid) AS def FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = ? ORDER BY p.oid`,
        [name],
      )
    ).rows as Array<{ oid: number; def: string }>;

  const all = newestSqlObjects('functions');
  const functions = all.filter((f) => !f.dropped);

  it('has files for the functions', () => {
    expect(functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['functions/lango_authorize', 'functions/lango_acct']),
    );
  });

  it.each(functions.map((f) => [f.name, f.version, f.file] as const))(
    '%s: the database holds v%d',
    async (name, _version, file) => {
      const fn = name.replace(/^functions\//, '');
      const before = await defsOf(tdb.db, fn);
      expect(before.length).toBe(1);
      const trx = await tdb.db.transaction();
      try {
        // Re-create it from the file inside a transaction that is rolled back: same oid (so the
        // same signature) and the same definition means the file is what is deployed.
        await trx.raw(readFileSync(file, 'utf8'));
        expect(await defsOf(trx as unknown as TestDatabase['db'], fn)).toEqual(before);
      } finally {
        await trx.rollback();
      }
    },
  );

  // Also: an object whose newest file is a DROP is absent.
  it('every lango_* function in the database has a file', async () => {
    const rows = (
      await tdb.db.raw(
        `SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.proname LIKE 'lango\\_%' ORDER BY 1`,
      )
    ).rows as Array<{ proname: string }>;
    expect(rows.map((r) => `functions/${r.proname}`)).toEqual(functions.map((f) => f.name));
  });

  const views = newestSqlObjects('views').filter((v) => !v.dropped);
  const viewDef = async (h: TestDatabase['db'], name: string) =>
    (
      await h.raw(
        `SELECT c.oid::int AS oid, pg_get_viewdef(c.oid) AS def, c.reloptions AS options FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'reports' AND c.relname = ?`,
        [name],
      )
    ).rows;

  it.each(views.map((v) => [v.name, v.version, v.file] as const))(
    '%s: the database holds v%d',
    async (name, _version, file) => {
      const view = name.replace(/^views\//, '');
      const before = await viewDef(tdb.db, view);
      expect(before.length).toBe(1);
      const trx = await tdb.db.transaction();
      try {
        await trx.raw(readFileSync(file, 'utf8'));
        expect(await viewDef(trx as unknown as TestDatabase['db'], view)).toEqual(before);
      } finally {
        await trx.rollback();
      }
    },
  );

  it('every view in schema reports has a file', async () => {
    const rows = (
      await tdb.db.raw(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'reports' ORDER BY 1`,
      )
    ).rows as Array<{ relname: string }>;
    expect(rows.map((r) => `views/${r.relname}`)).toEqual(views.map((v) => v.name));
  });
});
