/** The Lango overlay an experiment runs: a copy of it with BENCH_LANGO_OVERLAY_PATCH applied. */
import { execFileSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import path from 'node:path';
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
