/**
 * Configuration: the only module that reads process.env. Every key is validated once at start;
 * all problems are reported together. Secrets accept a `*_FILE` variant. Development defaults
 * exist only outside production mode.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { isNetwork, NetworkError, parseClientNetwork, parseNetwork, type TargetPolicy } from './networks';
import { parseSecretKey, SecretBoxError } from '../lib/secret-box';

export type Mode = 'development' | 'test' | 'production';

export interface Config {
  readonly mode: Mode;
  /** The API's and the worker's connection: an application role that is not a superuser. */
  readonly databaseUrl: string | undefined;
  /**
   * FreeRADIUS's connection: a role that may only EXECUTE the lango_* functions rlm_sql calls.
   * Required in production; outside it `lango radius` falls back to DATABASE_URL (with a
   * warning) and `lango up` creates its own.
   */
  readonly radiusDatabaseUrl: string | undefined;
  /**
   * The connection `lango migrate` uses: a role that may create the schema (and, to create the
   * application and FreeRADIUS roles, roles). Default DATABASE_URL.
   */
  readonly migrateDatabaseUrl: string | undefined;
  /**
   * Where the API reads reports (/api/v1/reports): a streaming replica of DATABASE_URL's
   * database, as the application role. Default DATABASE_URL.
   */
  readonly reportsDatabaseUrl: string | undefined;
  /**
   * Bearer token /metrics requires. Unset: /metrics is open outside production and not served
   * in production.
   */
  readonly metricsToken: string | undefined;
  /** Who admits a new NAS address: auto (default outside production) or platform (an admin approves). */
  readonly nasApproval: 'auto' | 'platform';
  /**
   * Signs staff JWTs. Outside production it falls back to DEVELOPMENT_JWT_SECRET, which is
   * public: `lango up` replaces it with a random secret kept in its state directory.
   */
  readonly jwtSecret: string;
  readonly jwtTtlSeconds: number;
  /**
   * The master key of src/lib/secret-box.ts (secrets at rest, e.g. tenants' Daraja
   * credentials): `current` seals, `old` (rotation) still open. Keys in parseSecretKey's forms.
   * Outside production it falls back to DEVELOPMENT_SECRET_KEY, which is public.
   */
  readonly secretKey: { readonly current: string; readonly old: readonly string[] };
  readonly login: LoginLimits;
  /**
   * Express "trust proxy": which hops may set X-Forwarded-For (the client address that login
   * limits count). false: the socket's peer address, headers ignored.
   */
  readonly trustProxy: false | number | readonly string[];
  readonly api: { readonly host: string; readonly port: number };
  /**
   * The address buyers' phones reach Lango's portal at (scheme, host, optional port), e.g.
   * https://wifi.example.com: printed voucher QR codes open <publicUrl>/portal/... Outside
   * production it defaults to http://<api host>:<api port>; unset in production, printing is refused.
   */
  readonly publicUrl: string | undefined;
  readonly radius: {
    readonly listenAddress: string;
    readonly authPort: number;
    readonly acctPort: number;
    /** CIDR networks from which NAS may be dynamically admitted (looked up in the nas table). */
    readonly clientNetworks: readonly string[];
    /** Seconds FreeRADIUS caches a dynamic client (secret changes take effect after this). */
    readonly clientLifetime: number;
    /** Connections of live accounting's own pool (a busy pool spools and answers). */
    readonly accountingConnections: number;
    readonly binary: string;
    /**
     * Address (IP or DNS name) routers use to reach FreeRADIUS, written into the MikroTik
     * provisioning script. Unset: the script takes the host the API was called by.
     */
    readonly publicAddress: string | undefined;
  };
  /**
   * Process heartbeats read by /readyz: the worker and `lango radius` beat every `everySeconds`;
   * the API is not ready when the newest beat of either is older than `maxAgeSeconds`.
   */
  readonly heartbeat: {
    readonly everySeconds: number;
    readonly maxAgeSeconds: number;
  };
  readonly worker: {
    /** Safety sweep over all open sessions, seconds. */
    readonly sweepSeconds: number;
    /** A session with no accounting update for k x its interim interval is closed as stale. */
    readonly staleFactor: number;
    /** How often the stale-session check runs, seconds. */
    readonly staleCheckSeconds: number;
    /** Active sessions per NAS are sampled this often for the charts (reports.session_samples), seconds. */
    readonly sampleSeconds: number;
    /** Session samples older than this many days are removed. */
    readonly sampleRetentionDays: number;
    /** radpostauth rows (the login log) older than this many days are removed; 0 keeps them. */
    readonly postauthRetentionDays: number;
    /**
     * CoA/Disconnect retransmission within one attempt (RFC 5080, FreeRADIUS's coa { irt mrt mrc
     * mrd }, seconds), and how many attempts an action gets before it ends as timeout.
     */
    readonly retry: {
      readonly irt: number;
      readonly mrt: number;
      readonly mrc: number;
      readonly mrd: number;
      readonly maxAttempts: number;
    };
    /** Source address for CoA/Disconnect (a NAS picks the secret by it); unset: any. */
    readonly coaSourceAddress: string | undefined;
  };
  /** Where the worker may send CoA/Disconnect and RouterOS API requests (NAS addresses are checked on write too). */
  readonly enforcementTargets: TargetPolicy;
  /** M-Pesa payments (src/modules/payments). */
  readonly payments: PaymentsConfig;
  readonly stateDir: string;
  /** Port of the embedded PostgreSQL that `lango up` starts when DATABASE_URL is unset. */
  readonly embeddedPostgresPort: number;
  /** `lango up`: also run a local gateway (memory driver) whose login endpoint listens here; undefined = none. */
  readonly upGatewayPort: number | undefined;
  readonly logLevel: string;
}

