import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes <stem>-<date>.json and .md into dir, or -<date>-2, -3... when a run of that day exists. */
export async function writeResultFiles(
  dir: string,
  stem: string,
  date: string,
  json: unknown,
  md: string,
): Promise<{ md: string; json: string }> {
  await mkdir(dir, { recursive: true });
  for (let n = 1; ; n++) {
    const base = path.join(dir, n === 1 ? `${stem}-${date}` : `${stem}-${date}-${n}`);
    if (!existsSync(`${base}.md`) && !existsSync(`${base}.json`)) {
      await writeFile(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
      await writeFile(`${base}.md`, md);
      return { md: `${base}.md`, json: `${base}.json` };
    }
  }
}
