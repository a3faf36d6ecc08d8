import type { Knex } from 'knex';
import { migrationSource } from '../../db/migrations';
import { applyPrivileges, type DatabaseRoles } from './roles';

const options = { migrationSource, tableName: 'lango_migrations' };

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, names] = (await db.migrate.latest(options)) as [number, string[]];
  return names;
}

/** Roll back every migration (used by tests proving that down works). */
export async function migrateDownAll(db: Knex): Promise<string[]> {
  const [, names] = (await db.migrate.rollback(options, true)) as [number, string[]];
  return names;
}

export async function migrationStatus(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
  const [applied, pending] = (await db.migrate.list(options)) as [Array<{ name: string }>, Array<[string, unknown]>];
  return { applied: applied.map((a) => a.name), pending: pending.map((p) => p[0]) };
}

/**
 * What `lango migrate` does: the migrations, then the roles and grants of src/db/roles.ts
 * (every run, so objects added by new migrations are covered).
 */
export async function migrateDatabase(db: Knex, roles: DatabaseRoles): Promise<string[]> {
  const names = await migrateLatest(db);
  await applyPrivileges(db, roles);
  return names;
}
