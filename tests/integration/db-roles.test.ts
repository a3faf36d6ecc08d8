/**
 * Least privilege in PostgreSQL (src/db/roles.ts): FreeRADIUS's role may only execute its entry
 * points; the application role reads and writes Lango's tables and nothing else; neither can
 * reach the server's files or programs, or write outside Lango's tables.
 */
import { createDb } from '../../src/db/knex';
import { applyPrivileges, loginRoleOf, RADIUS_ENTRY_POINTS } from '../../src/db/roles';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { TEST_ROLES } from '../helpers/global-setup';

let tdb: TestDatabase;
let radius: ReturnType<typeof createDb>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  radius = createDb(tdb.radiusUrl, { max: 2 });
});
afterAll(async () => {
  await radius.destroy();
  await tdb.drop();
});

/** The SQLSTATE a statement fails with (undefined: it worked). */
async function sqlstate(h: ReturnType<typeof createDb>, sql: string): Promise<string | undefined> {
  try {
    await h.raw(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  }
}

// Things neither role may do, with the SQLSTATE PostgreSQL answers (42501 insufficient_privilege).
const FORBIDDEN = [
  [`COPY (SELECT 1) TO PROGRAM 'true'`, '42501'],
  [`SELECT pg_read_file('/etc/hostname')`, '42501'],
  [`SELECT pg_ls_dir('.')`, '42501'],
  [`CREATE TABLE outside_lango (x int)`, '42501'],
  [`CREATE TEMP TABLE scratch (x int)`, '42501'],
  [`SELECT lo_from_bytea(0, 'x')`, '42501'],
  [`CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'`, '42501'],
  [`UPDATE lango_migrations SET name = name`, '42501'],
  [`ALTER FUNCTION lango_authorize(text, text, text, text) OWNER TO CURRENT_USER`, '42501'],
] as const;

describe('FreeRADIUS role', () => {
  it.each(FORBIDDEN)('cannot: %s', async (sql, code) => {
    expect(await sqlstate(radius, sql)).toBe(code);
  });

  it.each(['subscribers', 'radcheck', 'nas', 'radacct', 'users', 'tenants'])(
    'cannot read or write table %s',
    async (t) => {
      expect(await sqlstate(radius, `SELECT 1 FROM ${t} LIMIT 1`)).toBe('42501');
      expect(await sqlstate(radius, `DELETE FROM ${t}`)).toBe('42501');
    },
  );

  it('cannot execute the inner functions, only the entry points', async () => {
    expect(await sqlstate(radius, `SELECT lango_rad_value('x')`)).toBe('42501');
    expect(await sqlstate(radius, `SELECT * FROM lango_authorize_check('127.0.0.1', '', '', '')`)).toBe('42501');
    expect(await sqlstate(radius, `SELECT lango_snapshot_baselines(gen_random_uuid())`)).toBe('42501');
    expect(await sqlstate(radius, `SELECT lango_client_secret('127.0.0.1')`)).toBeUndefined();
    expect(await sqlstate(radius, `SELECT * FROM lango_authorize('127.0.0.1', '', '64', '')`)).toBeUndefined();
  });

  it('may execute exactly the entry points', async () => {
    const r = await tdb.db.raw(
      `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public' AND has_function_privilege(?, p.oid, 'EXECUTE') ORDER BY 1`,
      [TEST_ROLES.radius.name],
    );
    const norm = (s: string) => s.replace(/\s+/g, '');
    expect(r.rows.map((x: { fn: string }) => norm(x.fn)).sort()).toEqual(RADIUS_ENTRY_POINTS.map(norm).sort());
  });
});

describe('application role', () => {
  it.each(FORBIDDEN)('cannot: %s', async (sql, code) => {
    expect(await sqlstate(tdb.appDb, sql)).toBe(code);
  });

  it("reads and writes Lango's tables", async () => {
    expect(await sqlstate(tdb.appDb, `SELECT count(*) FROM subscribers`)).toBeUndefined();
    expect(
      await sqlstate(tdb.appDb, `INSERT INTO tenants (name, slug) VALUES ('Role test', 'role-test-1')`),
    ).toBeUndefined();
    expect(await sqlstate(tdb.appDb, `DELETE FROM tenants WHERE slug = 'role-test-1'`)).toBeUndefined();
  });

  it('is not a superuser and holds no cluster-level rights', async () => {
    const r = await tdb.db.raw(
      `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = ANY(?)`,
      [[TEST_ROLES.app.name, TEST_ROLES.radius.name]],
    );
    expect(r.rows).toHaveLength(2);
    for (const row of r.rows) expect(Object.values(row)).toEqual([false, false, false, false, false]);
  });
});

describe('ownership', () => {
  it('every Lango function and table is owned by a role that is not a superuser', async () => {
    const r = await tdb.db.raw(
      `SELECT 'function ' || p.proname AS what, o.rolsuper FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_roles o ON o.oid = p.proowner WHERE n.nspname = 'public'
       UNION ALL
       SELECT 'table ' || c.relname, o.rolsuper FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_roles o ON o.oid = c.relowner WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S')`,
    );
    expect(r.rows.length).toBeGreaterThan(30);
    expect(r.rows.filter((x: { rolsuper: boolean }) => x.rolsuper)).toEqual([]);
  });

  it('the entry points run as their owner with a fixed search_path', async () => {
    const r = await tdb.db.raw(
      `SELECT p.proname, p.prosecdef, p.proconfig FROM pg_proc p WHERE p.oid = ANY(?::regprocedure[]) ORDER BY 1`,
      [`{${RADIUS_ENTRY_POINTS.map((f) => `"${f}"`).join(',')}}`],
    );
    expect(r.rows).toHaveLength(RADIUS_ENTRY_POINTS.length);
    for (const row of r.rows) {
      expect([row.proname, row.prosecdef]).toEqual([row.proname, true]);
      expect(row.proconfig).toEqual(['search_path=public, pg_temp']);
    }
  });
});

describe('applyPrivileges', () => {
  it('refuses a superuser as the application role, and the migrating role itself', async () => {
    const me = loginRoleOf(tdb.url).name;
    await expect(applyPrivileges(tdb.db, { app: { name: me } })).rejects.toThrow(
      /must not be the role that runs the migrations/,
    );
    const su = `lango_test_su_${Date.now().toString(36)}`;
    await tdb.db.raw(`CREATE ROLE ${su} SUPERUSER NOLOGIN`);
    try {
      await expect(applyPrivileges(tdb.db, { app: { name: su } })).rejects.toThrow(/must not be a superuser/);
      await expect(applyPrivileges(tdb.db, { radius: { name: su } })).rejects.toThrow(/must not be a superuser/);
    } finally {
      await tdb.db.raw(`DROP ROLE ${su}`);
    }
  });

  it('is idempotent and covers objects added after the last run', async () => {
    await tdb.db.raw(`CREATE TABLE later_table (x int)`);
    expect(await sqlstate(tdb.appDb, `SELECT * FROM later_table`)).toBe('42501');
    await applyPrivileges(tdb.db, { app: { name: TEST_ROLES.app.name }, radius: { name: TEST_ROLES.radius.name } });
    await applyPrivileges(tdb.db, { app: { name: TEST_ROLES.app.name }, radius: { name: TEST_ROLES.radius.name } });
    expect(await sqlstate(tdb.appDb, `SELECT * FROM later_table`)).toBeUndefined();
    expect(await sqlstate(radius, `SELECT * FROM later_table`)).toBe('42501');
  });
});
