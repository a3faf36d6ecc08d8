/**
 * Jest globalTeardown: drop the template database and any database of this run that a crashed
 * test left behind, then stop the embedded PostgreSQL if global-setup started one.
 */
import { rm } from 'node:fs/promises';
import { Client } from 'pg';
import { quoteIdent, STATE_KEY, type TestPostgresState } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>)[STATE_KEY] as Partial<TestPostgresState> | undefined;
  if (!state) return;
  try {
    if (state.adminUrl && state.runId) {
      const admin = new Client({ connectionString: state.adminUrl, connectionTimeoutMillis: 5000 });
      admin.on('error', () => undefined);
      await admin.connect();
      try {
        const { rows } = await admin.query<{ datname: string }>(
          `SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)`,
          [state.templateDb ?? '', `lango_test_${state.runId}_`],
        );
        for (const { datname } of rows) {
          await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [datname],
          );
          await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
        }
      } finally {
        await admin.end().catch(() => undefined);
      }
    }
  } finally {
    if (state.embedded) await state.embedded.stop();
    if (state.embeddedDir) await rm(state.embeddedDir, { recursive: true, force: true });
    delete (globalThis as Record<string, unknown>)[STATE_KEY];
  }
}
