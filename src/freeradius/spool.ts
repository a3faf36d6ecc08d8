/**
 * The accounting spool (decoupled accounting, docs/accounting-spool.md): FreeRADIUS appends every
 * Accounting-Request to an hourly file in this directory and answers it; the reader server
 * replays the files into SQL in order and deletes each one when done. What is still in the
 * directory has been acknowledged to a NAS but is not in radacct yet.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface AccountingBacklog {
  /** Spool files not yet replayed completely (detail-YYYYMMDDHH and the reader's detail.work). */
  files: number;
  /** Their total size: roughly 600-900 bytes per packet. 0 when radacct has everything. */
  bytes: number;
  /** Modification time of the oldest such file, if any. */
  oldest: Date | undefined;
}

const SPOOL_FILE = /^detail(-\d{10}|\.work)$/;

/** What is in the spool now (an absent directory is an empty spool). */
export async function accountingBacklog(dir: string): Promise<AccountingBacklog> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files: 0, bytes: 0, oldest: undefined };
    throw err;
  }
  let files = 0;
  let bytes = 0;
  let oldest: Date | undefined;
  for (const name of names.filter((n) => SPOOL_FILE.test(n))) {
    // A file the reader renamed or deleted between readdir and stat is no longer backlog.
    const st = await stat(path.join(dir, name)).catch(() => undefined);
    if (!st) continue;
    files++;
    bytes += st.size;
    if (!oldest || st.mtime < oldest) oldest = st.mtime;
  }
  return { files, bytes, oldest };
}
