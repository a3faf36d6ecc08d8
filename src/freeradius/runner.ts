/**
 * Runs FreeRADIUS 3.2 with the project's configuration overlay (freeradius/ at the repository
 * root): copies it to a private runtime directory, writes clients.conf for the dynamic-client
 * networks, starts `freeradius -f -l stdout -d <dir>` and waits for "Ready to process requests".
 *
 * The overlay reads everything that varies per instance from $ENV{LANGO_RADIUS_*} (see
 * freeradius/radiusd.conf), so the copy is identical to the source apart from clients.conf.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { parsePostgresUrl, postgresUrlToConninfo, quoteConninfoValue } from './conninfo';
import { NetworkError, parseClientNetwork } from '../config/networks';
import { pickFreeUdpPorts } from './ports';

export interface StartFreeRadiusOptions {
  /** postgres:// URL of Lango's database (turned into a libpq string for rlm_sql). */
  databaseUrl: string;
  /** An IP address, or "*" for every IPv4 address. Default 127.0.0.1. */
  listenAddress?: string;
  /** UDP port for Access-Request; 0 picks a free one. Default 1812. */
  authPort?: number;
  /** UDP port for Accounting-Request; 0 picks a free one. Default 1813. */
  acctPort?: number;
  /** CIDR networks whose NAS are admitted dynamically from the nas table. Default 127.0.0.0/8. */
  clientNetworks?: readonly string[];
  /** Seconds a dynamic client stays cached (a changed secret applies after this). Default 60. */
  clientLifetime?: number;
  /** FreeRADIUS executable. Default "freeradius". */
  binary?: string;
  /** Parent of the private runtime directory (created if missing). */
  stateDir: string;
  /** The overlay to copy. Default: the repository's freeradius/ directory. */
  sourceDir?: string;
  /** -X (single-threaded, full debug log) instead of -f -l stdout. */
  debug?: boolean;
  logger?: Logger;
  /** How long to wait for "Ready to process requests". Default 15000. */
  readyTimeoutMs?: number;
}

export interface FreeRadiusHandle {
  readonly pid: number;
  readonly authPort: number;
  readonly acctPort: number;
  /** The private runtime directory (removed by stop()). */
  readonly dir: string;
  /** The most recent output lines (stdout and stderr, password redacted). */
  output(): string[];
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the runtime directory. Idempotent. */
  stop(): Promise<void>;
}

export class FreeRadiusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The executable was not found (spawn failed with ENOENT). */
export class FreeRadiusNotInstalledError extends FreeRadiusError {
  constructor(readonly binary: string, options?: { cause?: unknown }) {
    super(
      `FreeRADIUS executable "${binary}" was not found: install with apt-get install -y freeradius freeradius-postgresql freeradius-utils`,
      options,
    );
  }
}

/** Invalid options (a client network that is not a CIDR, a bad port...). Nothing was started. */
export class FreeRadiusOptionsError extends FreeRadiusError {}

/** FreeRADIUS exited, failed to spawn, or was not ready in time. `output` is the last lines. */
export class FreeRadiusStartError extends FreeRadiusError {
  constructor(
    reason: string,
    readonly output: readonly string[],
    readonly exitCode: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
    options?: { cause?: unknown },
  ) {
    super(
      output.length ? `${reason}\n--- last ${output.length} lines of FreeRADIUS output ---\n${output.join('\n')}` : reason,
      options,
    );
  }
}

/** `freeradius -XC` rejected the configuration. */
export class FreeRadiusConfigError extends FreeRadiusStartError {}

const READY_MARKER = 'Ready to process requests';
const CONFIG_OK_MARKER = 'Configuration appears to be OK';
const RING_SIZE = 1000;
const ERROR_TAIL = 40;
const STOP_KILL_AFTER_MS = 5000;
const PORT_RETRIES = 3;
const MIN_LITERAL_REDACTION = 4;

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/**
 * The repository's freeradius/ overlay: the first ancestor of `from` that holds
 * freeradius/radiusd.conf (src/freeradius under jest, dist/src/freeradius after tsc).
 */
export function resolveFreeRadiusSourceDir(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, 'freeradius');
    if (existsSync(path.join(candidate, 'radiusd.conf'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new FreeRadiusOptionsError(`no freeradius/radiusd.conf found above ${from}; pass sourceDir`);
    }
    dir = parent;
  }
}

/**
 * Validate a dynamic-client network (the rule lives in src/config/networks.ts, which the
 * configuration uses too): FreeRADIUS refuses a single host (/32, /128) for `dynamic_clients`,
 * so those are rejected here with a clearer message than its own.
 */
export function validateClientNetwork(cidr: string): string {
  try {
    return parseClientNetwork(cidr);
  } catch (err) {
    if (err instanceof NetworkError) throw new FreeRadiusOptionsError(`client network ${err.message}`);
    throw err;
  }
}