export interface PaymentsConfig {
  /**
   * The public base URL Daraja reaches this API at (callback URLs are built on it, e.g.
   * https://billing.example.com). Unset: STK Push is refused with NOT_CONFIGURED.
   */
  readonly publicUrl: string | undefined;
  /** Replaces Daraja's sandbox base URL (the simulator); production accounts always use Safaricom's. */
  readonly darajaSandboxUrl: string | undefined;
  /** Largest callback body stored and read, bytes. */
  readonly callbackMaxBytes: number;
  /** Source networks callbacks are taken from (empty: any; production: set Safaricom's). */
  readonly callbackNetworks: readonly string[];
  /** A pending STK payment without a final answer is expired after this, seconds. */
  readonly stkExpirySeconds: number;
  /** The first STK Query of a payment without a callback, seconds after the push. */
  readonly stkFirstQuerySeconds: number;
  /** Later queries back off from this (doubling, lib/retry-delay.ts) up to stkQueryCapSeconds. */
  readonly stkQueryBaseSeconds: number;
  readonly stkQueryCapSeconds: number;
  /** STK pushes the portal may start per phone number per 2 minutes (Daraja refuses repeats: code 17). */
  readonly portalPushesPerPhone: number;
  /** Africa's Talking: API key (secret) and username; unset key: SMS stay queued. */
  readonly sms: {
    readonly apiKey: string | undefined;
    readonly username: string;
    readonly baseUrl: string;
    readonly senderId: string | undefined;
    readonly maxAttempts: number;
  };
}

