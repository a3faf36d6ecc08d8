/**
 * The private runtime directory of one FreeRADIUS instance and what varies per instance: a
 * copy of the overlay (freeradius/ at the repository root, or a test fixture), clients.conf for
 * the dynamic-client networks, var/ for logs and the pid file, the ports, and the environment
 * the overlay reads everything else from ($ENV{LANGO_RADIUS_*}, see freeradius/radiusd.conf).
 *
 * Every instance also answers Status-Server on a loopback port of its own with a secret made
 * for that start (freeradius/sites-available/status): the launcher's readiness probe.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FreeRadiusOptionsError } from './errors';
import { validateClientNetwork, type ResolvedFreeRadiusOptions } from './options';
import { pickFreeUdpPorts } from './ports';

/** The Status-Server socket is on IPv4 loopback whatever the NAS-facing address is. */
export const STATUS_ADDRESS = '127.0.0.1';

export interface InstancePorts {
  authPort: number;
  acctPort: number;
  statusPort: number;
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
  return `# Written by Lango (src/freeradius/runtime-dir.ts) for this instance.\n${blocks.join('\n\n')}\n`;
}

/** The requested ports, with free ones for those given as 0, and a free loopback status port. */
export async function chooseInstancePorts(r: ResolvedFreeRadiusOptions): Promise<InstancePorts> {
  const wanted = [r.authPort, r.acctPort].filter((p) => p === 0).length;
  const free = wanted ? await pickFreeUdpPorts(r.listenAddress, wanted) : [];
  const authPort = r.authPort === 0 ? (free.shift() as number) : r.authPort;
  let acctPort = r.acctPort === 0 ? (free.shift() as number) : r.acctPort;
  if (acctPort === authPort) acctPort = (await pickFreeUdpPorts(r.listenAddress, 2)).find((p) => p !== authPort) as number;
  const taken = new Set([authPort, acctPort]);
  const statusPort = (await pickFreeUdpPorts(STATUS_ADDRESS, 3)).find((p) => !taken.has(p)) as number;
  return { authPort, acctPort, statusPort };
}

/** The environment the overlay's $ENV{LANGO_RADIUS_*} references read. */
export function instanceEnv(r: ResolvedFreeRadiusOptions, ports: InstancePorts, statusSecret: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LANGO_RADIUS_DB: r.conninfo,
    LANGO_RADIUS_LISTEN: r.listenAddress,
    LANGO_RADIUS_AUTH_PORT: String(ports.authPort),
    LANGO_RADIUS_ACCT_PORT: String(ports.acctPort),
    LANGO_RADIUS_CLIENT_LIFETIME: String(r.clientLifetime),
    LANGO_RADIUS_STATUS_PORT: String(ports.statusPort),
    LANGO_RADIUS_STATUS_SECRET: statusSecret,
    LANGO_RADIUS_ACCT_SPOOL: r.accountingSpoolDir,
    LANGO_RADIUS_ACCT_CONNECTIONS: String(r.accountingConnections),
  };
}

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

/**
 * A new directory under `stateDir` (mode 0700, unique name) holding a copy of `sourceDir`,
 * the rendered clients.conf and var/. Removed again if any step fails.
 */
export async function prepareRuntimeDir(r: ResolvedFreeRadiusOptions, ports: InstancePorts): Promise<string> {
  if (!existsSync(path.join(r.sourceDir, 'radiusd.conf'))) {
    throw new FreeRadiusOptionsError(`${r.sourceDir} has no radiusd.conf`);
  }
  await mkdir(r.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(r.accountingSpoolDir, { recursive: true, mode: 0o700 });
  // mkdtemp: mode 0700 and a random suffix, so concurrent instances never share a directory.
  const dir = await mkdtemp(path.join(r.stateDir, `freeradius-${ports.authPort}-`));
  try {
    await chmod(dir, 0o700);
    await copyTree(r.sourceDir, dir);
    await writeFile(path.join(dir, 'clients.conf'), renderClientsConf(r.clientNetworks), { mode: 0o600 });
    await mkdir(path.join(dir, 'var', 'log', 'radacct'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(dir, 'var', 'run'), { recursive: true, mode: 0o700 });
    return dir;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
