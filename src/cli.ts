import { loadConfig, ConfigError, Config } from './config';
import { createLogger } from './logger';
import { createDb } from './db/knex';
import { migrateDatabase, migrateDownAll } from './db/migrate';
import { checkApplicationRole, loginRoleOf, type DatabaseRoles } from './db/roles';
import { createServices } from './services';
import { SYSTEM } from './services/context';
import { startApi, radiusOptions, workerOptions } from './main';
import { FreeRadiusError, startFreeRadius } from './freeradius';
import { EmbeddedPostgresError } from './db/embedded-postgres';
import { describeExit } from './process/child';
import { waitForSignal } from './cli/signals';
import type { Logger } from './logger';
import { up } from './cli/up';
import { parseArgs, requireOpt, UsageError } from './cli/args';
import { startRouterOsSimulator } from './simulate/routeros-simulator';
import { radtestCommand } from './cli/radtest';
import { simulateNas } from './cli/simulate-nas';
import { startWorker } from './jobs/worker';
import { routerOsKick } from './mikrotik/fallback';

const USAGE = `lango <command>

  up                       everything for a newcomer: Postgres (embedded if DATABASE_URL is unset),
                           migrations, demo data, FreeRADIUS with freeradius/, the API and the
                           worker; FreeRADIUS and the embedded Postgres are restarted if they die
  migrate [--down-all]     apply (or roll back) database migrations
  api                      run the REST API
  worker                   enforcement: the CoA/Disconnect outbox, subscription ends, quota,
                           stale sessions (run as many as you like)
  radius [--debug]         run FreeRADIUS with the project's configuration (foreground); exits
                           non-zero if FreeRADIUS dies, for systemd or compose to restart it
  admin create --email E --password P
                           create a platform admin
  tenant create --name N --slug S --admin-email E --admin-password P [--time-zone TZ] [--currency KES]
  radtest USER PASSWORD --secret S [--server HOST:PORT] [--from ADDR] [--method pap|chap|mschapv2]
                           send an Access-Request from any local address (play a NAS)
  simulate routeros [--port 8728] [--user admin] [--password PW] [--empty-replies]
                           a RouterOS API simulator speaking the real wire protocol
  simulate nas --secret S [--address 127.0.0.1] [--coa-port 3799] [--radius HOST]
               [--auth-port P] [--acct-port P] [--login user:pw,...] [--interim SECONDS]
               [--mode normal|silent|garbage] [--nas-identifier ID]
                           a NAS (MikroTik as RADIUS sees it): logs in, accounts, answers CoA

Configuration is read from the environment (see README.md).`;

function dbUrl(config: Config): string {
  if (!config.databaseUrl) throw new UsageError('DATABASE_URL is not set (only `lango up` starts an embedded Postgres)');
  return config.databaseUrl;
}

/**
 * The login roles `lango migrate` creates (when it may) and grants: the users of DATABASE_URL
 * and LANGO_RADIUS_DATABASE_URL, with their passwords. When DATABASE_URL is also the migrating
 * connection (a single-URL development setup), it is left as it is.
 */
function migrationRoles(config: Config, adminUrl: string): DatabaseRoles {
  const admin = loginRoleOf(adminUrl).name;
  const roles: DatabaseRoles = {};
  if (config.databaseUrl && loginRoleOf(config.databaseUrl).name !== admin) roles.app = loginRoleOf(config.databaseUrl);
  if (config.radiusDatabaseUrl) roles.radius = loginRoleOf(config.radiusDatabaseUrl);
  return roles;
}