/** Failed staff logins allowed per window, per account (email) and per client address. */
export interface LoginLimits {
  readonly maxFailuresPerAccount: number;
  readonly maxFailuresPerAddress: number;
  readonly windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = Object.freeze({
  maxFailuresPerAccount: 10,
  maxFailuresPerAddress: 100,
  windowSeconds: 900,
});

/** The development fallback: published in this file, so refused in production. */
export const DEVELOPMENT_JWT_SECRET = 'lango-development-only-jwt-secret-change-me';

/** The development master key: published in this file, so refused in production. */
export const DEVELOPMENT_SECRET_KEY = '6c616e676f2d646576656c6f706d656e742d6f6e6c792d7365637265742d6b79';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function secret(env: Env, key: string, problems: string[]): string | undefined {
  const file = env[`${key}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      problems.push(`${key}_FILE: cannot read ${file}`);
      return undefined;
    }
  }
  return env[key];
}

function int(env: Env, key: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${key}: expected an integer between ${min} and ${max}, got "${raw}"`);
    return def;
  }
  return n;
}

/** A comma-separated list of CIDR networks; `check` throws NetworkError for a bad entry. */
function networks(env: Env, key: string, def: string, check: (cidr: string) => unknown, problems: string[]): string[] {
  const list = (env[key] ?? def)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of list) {
    try {
      check(c);
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      problems.push(`${key}: ${err.message}`);
    }
  }
  return list;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * LANGO_TRUST_PROXY: a number of proxy hops, or a comma-separated list of proxy addresses,
 * CIDR networks and the names loopback, linklocal, uniquelocal. "true" (trust every hop) is
 * refused: any client could then pick its own address by sending X-Forwarded-For.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string[] {
  const v = raw?.trim();
  if (!v || v === 'false' || v === '0') return false;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 10) problems.push(`LANGO_TRUST_PROXY: at most 10 hops, got "${v}"`);
    return hops;
  }
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of list) {
    if (!PROXY_RANGES.has(item) && isIP(item) === 0 && !isNetwork(item)) {
      problems.push(
        `LANGO_TRUST_PROXY: "${item}" is not a hop count, an address, a CIDR network or loopback/linklocal/uniquelocal`,
      );
    }
  }
  return list;
}

/**
 * LANGO_SECRET_KEY(_FILE): the key that seals; LANGO_SECRET_KEY_OLD(_FILE): keys that only open,
 * comma- or newline-separated (the previous key while values are re-sealed).
 */
