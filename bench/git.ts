import { execFileSync } from 'node:child_process';

/** The commit measured, and whether freeradius/ or db/ differ from it (read-only git). */
export function sourceVersion(root: string): string {
  try {
    const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    const dirty = execFileSync(
      'git',
      ['--no-optional-locks', '-C', root, 'status', '--porcelain', '--', 'freeradius', 'db'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .trim();
    return dirty ? `${sha} with uncommitted changes in freeradius/ or db/` : sha;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