/** `lango radius`: FreeRADIUS in the foreground until a signal; its unexpected death is our exit 1. */
async function runRadius(config: Config, logger: Logger, debug: boolean): Promise<number> {
  let url = config.radiusDatabaseUrl;
  if (!url) {
    if (config.mode === 'production') throw new UsageError('LANGO_RADIUS_DATABASE_URL is required in production (FreeRADIUS connects as its own role)');
    logger.warn({ module: 'radius' }, 'LANGO_RADIUS_DATABASE_URL is not set: FreeRADIUS connects with DATABASE_URL (development only)');
    url = dbUrl(config);
  }
  const r = await startFreeRadius({ ...radiusOptions(config, url), debug, logger });
  process.stdout.write(`FreeRADIUS running (pid ${r.pid}): auth ${r.authPort}, accounting ${r.acctPort}, config ${r.dir}\n`);
  const outcome = await Promise.race([waitForSignal().then(() => undefined), r.exited]);
  if (!outcome) {
    await r.stop();
    return 0;
  }
  logger.error({ pid: r.pid, code: outcome.code, signal: outcome.signal, lastLines: r.output().slice(-20) }, 'FreeRADIUS exited unexpectedly');
  await r.stop();
  process.stderr.write(`lango: FreeRADIUS (pid ${r.pid}) exited unexpectedly (${describeExit(outcome)}); exiting so that the service manager restarts it\n`);
  return 1;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [cmd, sub] = args.positional;
  if (!cmd || cmd === 'help' || args.options.help) {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  switch (cmd) {
    case 'up':
      return up(config, logger);
    case 'radtest':
      return radtestCommand(args);
    case 'migrate': {
      const adminUrl = config.migrateDatabaseUrl ?? dbUrl(config);
      const db = createDb(adminUrl, { max: 1 });
      try {
        const names = args.options['down-all'] ? await migrateDownAll(db) : await migrateDatabase(db, migrationRoles(config, adminUrl));
        process.stdout.write(`${args.options['down-all'] ? 'rolled back' : 'applied'}: ${names.length ? names.join(', ') : 'nothing'}\n`);
      } finally {
        await db.destroy();
      }
      return 0;
    }
    case 'api': {
      const api = await startApi(config, logger, dbUrl(config));
      await waitForSignal();
      await api.stop();
      return 0;
    }
    case 'worker': {
      const url = dbUrl(config);
      const db = createDb(url);
      await checkApplicationRole(db, config.mode, (m) => logger.warn({ module: 'worker' }, m));
      const worker = startWorker({ db, databaseUrl: url, logger, routerOsKick, options: workerOptions(config) });
      await waitForSignal();
      await worker.stop();
      await db.destroy();
      return 0;
    }
    case 'radius':
      return runRadius(config, logger, args.options.debug === true);
    case 'admin':
    case 'tenant': {
      if (sub !== 'create') throw new UsageError(`unknown command: ${cmd} ${sub ?? ''}`);
      const db = createDb(dbUrl(config));
      try {
        const services = createServices(db, { nasApproval: config.nasApproval, enforcementTargets: config.enforcementTargets });
        if (cmd === 'admin') {
          const u = await services.users.createPlatformAdmin(requireOpt(args, 'email'), requireOpt(args, 'password'));
          process.stdout.write(JSON.stringify(u, null, 2) + '\n');
        } else {
          const t = await services.tenants.create(SYSTEM, {
            name: requireOpt(args, 'name'),
            slug: requireOpt(args, 'slug'),
            timeZone: typeof args.options['time-zone'] === 'string' ? args.options['time-zone'] : undefined,
            currency: typeof args.options.currency === 'string' ? args.options.currency : undefined,
            admin: { email: requireOpt(args, 'admin-email'), password: requireOpt(args, 'admin-password') },
          });
          process.stdout.write(JSON.stringify(t, null, 2) + '\n');
        }
      } finally {
        await db.destroy();
      }
      return 0;
    }
    case 'simulate': {
      if (sub === 'routeros') {
        const user = typeof args.options.user === 'string' ? args.options.user : 'admin';
        const password = typeof args.options.password === 'string' ? args.options.password : '';
        const sim = await startRouterOsSimulator({
          users: [{ name: user, password }],
          emptyReplies: args.options['empty-replies'] === true,
          port: Number(args.options.port ?? 8728),
          host: typeof args.options.host === 'string' ? args.options.host : '127.0.0.1',
          logger,
        });
        process.stdout.write(`RouterOS API simulator listening on port ${sim.port} (user ${user})\n`);
        await waitForSignal();
        await sim.close();
        return 0;
      }
      if (sub === 'nas') return simulateNas(args, { authPort: config.radius.authPort, acctPort: config.radius.acctPort }, logger, waitForSignal().then(() => undefined));
      throw new UsageError(`unknown simulator: ${sub ?? ''} (available: routeros, nas)`);
    }
    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

export function main(argv: string[]): void {
  run(argv)
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: unknown) => {
      if (err instanceof UsageError) process.stderr.write(`lango: ${err.message}\n\n${USAGE}\n`);
      // What an operator can act on is said without a stack trace.
      else if (err instanceof ConfigError || err instanceof FreeRadiusError || err instanceof EmbeddedPostgresError) {
        process.stderr.write(`lango: ${err.message}\n`);
      }
      else process.stderr.write(`lango: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    });
}
