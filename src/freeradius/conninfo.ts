/**
 * postgres:// URL -> libpq key/value connection string, for the LANGO_RADIUS_DB variable that
 * freeradius/mods-available/sql passes to rlm_sql_postgresql as `radius_db` (a string that
 * contains "=" is handed to PQconnectdb() as is).
 *
 * Every value is single-quoted with `\` and `'` backslash-escaped, so passwords and paths may
 * contain spaces, quotes and backslashes. Query parameters must be libpq keywords; node-pg's
 * `ssl=true|false` and `sslmode=no-verify` are translated, anything else is refused rather than
 * silently dropped (a dropped sslmode would quietly change how FreeRADIUS connects).
 */

export class ConninfoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConninfoError';
  }
}

/** Connection keywords of libpq (PostgreSQL 15-17). */
const LIBPQ_KEYWORDS: ReadonlySet<string> = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'channel_binding',
  'connect_timeout', 'client_encoding', 'options', 'application_name', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'replication', 'gssencmode', 'sslmode', 'requiressl', 'sslcompression', 'sslcert', 'sslkey',
  'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni', 'requirepeer',
  'require_auth', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib',
  'gssdelegation', 'service', 'target_session_attrs', 'load_balance_hosts', 'sslnegotiation',
]);

/** Quote one libpq value: 'it''s' is NOT libpq syntax; libpq wants 'it\'s'. */
export function quoteConninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new ConninfoError(`database URL: invalid percent-encoding in the ${what}`);
  }
}

export interface ParsedPostgresUrl {
  /** Keyword/value pairs in output order (host, port, dbname, user, password, then parameters). */
  readonly params: ReadonlyArray<readonly [string, string]>;
  /** The decoded password, if any (for redaction). */
  readonly password: string | undefined;
}

export function parsePostgresUrl(url: string): ParsedPostgresUrl {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConninfoError('database URL: expected postgres://user:password@host:port/database');
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Never echo the URL: it may hold a password.
    throw new ConninfoError('database URL: not a valid URL (several hosts are not supported)');
  }

  const params: Array<[string, string]> = [];
  const seen = new Set<string>();
  const put = (key: string, value: string): void => {
    if (seen.has(key)) throw new ConninfoError(`database URL: "${key}" is given twice`);
    seen.add(key);
    params.push([key, value]);
  };

  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host) put('host', decode(host, 'host'));
  if (u.port) put('port', u.port);
  const dbname = u.pathname.replace(/^\//, '');
  if (dbname) put('dbname', decode(dbname, 'database name'));
  if (u.username) put('user', decode(u.username, 'user name'));
  const password = u.password ? decode(u.password, 'password') : undefined;
  if (password !== undefined) put('password', password);

  // libpq decodes query values with percent-decoding only ("+" stays "+"), unlike
  // URLSearchParams, so split the raw query by hand.
  const query = u.search.replace(/^\?/, '');
  let ssl: string | undefined;
  for (const part of query ? query.split('&') : []) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq), 'parameter name');
    const value = decode(eq < 0 ? '' : part.slice(eq + 1), `value of "${key}"`);
    if (key === 'ssl') {
      ssl = value;
      continue;
    }
    if (!LIBPQ_KEYWORDS.has(key)) {
      throw new ConninfoError(`database URL: "${key}" is not a libpq connection parameter`);
    }
    put(key, key === 'sslmode' && value === 'no-verify' ? 'require' : value);
  }
  if (ssl !== undefined && !seen.has('sslmode')) {
    if (/^(true|1|require)$/i.test(ssl)) put('sslmode', 'require');
    else if (/^(false|0|disable)$/i.test(ssl)) put('sslmode', 'disable');
    else throw new ConninfoError(`database URL: ssl must be true or false, got "${ssl}"`);
  }
  return { params, password };
}

/**
 * `postgres://u:p%40ss@db:5432/lango?sslmode=require` ->
 * `host='db' port='5432' dbname='lango' user='u' password='p@ss' sslmode='require'`.
 */
export function postgresUrlToConninfo(url: string): string {
  return parsePostgresUrl(url)
    .params.map(([k, v]) => `${k}=${quoteConninfoValue(v)}`)
    .join(' ');
}
