/**
 * Stock FreeRADIUS 3.2 as the lab notes (section 2) set it up: a copy of /etc/freeradius/3.0
 * with the smallest possible diff, the stock PostgreSQL queries.conf unchanged, one static
 * client, and a site whose sections list the stock modules. Run threaded (-f), never -X, and
 * started by the same launcher as Lango's overlay (src/freeradius/process.ts).
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, unlink, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { launchFreeRadius, type FreeRadiusProcess } from '../src/freeradius';
import { postgresUrlToConninfo } from '../src/freeradius/conninfo';
import { pickFreeUdpPorts } from '../src/freeradius/ports';

export const STOCK_RADDB = '/etc/freeradius/3.0';

export interface StockOptions {
  databaseUrl: string;
  secret: string;
  stateDir: string;
  /** SO_RCVBUF of the listeners. The lab used 1 MiB; Lango's overlay uses 4 MiB. */
  recvBuff: number;
  binary?: string;
  /** Experiments only: thread pool max_servers (stock: 32). The benchmark never sets it. */
  threadMaxServers?: number;
  /** -X (single-threaded, full debug log: the expanded SQL) instead of -f -l stdout. Profiling only. */
  debug?: boolean;
  /** How long to wait for "Ready to process requests" (the launcher's default: 15 s). */
  readyTimeoutMs?: number;
}

function replaceLine(text: string, re: RegExp, replacement: string, what: string): string {
  if (!re.test(text)) throw new Error(`stock raddb: cannot find ${what}`);
  return text.replace(re, replacement);
}

/** A raddb config string in double quotes. */
function quoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function stockSite(authPort: number, acctPort: number, recvBuff: number): string {
  return `# Written by Lango's benchmark (bench/stock-raddb.ts): the lab's stock site.
server bench-stock {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = ${authPort}
		recv_buff = ${recvBuff}
	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = ${acctPort}
		recv_buff = ${recvBuff}
	}

	authorize {
		filter_username
		preprocess
		chap
		mschap
		sql
		expiration
		logintime
		pap
	}

	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type CHAP {
			chap
		}
		Auth-Type MS-CHAP {
			mschap
		}
	}

	preacct {
		preprocess
		acct_unique
	}

	accounting {
		sql
		if (noop) {
			ok
		}
		attr_filter.accounting_response
	}

	session {
		sql
	}

	post-auth {
		sql
		Post-Auth-Type REJECT {
			sql
		}
	}
}
`;
}

/** Copy /etc/freeradius/3.0 to `dir` and apply the lab's diff. */
export async function buildStockRaddb(dir: string, o: StockOptions, authPort: number, acctPort: number): Promise<void> {
  try {
    await cp(STOCK_RADDB, dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  } catch (err) {
    throw new Error(`cannot copy ${STOCK_RADDB} (root only on Debian): run the benchmark as root`, { cause: err });
  }
  await mkdir(path.join(dir, 'var', 'log', 'radacct'), { recursive: true });
  await mkdir(path.join(dir, 'var', 'run'), { recursive: true });

  const conf = path.join(dir, 'radiusd.conf');
  let r = await readFile(conf, 'utf8');
  r = replaceLine(r, /^(\s*)logdir\s*=.*$/m, '$1logdir = ${confdir}/var/log', 'logdir');
  r = replaceLine(r, /^(\s*)run_dir\s*=.*$/m, '$1run_dir = ${confdir}/var/run', 'run_dir');
  r = replaceLine(r, /^(\s*)user\s*=\s*freerad\s*$/m, '$1#user = freerad', 'user = freerad');
  r = replaceLine(r, /^(\s*)group\s*=\s*freerad\s*$/m, '$1#group = freerad', 'group = freerad');
  r = replaceLine(r, /^(\s*)reject_delay\s*=.*$/m, '$1reject_delay = 0', 'reject_delay');
  r = replaceLine(r, /^(\s*)proxy_requests\s*=.*$/m, '$1proxy_requests = no', 'proxy_requests');
  if (o.threadMaxServers)
    r = replaceLine(r, /^(\s*)max_servers\s*=.*$/m, `$1max_servers = ${o.threadMaxServers}`, 'max_servers');
  await writeFile(conf, r);

  await writeFile(
    path.join(dir, 'clients.conf'),
    `client lab-loopback {\n\tipaddr = 127.0.0.1\n\tsecret = ${quoted(o.secret)}\n\tnas_type = other\n\trequire_message_authenticator = no\n}\n`,
  );

  for (const f of await readdir(path.join(dir, 'sites-enabled'))) await unlink(path.join(dir, 'sites-enabled', f));
  await writeFile(path.join(dir, 'sites-available', 'bench-stock'), stockSite(authPort, acctPort, o.recvBuff));
  await symlink('../sites-available/bench-stock', path.join(dir, 'sites-enabled', 'bench-stock'));

  await rm(path.join(dir, 'mods-enabled', 'eap'), { force: true });
  await rm(path.join(dir, 'mods-enabled', 'sql'), { force: true });
  await symlink('../mods-available/sql', path.join(dir, 'mods-enabled', 'sql'));

  const sqlPath = path.join(dir, 'mods-available', 'sql');
  let s = await readFile(sqlPath, 'utf8');
  s = replaceLine(s, /^(\s*)dialect\s*=\s*"sqlite"\s*$/m, '$1dialect = "postgresql"', 'dialect');
  s = replaceLine(s, /^(\s*)driver\s*=\s*"rlm_sql_null"\s*$/m, '$1driver = "rlm_sql_${dialect}"', 'driver');
  // A libpq string instead of server/port/login/password/radius_db: the same connection,
  // and it works for any DATABASE_URL (Lango's overlay connects the same way).
  s = replaceLine(
    s,
    /^(\s*)radius_db\s*=\s*"radius"\s*$/m,
    `$1radius_db = ${quoted(postgresUrlToConninfo(o.databaseUrl))}`,
    'radius_db',
  );
  s = replaceLine(s, /^#(\s*)read_clients\s*=\s*yes\s*$/m, '$1read_clients = yes', 'read_clients');
  await writeFile(sqlPath, s);
}

export interface StockHandle extends FreeRadiusProcess {
  readonly authPort: number;
  readonly acctPort: number;
}

/** Builds the stock raddb on two free loopback ports and starts it with Lango's launcher. */
export async function startStockFreeRadius(o: StockOptions): Promise<StockHandle> {
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const [authPort, acctPort] = (await pickFreeUdpPorts('127.0.0.1', 2)) as [number, number];
  const dir = await mkdtemp(path.join(o.stateDir, 'stock-raddb-'));
  try {
    await buildStockRaddb(dir, o, authPort, acctPort);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const fr = await launchFreeRadius({
    dir,
    ...(o.binary ? { binary: o.binary } : {}),
    ...(o.debug ? { debug: true } : {}),
    ...(o.readyTimeoutMs ? { readyTimeoutMs: o.readyTimeoutMs } : {}),
  });
  return { ...fr, authPort, acctPort };
}