/** clients.conf: one dynamic-client network per entry, looked up in the nas table. */
export function renderClientsConf(networks: readonly string[]): string {
  if (networks.length === 0) throw new FreeRadiusOptionsError('at least one client network is required');
  const blocks = networks.map((n, i) =>
    [
      `client lango-dynamic-${i} {`,
      `\tipaddr = ${validateClientNetwork(n)}`,
      '\tdynamic_clients = lango_dynamic_clients',
      '\tlifetime = $ENV{LANGO_RADIUS_CLIENT_LIFETIME}',
      '}',
    ].join('\n'),
  );
  return `# Written by Lango (src/freeradius/runner.ts) for this instance.\n${blocks.join('\n\n')}\n`;
}

function validatePort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FreeRadiusOptionsError(`${name} must be an integer between 0 and 65535, got ${port}`);
  }
}

function validateListen(address: string): void {
  if (address !== '*' && !net.isIP(address)) {
    throw new FreeRadiusOptionsError(`listenAddress must be an IP address or "*", got "${address}"`);
  }
}

interface Resolved {
  databaseUrl: string;
  conninfo: string;
  secrets: string[];
  listenAddress: string;
  authPort: number;
  acctPort: number;
  clientsConf: string;
  clientLifetime: number;
  binary: string;
  stateDir: string;
  sourceDir: string;
  debug: boolean;
  logger: Logger | undefined;
  readyTimeoutMs: number;
}

