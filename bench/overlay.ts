/** The Lango overlay an experiment runs: a copy of it with BENCH_LANGO_OVERLAY_PATCH applied. */
import { execFileSync } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { resolveFreeRadiusSourceDir } from '../src/freeradius';

/** sourceDir (default: the repository's freeradius/) patched into stateDir, or sourceDir itself without a patch. */
export async function patchedOverlay(
  stateDir: string,
  sourceDir: string | undefined,
  patch: string | undefined,
): Promise<string | undefined> {
  if (!patch) return sourceDir;
  const dir = path.join(stateDir, 'lango-overlay');
  await cp(sourceDir ?? resolveFreeRadiusSourceDir(__dirname), dir, { recursive: true, verbatimSymlinks: true });
  execFileSync('patch', ['-p1', '--forward', '--batch', '-d', dir, '-i', patch], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return dir;
}

/** BENCH_LANGO_SQL: SQL files run on Lango's benchmark database after seeding, then ANALYZE. */
export async function applyExperimentSql(url: string, files: readonly string[] | undefined): Promise<void> {
  if (!files) return;
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (const f of files) await c.query(await readFile(f, 'utf8'));
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}
