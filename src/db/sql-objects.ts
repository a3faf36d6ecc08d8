/**
 * SQL objects (functions, and the views of schema reports) are defined once, in
 * db/sql/<kind>/<name>.v<N>.sql: one file per version of one object, frozen once it has landed,
 * exactly like a migration. Migrations load a named version (`up` loads vN, `down` loads vN-1)
 * instead of restating bodies, and tests/integration/sql-objects.test.ts checks that after
 * `migrate latest` every object in the database is its newest file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** db/sql of this checkout (works from src/ under jest and from dist/ after a build). */
export function sqlDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'db', 'sql')))
      return path.join(dir, 'db', 'sql');
    if (path.dirname(dir) === dir) throw new Error(`db/sql not found above ${__dirname}`);
  }
}

/** The text of one object version, e.g. sqlObject('functions/lango_text', 2). */
export function sqlObject(name: string, version: number): string {
  return readFileSync(path.join(sqlDir(), `${name}.v${version}.sql`), 'utf8');
}

export interface SqlObjectFile {
  /** e.g. functions/lango_text */
  name: string;
  version: number;
  file: string;
  /** The newest version removes the object (its file is a DROP). */
  dropped: boolean;
}

/** The newest version of every object in db/sql/<kind>. */
export function newestSqlObjects(kind: 'functions' | 'views'): SqlObjectFile[] {
  const dir = path.join(sqlDir(), kind);
  if (!existsSync(dir)) return [];
  const newest = new Map<string, SqlObjectFile>();
  for (const f of readdirSync(dir)) {
    const m = /^(.+)\.v(\d+)\.sql$/.exec(f);
    if (!m) continue;
    const name = `${kind}/${m[1]}`;
    const version = Number(m[2]);
    const cur = newest.get(name);
    if (cur && cur.version >= version) continue;
    const file = path.join(dir, f);
    const dropped = /^\s*DROP\b/im.test(readFileSync(file, 'utf8').replace(/^\s*--.*$/gm, ''));
    newest.set(name, { name, version, file, dropped });
  }
  return [...newest.values()].sort((a, b) => a.name.localeCompare(b.name));
}