function resolveOptions(opts: StartFreeRadiusOptions): Resolved {
  const listenAddress = opts.listenAddress ?? '127.0.0.1';
  validateListen(listenAddress);
  const authPort = opts.authPort ?? 1812;
  const acctPort = opts.acctPort ?? 1813;
  validatePort('authPort', authPort);
  validatePort('acctPort', acctPort);
  if (authPort !== 0 && authPort === acctPort) throw new FreeRadiusOptionsError('authPort and acctPort must differ');
  const clientLifetime = opts.clientLifetime ?? 60;
  if (!Number.isInteger(clientLifetime) || clientLifetime < 1) {
    throw new FreeRadiusOptionsError(`clientLifetime must be a positive integer, got ${clientLifetime}`);
  }
  let conninfo: string;
  let password: string | undefined;
  try {
    conninfo = postgresUrlToConninfo(opts.databaseUrl);
    password = parsePostgresUrl(opts.databaseUrl).password;
  } catch (err) {
    throw new FreeRadiusOptionsError((err as Error).message, { cause: err });
  }
  // Literal redaction of very short passwords would garble every line ("p" in a test URL);
  // the password='...' pattern still covers the places FreeRADIUS prints the conninfo.
  const secrets =
    password && password.length >= MIN_LITERAL_REDACTION
      ? [password, quoteConninfoValue(password).slice(1, -1), encodeURIComponent(password)]
      : [];
  return {
    databaseUrl: opts.databaseUrl,
    conninfo,
    secrets: [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length),
    listenAddress,
    authPort,
    acctPort,
    clientsConf: renderClientsConf(opts.clientNetworks ?? ['127.0.0.0/8']),
    clientLifetime,
    binary: opts.binary ?? 'freeradius',
    stateDir: path.resolve(opts.stateDir),
    sourceDir: path.resolve(opts.sourceDir ?? resolveFreeRadiusSourceDir()),
    debug: opts.debug ?? false,
    logger: opts.logger?.child({ module: 'freeradius' }),
    readyTimeoutMs: opts.readyTimeoutMs ?? 15000,
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Runtime directory                                                                           */
/* ------------------------------------------------------------------------------------------ */

/** Recursive copy that keeps symlinks as symlinks (mods-enabled/ and sites-enabled/). */
async function copyTree(src: string, dst: string, top = true): Promise<void> {
  for (const entry of await readdir(src, { withFileTypes: true })) {
    // A var/ left by running FreeRADIUS in place holds logs, not configuration.
    if (top && entry.name === 'var') continue;
    const from = path.join(src, entry.name);
    const to = path.join(dst, entry.name);
    if (entry.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else if (entry.isDirectory()) {
      await mkdir(to, { mode: (await stat(from)).mode & 0o777 });
      await copyTree(from, to, false);
    } else if (entry.isFile()) {
      await copyFile(from, to);
    }
  }
}

async function prepareRuntimeDir(r: Resolved, authPort: number): Promise<string> {
  if (!existsSync(path.join(r.sourceDir, 'radiusd.conf'))) {
    throw new FreeRadiusOptionsError(`${r.sourceDir} has no radiusd.conf`);
  }
  await mkdir(r.stateDir, { recursive: true, mode: 0o700 });
  // mkdtemp: mode 0700 and a random suffix, so concurrent instances never share a directory.
  const dir = await mkdtemp(path.join(r.stateDir, `freeradius-${authPort}-`));
  try {
    await chmod(dir, 0o700);
    await copyTree(r.sourceDir, dir);
    await writeFile(path.join(dir, 'clients.conf'), r.clientsConf, { mode: 0o600 });
    await mkdir(path.join(dir, 'var', 'log', 'radacct'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(dir, 'var', 'run'), { recursive: true, mode: 0o700 });
    return dir;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function childEnv(r: Resolved, authPort: number, acctPort: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LANGO_RADIUS_DB: r.conninfo,
    LANGO_RADIUS_LISTEN: r.listenAddress,
    LANGO_RADIUS_AUTH_PORT: String(authPort),
    LANGO_RADIUS_ACCT_PORT: String(acctPort),
    LANGO_RADIUS_CLIENT_LIFETIME: String(r.clientLifetime),
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Output capture                                                                              */
/* ------------------------------------------------------------------------------------------ */

class OutputRing {
  private readonly lines: string[] = [];
  private readonly partial = new Map<NodeJS.ReadableStream, string>();

  constructor(
    private readonly secrets: readonly string[],
    private readonly onLine: (line: string) => void,
  ) {}

  redact(line: string): string {
    let out = line;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out
      .replace(/password\s*=\s*'(?:[^'\\]|\\.)*'/gi, "password='[redacted]'")
      .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1[redacted]@');
  }

  attach(stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const text = (this.partial.get(stream) ?? '') + chunk;
      const parts = text.split(/\r?\n/);
      this.partial.set(stream, parts.pop() ?? '');
      for (const p of parts) this.push(p);
    });
    stream.on('end', () => {
      const rest = this.partial.get(stream);
      if (rest) this.push(rest);
      this.partial.delete(stream);
    });
  }

  private push(raw: string): void {
    const line = this.redact(raw);
    this.lines.push(line);
    if (this.lines.length > RING_SIZE) this.lines.splice(0, this.lines.length - RING_SIZE);
    this.onLine(line);
  }

  all(): string[] {
    return [...this.lines];
  }

  tail(n = ERROR_TAIL): string[] {
    return this.lines.slice(-n);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Process bookkeeping                                                                         */
/* ------------------------------------------------------------------------------------------ */

/** Children still running: killed if this Node process exits without stop(). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

interface Spawned {
  child: ChildProcess;
  ring: OutputRing;
  /** Resolves with the exit status once the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when spawned, rejects on a spawn error (ENOENT...). */
  spawned: Promise<void>;
}

function spawnFreeRadius(r: Resolved, args: string[], env: NodeJS.ProcessEnv, dir: string): Spawned {
  const log = r.logger;
  const ring = new OutputRing(r.secrets, (line) => {
    if (!log) return;
    if (/\b(error|failed|fatal)\b/i.test(line)) log.warn({ line }, 'freeradius');
    else log.debug({ line }, 'freeradius');
  });
  const child = spawn(r.binary, args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ring.attach(child.stdout);
  ring.attach(child.stderr);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new FreeRadiusNotInstalledError(r.binary, { cause: err }));
      else reject(new FreeRadiusStartError(`cannot run ${r.binary}: ${err.message}`, ring.tail(), null, null, { cause: err }));
    });
  });
  spawned.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' waits for stdout/stderr to drain, so the ring holds the last words; 'error'
    // without 'spawn' never emits 'exit' but does emit 'close'.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  track(child);
  return { child, ring, exited, spawned };
}

/** Wait until `marker` appears in the output; reject if the process exits first or time runs out. */
function waitFor(s: Spawned, marker: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.child.stdout?.off('data', onData);
      s.child.stderr?.off('data', onData);
      if (err) reject(err);
      else resolve();
    };
    // Chunks may split the marker; keep a short overlap.
    let carry = '';
    const onData = (chunk: string | Buffer): void => {
      const text = carry + chunk.toString();
      if (text.includes(marker)) finish();
      carry = text.slice(-marker.length);
    };
    s.child.stdout?.on('data', onData);
    s.child.stderr?.on('data', onData);
    const timer = setTimeout(
      () => finish(new FreeRadiusStartError(`FreeRADIUS was not ${what} within ${timeoutMs} ms`, s.ring.tail())),
      timeoutMs,
    );
    s.spawned.catch((err: Error) => finish(err));
    void s.exited.then(({ code, signal }) => {
      // A last chunk with the marker may arrive together with the exit.
      if (s.ring.all().some((l) => l.includes(marker))) finish();
      else {
        finish(
          new FreeRadiusStartError(
            `FreeRADIUS exited before it was ${what} (${signal ? `signal ${signal}` : `exit code ${code}`})`,
            s.ring.tail(),
            code,
            signal,
          ),
        );
      }
    });
  });
}