function secretKeys(env: Env, prod: boolean, problems: string[]): { current: string; old: string[] } {
  const check = (key: string, value: string): boolean => {
    try {
      parseSecretKey(value);
      return true;
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      problems.push(`${key}: ${err.message}`);
      return false;
    }
  };
  let current = secret(env, 'LANGO_SECRET_KEY', problems)?.trim();
  if (!current) {
    if (prod)
      problems.push('LANGO_SECRET_KEY: required in production (32 random bytes, e.g. `openssl rand -base64 32`)');
    current = DEVELOPMENT_SECRET_KEY;
  } else if (
    check('LANGO_SECRET_KEY', current) &&
    prod &&
    parseSecretKey(current).equals(parseSecretKey(DEVELOPMENT_SECRET_KEY))
  ) {
    problems.push('LANGO_SECRET_KEY: the development key is public; set a random one in production');
  }
  const old = (secret(env, 'LANGO_SECRET_KEY_OLD', problems) ?? '')
    .split(/[,\n]/)
    .map((k) => k.trim())
    .filter(Boolean);
  old.forEach((k, i) => check(`LANGO_SECRET_KEY_OLD (entry ${i + 1})`, k));
  return { current, old };
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const modeRaw = env.LANGO_ENV ?? env.NODE_ENV ?? 'development';
  const mode: Mode = modeRaw === 'production' || modeRaw === 'test' ? modeRaw : 'development';
  if (!['production', 'test', 'development'].includes(modeRaw)) {
    problems.push(`LANGO_ENV: expected development, test or production, got "${modeRaw}"`);
  }
  const prod = mode === 'production';

  const databaseUrl = secret(env, 'DATABASE_URL', problems);
  if (prod && !databaseUrl) problems.push('DATABASE_URL: required in production');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL: expected a postgres:// URL');
  }

  const pgUrl = (key: string, required: boolean): string | undefined => {
    const v = secret(env, key, problems);
    if (required && !v) problems.push(`${key}: required in production`);
    if (v && !/^postgres(ql)?:\/\//.test(v)) problems.push(`${key}: expected a postgres:// URL`);
    return v || undefined;
  };
  const radiusDatabaseUrl = pgUrl('LANGO_RADIUS_DATABASE_URL', false);
  const heartbeatEvery = int(env, 'LANGO_HEARTBEAT_SECONDS', 10, 1, 300, problems);
  const heartbeatMaxAge = int(env, 'LANGO_READY_HEARTBEAT_MAX_AGE_SECONDS', 60, 2, 3600, problems);
  if (heartbeatMaxAge < 2 * heartbeatEvery)
    problems.push(
      'LANGO_READY_HEARTBEAT_MAX_AGE_SECONDS: at least twice LANGO_HEARTBEAT_SECONDS (one late beat is not an outage)',
    );
  const migrateDatabaseUrl = pgUrl('LANGO_MIGRATE_DATABASE_URL', false);
  const reportsDatabaseUrl = pgUrl('LANGO_REPORTS_DATABASE_URL', false);
  const metricsToken = secret(env, 'LANGO_METRICS_TOKEN', problems) || undefined;
  if (metricsToken !== undefined && metricsToken.length < 16)
    problems.push('LANGO_METRICS_TOKEN: at least 16 characters');
  const nasApprovalRaw = env.LANGO_NAS_APPROVAL ?? (prod ? 'platform' : 'auto');
  if (nasApprovalRaw !== 'auto' && nasApprovalRaw !== 'platform')
    problems.push(`LANGO_NAS_APPROVAL: expected auto or platform, got "${nasApprovalRaw}"`);

  let jwtSecret = secret(env, 'LANGO_JWT_SECRET', problems);
  if (!jwtSecret) {
    if (prod) problems.push('LANGO_JWT_SECRET: required in production (at least 32 characters)');
    else jwtSecret = DEVELOPMENT_JWT_SECRET;
  } else if (prod && jwtSecret === DEVELOPMENT_JWT_SECRET) {
    problems.push('LANGO_JWT_SECRET: the development secret is public; set a random one in production');
  } else if (prod && jwtSecret.length < 32) {
    problems.push('LANGO_JWT_SECRET: must be at least 32 characters in production');
  }

  const secretKey = secretKeys(env, prod, problems);

  const trustProxy = parseTrustProxy(env.LANGO_TRUST_PROXY, problems);

  const clientNetworks = networks(
    env,
    'LANGO_RADIUS_CLIENT_NETWORKS',
    prod ? '0.0.0.0/0' : '127.0.0.0/8',
    parseClientNetwork,
    problems,
  );
  // Default: the networks NAS are admitted from. Single hosts are fine here (one NAS).
  const targetNetworks =
    env.LANGO_ENFORCEMENT_TARGET_NETWORKS === undefined
      ? clientNetworks
      : networks(env, 'LANGO_ENFORCEMENT_TARGET_NETWORKS', '', parseNetwork, problems);
  if (targetNetworks.length === 0) problems.push('LANGO_ENFORCEMENT_TARGET_NETWORKS: at least one network is required');

  const publicRadiusAddress = env.LANGO_PUBLIC_RADIUS_ADDRESS?.trim() || undefined;
  if (publicRadiusAddress !== undefined && isIP(publicRadiusAddress) === 0 && !HOSTNAME.test(publicRadiusAddress)) {
    problems.push(`LANGO_PUBLIC_RADIUS_ADDRESS: expected an IP address or a DNS name, got "${publicRadiusAddress}"`);
  }

  const publicUrlRaw = env.LANGO_PUBLIC_URL?.trim() || undefined;
  if (publicUrlRaw !== undefined) {
    let ok = false;
    try {
      const u = new URL(publicUrlRaw);
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.push(
        `LANGO_PUBLIC_URL: expected an http(s) URL without credentials, query or fragment, got "${publicUrlRaw}"`,
      );
  }

  const coaSource = env.LANGO_COA_SOURCE_ADDRESS?.trim() || undefined;
  if (coaSource !== undefined && isIP(coaSource) === 0)
    problems.push(`LANGO_COA_SOURCE_ADDRESS: expected an IP address, got "${coaSource}"`);

  const publicUrl = env.LANGO_PUBLIC_URL?.trim().replace(/\/+$/, '') || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(publicUrl))
    problems.push(`LANGO_PUBLIC_URL: expected an http(s) URL, got "${publicUrl}"`);
  if (prod && publicUrl && !publicUrl.startsWith('https://'))
    problems.push('LANGO_PUBLIC_URL: Daraja needs HTTPS callback URLs in production');
  const darajaSandboxUrl = env.LANGO_DARAJA_SANDBOX_URL?.trim() || undefined;
  if (darajaSandboxUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(darajaSandboxUrl))
    problems.push(`LANGO_DARAJA_SANDBOX_URL: expected an http(s) URL, got "${darajaSandboxUrl}"`);
  const callbackNetworks = networks(env, 'LANGO_MPESA_CALLBACK_NETWORKS', '', parseNetwork, problems);
  const smsApiKey = secret(env, 'LANGO_SMS_API_KEY', problems) || undefined;

  const config: Config = {
    mode,
    databaseUrl,
    radiusDatabaseUrl,
    migrateDatabaseUrl,
    reportsDatabaseUrl,
    metricsToken,
    nasApproval: nasApprovalRaw === 'platform' ? 'platform' : 'auto',
    jwtSecret: jwtSecret ?? '',
    jwtTtlSeconds: int(env, 'LANGO_JWT_TTL', 12 * 3600, 60, 30 * 86400, problems),
    secretKey,
    login: {
      maxFailuresPerAccount: int(
        env,
        'LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT',
        DEFAULT_LOGIN_LIMITS.maxFailuresPerAccount,
        1,
        1000,
        problems,
      ),
      maxFailuresPerAddress: int(
        env,
        'LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS',
        DEFAULT_LOGIN_LIMITS.maxFailuresPerAddress,
        1,
        100000,
        problems,
      ),
      windowSeconds: int(env, 'LANGO_LOGIN_WINDOW_SECONDS', DEFAULT_LOGIN_LIMITS.windowSeconds, 10, 86400, problems),
    },
    trustProxy,
    api: {
      host: env.LANGO_API_HOST ?? (prod ? '0.0.0.0' : '127.0.0.1'),
      port: int(env, 'LANGO_API_PORT', 3000, 0, 65535, problems),
    },
    publicUrl:
      publicUrlRaw?.replace(/\/+$/, '') ??
      (prod
        ? undefined
        : `http://${(env.LANGO_API_HOST ?? '127.0.0.1').replace(/^0\.0\.0\.0$/, '127.0.0.1')}:${env.LANGO_API_PORT ?? 3000}`),
    radius: {
      listenAddress: env.LANGO_RADIUS_LISTEN ?? (prod ? '*' : '127.0.0.1'),
      authPort: int(env, 'LANGO_RADIUS_AUTH_PORT', 1812, 0, 65535, problems),
      acctPort: int(env, 'LANGO_RADIUS_ACCT_PORT', 1813, 0, 65535, problems),
      clientNetworks,
      clientLifetime: int(env, 'LANGO_RADIUS_CLIENT_LIFETIME', 60, 1, 86400, problems),
      accountingConnections: int(env, 'LANGO_RADIUS_ACCT_CONNECTIONS', 8, 1, 64, problems),
      binary: env.LANGO_FREERADIUS_BIN ?? 'freeradius',
      publicAddress: publicRadiusAddress,
    },
    heartbeat: {
      everySeconds: heartbeatEvery,
      maxAgeSeconds: heartbeatMaxAge,
    },
    worker: {
      sweepSeconds: int(env, 'LANGO_WORKER_SWEEP_SECONDS', 30, 1, 3600, problems),
      staleFactor: int(env, 'LANGO_WORKER_STALE_FACTOR', 3, 2, 100, problems),
      staleCheckSeconds: int(env, 'LANGO_WORKER_STALE_CHECK_SECONDS', 60, 1, 3600, problems),
      sampleSeconds: int(env, 'LANGO_SESSION_SAMPLE_SECONDS', 300, 60, 3600, problems),
      sampleRetentionDays: int(env, 'LANGO_SESSION_SAMPLE_RETENTION_DAYS', 90, 1, 3660, problems),
      postauthRetentionDays: int(env, 'LANGO_POSTAUTH_RETENTION_DAYS', 90, 0, 3660, problems),
      // Defaults and ranges are FreeRADIUS's for a coa home server (raddb/proxy.conf); mrc 0
      // retransmits until mrd.
      retry: {
        irt: int(env, 'LANGO_WORKER_RETRY_IRT', 2, 1, 5, problems),
        mrt: int(env, 'LANGO_WORKER_RETRY_MRT', 16, 0, 30, problems),
        mrc: int(env, 'LANGO_WORKER_RETRY_MRC', 5, 0, 20, problems),
        mrd: int(env, 'LANGO_WORKER_RETRY_MRD', 30, 5, 60, problems),
        maxAttempts: int(env, 'LANGO_WORKER_RETRY_MAX_ATTEMPTS', 3, 1, 20, problems),
      },
      coaSourceAddress: coaSource,
    },
    enforcementTargets: { networks: targetNetworks, allowLoopback: !prod },
    payments: {
      publicUrl,
      darajaSandboxUrl,
      callbackMaxBytes: int(env, 'LANGO_MPESA_CALLBACK_MAX_BYTES', 16384, 1024, 65536, problems),
      callbackNetworks,
      stkExpirySeconds: int(env, 'LANGO_STK_EXPIRY_SECONDS', 600, 60, 86400, problems),
      stkFirstQuerySeconds: int(env, 'LANGO_STK_FIRST_QUERY_SECONDS', 45, 1, 3600, problems),
      stkQueryBaseSeconds: int(env, 'LANGO_STK_QUERY_BASE_SECONDS', 15, 1, 3600, problems),
      stkQueryCapSeconds: int(env, 'LANGO_STK_QUERY_CAP_SECONDS', 120, 1, 3600, problems),
      portalPushesPerPhone: int(env, 'LANGO_PORTAL_PUSHES_PER_PHONE', 2, 1, 100, problems),
      sms: {
        apiKey: smsApiKey,
        username: env.LANGO_SMS_USERNAME?.trim() || 'sandbox',
        baseUrl: (env.LANGO_SMS_BASE_URL?.trim() || 'https://api.sandbox.africastalking.com').replace(/\/+$/, ''),
        senderId: env.LANGO_SMS_SENDER_ID?.trim() || undefined,
        maxAttempts: int(env, 'LANGO_SMS_MAX_ATTEMPTS', 5, 1, 50, problems),
      },
    },
    stateDir: path.resolve(env.LANGO_STATE_DIR ?? '.lango'),
    embeddedPostgresPort: int(env, 'LANGO_EMBEDDED_PG_PORT', 54329, 1, 65535, problems),
    upGatewayPort:
      env.LANGO_UP_GATEWAY_PORT === undefined || env.LANGO_UP_GATEWAY_PORT === ''
        ? undefined
        : int(env, 'LANGO_UP_GATEWAY_PORT', 8002, 1, 65535, problems),
    logLevel: env.LANGO_LOG_LEVEL ?? (mode === 'test' ? 'warn' : 'info'),
  };
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}
