/**
 * The real `lango up` (bin/lango, compiled by `npm test`'s build step) as a child process: waits
 * for its "Ctrl-C stops everything." line and reads what it printed. Also the other command-line
 * helpers the e2e tests share: radtest, JSON over fetch, copying the checkout elsewhere, and
 * removing a state directory with what the embedded PostgreSQL keeps outside it as root.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, rmSync } from 'node:fs';
import { cp, link, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface LangoUp {
  child: ChildProcess;
  lines: string[];
  apiUrl: string;
  authPort: number;
  adminEmail: string;
  adminPassword: string;
  /** The demo tenant's owner (a password of its own). */
  ownerEmail: string;
  ownerPassword: string;
  /** SIGINT; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `node <checkout>/bin/lango up` and waits for its "Ctrl-C stops everything." line. */
export function startLangoUp(opts: {
  env: Record<string, string>;
  checkout?: string;
  cwd?: string;
  timeoutMs?: number;
}): Promise<LangoUp> {
  const checkout = opts.checkout ?? REPO_ROOT;
  const child = spawn(process.execPath, [path.join(checkout, 'bin/lango'), 'up'], {
    cwd: opts.cwd ?? checkout,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    let up = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lango up did not come up:\n${lines.join('\n')}`));
    }, opts.timeoutMs ?? 90000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (up || !lines.some((l) => l.includes('Ctrl-C stops everything.'))) return;
      up = true;
      clearTimeout(timer);
      const text = lines.join('\n');
      const admin = /Platform admin (\S+) \/ (\S+)/.exec(text)!;
      const owner = /Demo tenant\s+(\S+) \/ (\S+)/.exec(text)!;
      resolve({
        child,
        lines,
        apiUrl: /API\s+(http:\/\/\S+)\/api\/v1/.exec(text)![1]!,
        authPort: Number(/auth 127\.0\.0\.1:(\d+)/.exec(text)![1]),
        adminEmail: admin[1]!,
        adminPassword: admin[2]!,
        ownerEmail: owner[1]!,
        ownerPassword: owner[2]!,
        stop: () =>
          new Promise((res) => {
            if (child.exitCode !== null) return res(child.exitCode);
            child.once('exit', (code) => res(code));
            child.kill('SIGINT');
          }),
      });
    });
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lango up exited with ${code}:\n${lines.join('\n')}`));
    });
  });
}

/** Output of radtest (or any short command) whatever its exit code. */
export const sh = (cmd: string, args: string[]) =>
  new Promise<string>((resolve) =>
    execFile(cmd, args, { timeout: 20000 }, (_e, out, err) => resolve(`${out}\n${err}`)),
  );

/** The radtest line `lango up` printed, run as printed. */
export function runPrintedRadtest(up: LangoUp): Promise<string> {
  const line = up.lines.find((l) => l.trim().startsWith('radtest '))!.trim();
  return sh('radtest', line.split(/\s+/).slice(1));
}

export async function json(url: string, body?: unknown, token?: string) {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Hard links where the file system allows it (fast, no space), copies otherwise. */
async function linkTree(src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true });
  for (const e of await readdir(src, { withFileTypes: true })) {
    const from = path.join(src, e.name);
    const to = path.join(dst, e.name);
    if (e.isSymbolicLink()) await symlink(await readlink(from), to);
    else if (e.isDirectory()) await linkTree(from, to);
    else if (e.isFile()) await link(from, to).catch(() => cp(from, to));
  }
}

/**
 * What a newcomer has after `git clone` and `npm ci`: the files git knows (tracked, or new and
 * not ignored) plus the installed node_modules and the compiled dist/, at `dest`.
 */
export async function copyCheckout(dest: string): Promise<void> {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
  })
    .toString()
    .split('\0')
    .filter((f) => f && existsSync(path.join(REPO_ROOT, f)));
  for (const f of files) {
    const to = path.join(dest, f);
    await mkdir(path.dirname(to), { recursive: true });
    const from = path.join(REPO_ROOT, f);
    if (lstatSync(from).isSymbolicLink()) await symlink(readlinkSync(from), to);
    else await cp(from, to);
  }
  await linkTree(path.join(REPO_ROOT, 'node_modules'), path.join(dest, 'node_modules'));
  await linkTree(path.join(REPO_ROOT, 'dist'), path.join(dest, 'dist'));
}

/** A state directory and, as root, the embedded PostgreSQL's cluster directory it links to. */
export function removeStateDir(stateDir: string): void {
  const link = path.join(stateDir, 'postgres');
  if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
    const data = path.resolve(stateDir, readlinkSync(link));
    // <cluster>/data, <cluster>/state-dir (src/db/embedded-postgres.ts)
    if (path.basename(data) === 'data') rmSync(path.dirname(data), { recursive: true, force: true });
  }
  rmSync(stateDir, { recursive: true, force: true });
}