async function terminate(s: Spawned): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    await s.exited;
    return;
  }
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
  try {
    await s.exited;
  } finally {
    clearTimeout(killer);
  }
}

/** The port FreeRADIUS could not bind ("Failed binding to auth address ... port N ..."), if any. */
function conflictedPort(err: unknown): number | undefined {
  if (!(err instanceof FreeRadiusStartError)) return undefined;
  for (const line of err.output) {
    const m = /Failed binding to .* port (\d+)/i.exec(line);
    if (m && /address already in use/i.test(line)) return Number(m[1]);
  }
  return undefined;
}

/* ------------------------------------------------------------------------------------------ */
/* Public entry points                                                                         */
/* ------------------------------------------------------------------------------------------ */

async function choosePorts(r: Resolved): Promise<{ authPort: number; acctPort: number }> {
  const wanted = [r.authPort, r.acctPort].filter((p) => p === 0).length;
  const free = wanted ? await pickFreeUdpPorts(r.listenAddress, wanted) : [];
  const authPort = r.authPort === 0 ? (free.shift() as number) : r.authPort;
  let acctPort = r.acctPort === 0 ? (free.shift() as number) : r.acctPort;
  if (acctPort === authPort) acctPort = (await pickFreeUdpPorts(r.listenAddress, 2)).find((p) => p !== authPort) as number;
  return { authPort, acctPort };
}

async function startOnce(r: Resolved, authPort: number, acctPort: number): Promise<FreeRadiusHandle> {
  const dir = await prepareRuntimeDir(r, authPort);
  const args = r.debug ? ['-X', '-d', dir] : ['-f', '-l', 'stdout', '-d', dir];
  const s = spawnFreeRadius(r, args, childEnv(r, authPort, acctPort), dir);
  const started = Date.now();
  try {
    await waitFor(s, READY_MARKER, r.readyTimeoutMs, 'ready');
  } catch (err) {
    await terminate(s).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = s.child.pid as number;
  let stopping: Promise<void> | undefined;
  r.logger?.info({ pid, authPort, acctPort, listen: r.listenAddress, ms: Date.now() - started }, 'FreeRADIUS is ready');
  void s.exited.then(({ code, signal }) => {
    if (!stopping) r.logger?.error({ pid, code, signal, output: s.ring.tail() }, 'FreeRADIUS exited unexpectedly');
  });

  return {
    pid,
    authPort,
    acctPort,
    dir,
    output: () => s.ring.all(),
    stop: () => {
      stopping ??= (async () => {
        await terminate(s);
        await rm(dir, { recursive: true, force: true });
        r.logger?.info({ pid }, 'FreeRADIUS stopped');
      })();
      return stopping;
    },
  };
}

/** Start FreeRADIUS with the overlay; resolves once it answers requests. */
export async function startFreeRadius(opts: StartFreeRadiusOptions): Promise<FreeRadiusHandle> {
  const r = resolveOptions(opts);
  for (let attempt = 1; ; attempt++) {
    const { authPort, acctPort } = await choosePorts(r);
    try {
      return await startOnce(r, authPort, acctPort);
    } catch (err) {
      // A port picked as free was taken before FreeRADIUS bound it: pick again.
      const port = conflictedPort(err);
      const picked = (port === authPort && r.authPort === 0) || (port === acctPort && r.acctPort === 0);
      if (picked && attempt < PORT_RETRIES) {
        r.logger?.warn({ attempt, port }, 'a FreeRADIUS port was taken before it was bound, retrying with another');
        continue;
      }
      throw err;
    }
  }
}

/**
 * `freeradius -XC` on a rendered copy of the overlay. Resolves with the output when FreeRADIUS
 * reports "Configuration appears to be OK", rejects with FreeRadiusConfigError otherwise.
 */
export async function checkFreeRadiusConfig(opts: StartFreeRadiusOptions): Promise<{ output: string[] }> {
  const r = resolveOptions(opts);
  const { authPort, acctPort } = await choosePorts(r);
  const dir = await prepareRuntimeDir(r, authPort);
  try {
    const s = spawnFreeRadius(r, ['-XC', '-d', dir], childEnv(r, authPort, acctPort), dir);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      s.child.kill('SIGKILL');
    }, r.readyTimeoutMs);
    try {
      await s.spawned;
    } catch (err) {
      clearTimeout(timer);
      await s.exited;
      throw err;
    }
    const { code, signal } = await s.exited;
    clearTimeout(timer);
    const output = s.ring.all();
    if (code === 0 && output.some((l) => l.includes(CONFIG_OK_MARKER))) return { output };
    throw new FreeRadiusConfigError(
      timedOut
        ? `freeradius -XC did not finish within ${r.readyTimeoutMs} ms`
        : `FreeRADIUS rejected the configuration (${signal ? `signal ${signal}` : `exit code ${code}`})`,
      s.ring.tail(),
      code,
      signal,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

