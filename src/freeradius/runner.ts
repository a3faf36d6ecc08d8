/**
 * Runs FreeRADIUS 3.2 with the project's configuration overlay (freeradius/ at the repository
 * root): copies it to a private runtime directory, writes clients.conf for the dynamic-client
 * networks, starts `freeradius -f -l stdout -d <dir>` and waits for "Ready to process requests".
 *
 * The overlay reads everything that varies per instance from $ENV{LANGO_RADIUS_*} (see
 * freeradius/radiusd.conf), so the copy is identical to the source apart from clients.conf.
 *
 * Every instance also answers Status-Server on a loopback port of its own with a secret made
 * for that start (freeradius/sites-available/status): probe() is the readiness check.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { describeExit, spawnChild, terminate, waitForLine, type ExitStatus, type Spawned, type WaitForLineError } from '../process/child';
import { PacketCode, RadiusClient } from '../radius';
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
  /** Loopback port of the Status-Server socket that probe() asks. */
  readonly statusPort: number;
  /** The private runtime directory (removed by stop()). */
  readonly dir: string;
  /** Resolves when the process has exited, for whatever reason (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** The most recent output lines (stdout and stderr, password redacted). */
  output(): string[];
  /** Status-Server to this instance; resolves when it answers, rejects otherwise. */
  probe(opts?: { timeoutMs?: number }): Promise<void>;
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
const STOP_KILL_AFTER_MS = 5000;
const PORT_RETRIES = 3;
const MIN_LITERAL_REDACTION = 4;
/** The Status-Server socket is on IPv4 loopback whatever the NAS-facing address is. */
const STATUS_ADDRESS = '127.0.0.1';
const PROBE_TIMEOUT_MS = 1000;

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

interface Ports {
  authPort: number;
  acctPort: number;
  statusPort: number;
}

function childEnv(r: Resolved, ports: Ports, statusSecret: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LANGO_RADIUS_DB: r.conninfo,
    LANGO_RADIUS_LISTEN: r.listenAddress,
    LANGO_RADIUS_AUTH_PORT: String(ports.authPort),
    LANGO_RADIUS_ACCT_PORT: String(ports.acctPort),
    LANGO_RADIUS_CLIENT_LIFETIME: String(r.clientLifetime),
    LANGO_RADIUS_STATUS_PORT: String(ports.statusPort),
    LANGO_RADIUS_STATUS_SECRET: statusSecret,
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Process                                                                                     */
/* ------------------------------------------------------------------------------------------ */

function spawnFreeRadius(r: Resolved, args: string[], env: NodeJS.ProcessEnv, dir: string): Spawned {
  const log = r.logger;
  const s = spawnChild(r.binary, args, {
    env,
    cwd: dir,
    secrets: r.secrets,
    onLine: (line) => {
      if (!log) return;
      if (/\b(error|failed|fatal)\b/i.test(line)) log.warn({ line }, 'freeradius');
      else log.debug({ line }, 'freeradius');
    },
  });
  // The callers' errors say what to install when the binary is missing.
  const spawned = s.spawned.catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new FreeRadiusNotInstalledError(r.binary, { cause: err });
    throw new FreeRadiusStartError(`cannot run ${r.binary}: ${err.message}`, s.ring.tail(), null, null, { cause: err });
  });
  spawned.catch(() => undefined);
  return { ...s, spawned };
}

/** Wait until `marker` appears in the output; reject if the process exits first or time runs out. */
async function waitFor(s: Spawned, marker: string, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitForLine(s, marker, timeoutMs);
  } catch (err) {
    const f = (err as WaitForLineError).failure;
    if (f.kind === 'spawn') return s.spawned; // rejects with the error that says what to install
    if (f.kind === 'timeout') throw new FreeRadiusStartError(`FreeRADIUS was not ${what} within ${timeoutMs} ms`, s.ring.tail());
    throw new FreeRadiusStartError(
      `FreeRADIUS exited before it was ${what} (${describeExit(f.status)})`,
      s.ring.tail(),
      f.status.code,
      f.status.signal,
    );
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

async function choosePorts(r: Resolved): Promise<Ports> {
  const wanted = [r.authPort, r.acctPort].filter((p) => p === 0).length;
  const free = wanted ? await pickFreeUdpPorts(r.listenAddress, wanted) : [];
  const authPort = r.authPort === 0 ? (free.shift() as number) : r.authPort;
  let acctPort = r.acctPort === 0 ? (free.shift() as number) : r.acctPort;
  if (acctPort === authPort) acctPort = (await pickFreeUdpPorts(r.listenAddress, 2)).find((p) => p !== authPort) as number;
  const taken = new Set([authPort, acctPort]);
  const statusPort = (await pickFreeUdpPorts(STATUS_ADDRESS, 3)).find((p) => !taken.has(p)) as number;
  return { authPort, acctPort, statusPort };
}

/** Status-Server with Message-Authenticator (the socket's client requires it). */
async function probeStatus(port: number, secret: string, timeoutMs: number): Promise<void> {
  const client = new RadiusClient({ host: STATUS_ADDRESS, port, secret, retransmit: [timeoutMs] });
  try {
    const res = await client.statusServer();
    if (res.packet.code !== PacketCode.AccessAccept) throw new FreeRadiusError(`Status-Server answered with code ${res.packet.code}`);
  } finally {
    await client.close();
  }
}

async function startOnce(r: Resolved, ports: Ports): Promise<FreeRadiusHandle> {
  const dir = await prepareRuntimeDir(r, ports.authPort);
  const args = r.debug ? ['-X', '-d', dir] : ['-f', '-l', 'stdout', '-d', dir];
  // Per start, so a probe secret never outlives its process.
  const statusSecret = randomBytes(18).toString('base64url');
  const s = spawnFreeRadius(r, args, childEnv(r, ports, statusSecret), dir);
  const started = Date.now();
  try {
    await waitFor(s, READY_MARKER, r.readyTimeoutMs, 'ready');
  } catch (err) {
    await terminate(s, 'SIGTERM', STOP_KILL_AFTER_MS).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = s.child.pid as number;
  let stopping: Promise<void> | undefined;
  r.logger?.info({ pid, ...ports, listen: r.listenAddress, ms: Date.now() - started }, 'FreeRADIUS is ready');

  return {
    pid,
    authPort: ports.authPort,
    acctPort: ports.acctPort,
    statusPort: ports.statusPort,
    dir,
    exited: s.exited,
    output: () => s.ring.all(),
    probe: (o = {}) => probeStatus(ports.statusPort, statusSecret, o.timeoutMs ?? PROBE_TIMEOUT_MS),
    stop: () => {
      stopping ??= (async () => {
        await terminate(s, 'SIGTERM', STOP_KILL_AFTER_MS);
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
    const ports = await choosePorts(r);
    try {
      return await startOnce(r, ports);
    } catch (err) {
      // A port picked as free was taken before FreeRADIUS bound it: pick again.
      const port = conflictedPort(err);
      const picked =
        (port === ports.authPort && r.authPort === 0) || (port === ports.acctPort && r.acctPort === 0) || port === ports.statusPort;
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
  const ports = await choosePorts(r);
  const dir = await prepareRuntimeDir(r, ports.authPort);
  try {
    const s = spawnFreeRadius(r, ['-XC', '-d', dir], childEnv(r, ports, 'check-only'), dir);
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

