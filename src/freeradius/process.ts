/**
 * The one FreeRADIUS launcher. launchFreeRadius() runs `freeradius -f -l stdout -d <dir>` (or
 * -X) on a prepared raddb directory through src/process/child.ts and waits for "Ready to
 * process requests"; startFreeRadius() prepares Lango's instance (options.ts, runtime-dir.ts)
 * and launches it, picking other ports if one was taken meanwhile. The product (`lango radius`,
 * `lango up`), the tests (including fixture raddb directories passed as sourceDir) and the
 * benchmark's stock FreeRADIUS all start it here.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { describeExit, spawnChild, terminate, waitForLine, type ExitStatus, type Spawned, type WaitForLineError } from '../process/child';
import { PacketCode, RadiusClient } from '../radius';
import { FreeRadiusConfigError, FreeRadiusError, FreeRadiusNotInstalledError, FreeRadiusStartError } from './errors';
import { resolveFreeRadiusOptions, type ResolvedFreeRadiusOptions, type StartFreeRadiusOptions } from './options';
import { accountingBacklog, type AccountingBacklog } from './spool';
import { chooseInstancePorts, instanceEnv, prepareRuntimeDir, STATUS_ADDRESS, type InstancePorts } from './runtime-dir';

export interface LaunchFreeRadiusOptions {
  /** A prepared raddb directory. It belongs to the process from now on: stop() removes it, and so does a failed start. */
  dir: string;
  /** Default "freeradius". */
  binary?: string;
  /** -X (single-threaded, full debug log) instead of -f -l stdout. */
  debug?: boolean;
  /** The child's whole environment. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Literal strings redacted from the kept output. */
  secrets?: readonly string[];
  logger?: Logger;
  /** How long to wait for "Ready to process requests". Default 15000. */
  readyTimeoutMs?: number;
  /** Extra fields for the "FreeRADIUS is ready" log line. */
  logFields?: object;
}

/** A FreeRADIUS process serving requests from its raddb directory. */
export interface FreeRadiusProcess {
  readonly pid: number;
  /** The raddb directory (removed by stop()). */
  readonly dir: string;
  /** Resolves when the process has exited, for whatever reason (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** The most recent output lines (stdout and stderr, secrets redacted). */
  output(): string[];
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the directory. Idempotent. */
  stop(): Promise<void>;
}

export interface FreeRadiusHandle extends FreeRadiusProcess {
  readonly authPort: number;
  readonly acctPort: number;
  /** Loopback port of the Status-Server socket that probe() asks. */
  readonly statusPort: number;
  /** Status-Server to this instance; resolves when it answers, rejects otherwise. */
  probe(opts?: { timeoutMs?: number }): Promise<void>;
  /** The accounting spool of this instance (kept after stop()). */
  readonly accountingSpoolDir: string;
  /** Accounting acknowledged to a NAS but not yet replayed into radacct. */
  accountingBacklog(): Promise<AccountingBacklog>;
}

const READY_MARKER = 'Ready to process requests';
const CONFIG_OK_MARKER = 'Configuration appears to be OK';
const STOP_KILL_AFTER_MS = 5000;
const PORT_RETRIES = 3;
const PROBE_TIMEOUT_MS = 1000;

function spawnFreeRadius(binary: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd: string; secrets: readonly string[]; logger: Logger | undefined }): Spawned {
  const log = o.logger;
  const s = spawnChild(binary, args, {
    env: o.env,
    cwd: o.cwd,
    secrets: o.secrets,
    onLine: (line) => {
      if (!log) return;
      if (/\b(error|failed|fatal)\b/i.test(line)) log.warn({ line }, 'freeradius');
      else log.debug({ line }, 'freeradius');
    },
  });
  // The callers' errors say what to install when the binary is missing.
  const spawned = s.spawned.catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new FreeRadiusNotInstalledError(binary, { cause: err });
    throw new FreeRadiusStartError(`cannot run ${binary}: ${err.message}`, s.ring.tail(), null, null, { cause: err });
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

/** Runs FreeRADIUS on `o.dir` and resolves once it is ready to process requests. */
export async function launchFreeRadius(o: LaunchFreeRadiusOptions): Promise<FreeRadiusProcess> {
  const { dir, logger } = o;
  const readyTimeoutMs = o.readyTimeoutMs ?? 15000;
  const args = o.debug ? ['-X', '-d', dir] : ['-f', '-l', 'stdout', '-d', dir];
  const s = spawnFreeRadius(o.binary ?? 'freeradius', args, { env: o.env ?? process.env, cwd: dir, secrets: o.secrets ?? [], logger });
  const started = Date.now();
  try {
    await waitFor(s, READY_MARKER, readyTimeoutMs, 'ready');
  } catch (err) {
    await terminate(s, 'SIGTERM', STOP_KILL_AFTER_MS).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = s.child.pid as number;
  logger?.info({ pid, ...o.logFields, ms: Date.now() - started }, 'FreeRADIUS is ready');
  let stopping: Promise<void> | undefined;
  return {
    pid,
    dir,
    exited: s.exited,
    output: () => s.ring.all(),
    stop: () => {
      stopping ??= (async () => {
        await terminate(s, 'SIGTERM', STOP_KILL_AFTER_MS);
        await rm(dir, { recursive: true, force: true });
        logger?.info({ pid }, 'FreeRADIUS stopped');
      })();
      return stopping;
    },
  };
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

async function startOnce(r: ResolvedFreeRadiusOptions, ports: InstancePorts): Promise<FreeRadiusHandle> {
  const dir = await prepareRuntimeDir(r, ports);
  // Per start, so a probe secret never outlives its process.
  const statusSecret = randomBytes(18).toString('base64url');
  const proc = await launchFreeRadius({
    dir,
    binary: r.binary,
    debug: r.debug,
    env: instanceEnv(r, ports, statusSecret),
    secrets: r.secrets,
    readyTimeoutMs: r.readyTimeoutMs,
    ...(r.logger ? { logger: r.logger } : {}),
    logFields: { ...ports, listen: r.listenAddress },
  });
  return {
    ...proc,
    ...ports,
    probe: (o = {}) => probeStatus(ports.statusPort, statusSecret, o.timeoutMs ?? PROBE_TIMEOUT_MS),
    accountingSpoolDir: r.accountingSpoolDir,
    accountingBacklog: () => accountingBacklog(r.accountingSpoolDir),
  };
}

/** Start FreeRADIUS with the overlay; resolves once it answers requests. */
export async function startFreeRadius(opts: StartFreeRadiusOptions): Promise<FreeRadiusHandle> {
  const r = resolveFreeRadiusOptions(opts);
  for (let attempt = 1; ; attempt++) {
    const ports = await chooseInstancePorts(r);
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
  const r = resolveFreeRadiusOptions(opts);
  const ports = await chooseInstancePorts(r);
  const dir = await prepareRuntimeDir(r, ports);
  try {
    const s = spawnFreeRadius(r.binary, ['-XC', '-d', dir], { env: instanceEnv(r, ports, 'check-only'), cwd: dir, secrets: r.secrets, logger: r.logger });
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
