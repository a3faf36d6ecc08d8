/**
 * One database per caller, cloned from the migrated template that global-setup.ts created
 * (CREATE DATABASE ... TEMPLATE is a file copy: ~tens of ms instead of running migrations).
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createDb } from '../../src/db/knex';
import { applyDatabasePrivileges } from '../../src/db/roles';
import { quoteIdent, TEST_ROLES, urlForDatabase } from './global-setup';

export interface TestDatabase {
  /** postgres:// URL of the new database (same server and role as the admin URL: for fixtures). */
  url: string;
  /** The same database as the application role (what the API and the worker use). */
  appUrl: string;
  /** The same database as FreeRADIUS's role (EXECUTE on its functions only). */
  radiusUrl: string;
  name: string;
  /** knex handle (admin role), pool max 5: fixtures and assertions. */
  db: Knex;
  /** knex handle as the application role, pool max 5. */
  appDb: Knex;
  /** Destroy the handle and drop the database (WITH (FORCE): FreeRADIUS may still be connected). */
  drop(): Promise<void>;
}

function env(key: string): string {
  const v = process.env[key];
  if (!v) {
    throw new Error(
      `${key} is not set: tests that need a database must run under jest with tests/helpers/global-setup.ts as globalSetup`,
    );
  }
  return v;
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: env('LANGO_TEST_ADMIN_URL'), connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Clones in this worker run one at a time; other workers are handled by retrying on 55006. */
let cloneChain: Promise<unknown> = Promise.resolve();

async function cloneTemplate(name: string): Promise<void> {
  const template = env('LANGO_TEST_TEMPLATE_DB');
  const deadline = Date.now() + 20000;
  for (let attempt = 1; ; attempt++) {
    try {
      await withAdmin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`));
      return;
    } catch (err) {
      // 55006: "source database is being accessed by other users" (a session on the template,
      // e.g. a backend of a just-closed pool that has not exited yet, or another clone).
      if ((err as { code?: string }).code !== '55006' || Date.now() > deadline) throw err;
      await sleep(Math.min(50 * attempt, 500) + Math.floor(Math.random() * 50));
    }
  }
}

/** The URL with another login role (same server and database). */
export function withRole(url: string, role: { name: string; password: string }): string {
  const u = new URL(url);
  u.username = encodeURIComponent(role.name);
  u.password = encodeURIComponent(role.password);
  return u.toString();
}

let counter = 0;

export async function createTestDatabase(): Promise<TestDatabase> {
  const runId = env('LANGO_TEST_RUN_ID');
  const name = `lango_test_${runId}_${process.pid}_${++counter}_${randomBytes(2).toString('hex')}`;
  const clone = cloneChain.then(() => cloneTemplate(name));
  cloneChain = clone.catch(() => undefined);
  await clone;

  const url = urlForDatabase(env('LANGO_TEST_ADMIN_URL'), name);
  const appUrl = withRole(url, TEST_ROLES.app);
  const radiusUrl = withRole(url, TEST_ROLES.radius);
  const db = createDb(url, { min: 0, max: 5 });
  await applyDatabasePrivileges(db, TEST_ROLES);
  const appDb = createDb(appUrl, { min: 0, max: 5 });
  let dropped: Promise<void> | undefined;
  return {
    url,
    appUrl,
    radiusUrl,
    name,
    db,
    appDb,
    drop: () => {
      dropped ??= (async () => {
        await db.destroy();
        await appDb.destroy();
        await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
      })();
      return dropped;
    },
  };
}
