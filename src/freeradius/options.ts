/**
 * What a Lango FreeRADIUS instance is started with: the caller's options, validated once, with
 * their defaults, before anything is written or spawned.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { NetworkError, parseClientNetwork } from '../config/networks';
import { parsePostgresUrl, postgresUrlToConninfo, quoteConninfoValue } from './conninfo';
import { FreeRadiusOptionsError } from './errors';

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
  /**
   * The accounting spool (freeradius/mods-available/lango_acct_spool): kept across restarts, so
   * what was acknowledged but not yet in radacct is replayed by the next start. One running
   * instance per directory. Default <stateDir>/radacct-spool.
   */
  accountingSpoolDir?: string;
  /**
   * Connections of live accounting's own pool (freeradius/mods-available/sql_acct): with all of
   * them busy a packet is spooled and answered instead of waiting. Default 8 (the threads: never busy in steady state).
   */
  accountingConnections?: number;
  /** The overlay to copy. Default: the repository's freeradius/ directory. */
  sourceDir?: string;
  /** -X (single-threaded, full debug log) instead of -f -l stdout. */
  debug?: boolean;
  logger?: Logger;
  /** How long to wait for "Ready to process requests". Default 15000. */
  readyTimeoutMs?: number;
}

/** The options with every default applied and every value checked. */
export interface ResolvedFreeRadiusOptions {
  databaseUrl: string;
  /** libpq string for $ENV{LANGO_RADIUS_DB}. */
  conninfo: string;
  /** Literal strings redacted from the kept output (the password, as FreeRADIUS may print it). */
  secrets: string[];
  listenAddress: string;
  authPort: number;
  acctPort: number;
  clientNetworks: string[];
  clientLifetime: number;
  binary: string;
  stateDir: string;
  accountingSpoolDir: string;
  accountingConnections: number;
  sourceDir: string;
  debug: boolean;
  logger: Logger | undefined;
  readyTimeoutMs: number;
}

const MIN_LITERAL_REDACTION = 4;

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

export function resolveFreeRadiusOptions(opts: StartFreeRadiusOptions): ResolvedFreeRadiusOptions {
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
  const accountingConnections = opts.accountingConnections ?? 8;
  if (!Number.isInteger(accountingConnections) || accountingConnections < 1 || accountingConnections > 64) {
    throw new FreeRadiusOptionsError(`accountingConnections must be an integer from 1 to 64, got ${accountingConnections}`);
  }
  const clientNetworks = [...(opts.clientNetworks ?? ['127.0.0.0/8'])];
  if (clientNetworks.length === 0) throw new FreeRadiusOptionsError('at least one client network is required');
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
    clientNetworks: clientNetworks.map(validateClientNetwork),
    clientLifetime,
    binary: opts.binary ?? 'freeradius',
    stateDir: path.resolve(opts.stateDir),
    accountingSpoolDir: path.resolve(opts.accountingSpoolDir ?? path.join(opts.stateDir, 'radacct-spool')),
    accountingConnections,
    sourceDir: path.resolve(opts.sourceDir ?? resolveFreeRadiusSourceDir()),
    debug: opts.debug ?? false,
    logger: opts.logger?.child({ module: 'freeradius' }),
    readyTimeoutMs: opts.readyTimeoutMs ?? 15000,
  };
}
