/**
 * The `lango` command: parses arguments and calls the builders of src/main.ts (or src/stack.ts
 * for `lango up`); nothing is wired here.
 */
import { loadConfig, ConfigError, Config } from './config';
import { createLogger } from './logger';
import { SYSTEM } from './modules/audit/actor';
import {
  buildApi,
  buildGateway,
  buildRadius,
  buildWorker,
  migrate,
  MissingSettingError,
  withMigrationDb,
  migrationDatabaseUrl,
  withServices,
} from './main';
import { GatewayConfigError, loadGatewayConfig } from './gateway/config';
import { createReportRole, dropReportRole, listReportRoles } from './modules/reports/report-roles';
import { AppError } from './lib/errors';
import { started } from './lib/lifecycle';
import { FreeRadiusError } from './freeradius';
import { EmbeddedPostgresError } from './db/embedded-postgres';
import { describeExit } from './process/child';
import { waitForSignal } from './cli/signals';
import type { Logger } from './logger';
import { up } from './cli/up';
import { intOpt, parseArgs, requireOpt, UsageError, type Parsed } from './cli/args';
import { startRouterOsSimulator } from './simulate/routeros-simulator';
import { radtestCommand } from './cli/radtest';
import { simulateNas } from './cli/simulate-nas';
import { simulateDaraja } from './cli/simulate-daraja';
import { simulateSms } from './cli/simulate-sms';
import { seedAccounting } from './cli/seed-accounting';
import {
  archiveRadacctPartitions,
  createRadacctPartitions,
  listRadacctPartitions,
  parseMonth,
} from './db/radacct-partitions';

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
  gateway --config FILE    run the local hotspot gateway (a NAS in software: RADIUS client, CoA
                           server, login endpoint, firewall driver memory or nftables)
  admin create --email E --password P
                           create a platform admin
  tenant create --name N --slug S --admin-email E --admin-password P [--time-zone TZ] [--currency KES]
  report-role create --tenant ID|SLUG [--name N] [--password P]
                           a read-only PostgreSQL login that sees only this tenant's rows through
                           the views of schema reports (psql, Metabase, Grafana); prints its password
  report-role list | report-role drop --name N
  radacct partitions       radacct's monthly partitions: ranges and row estimates
  radacct partition [--ahead 3]
                           create the partitions of this UTC month and N months ahead (the worker
                           also does this daily)
  radacct archive --before YYYY-MM [--out DIR]
                           detach the partitions that end by then (reports keep their usage); with
                           --out, pg_dump each to DIR/<table>.dump and drop it, else leave the
                           detached tables for your own pg_dump
  seed-accounting --rows N [--tenants 3] [--days 90] [--users 1000] [--payments 0]
                           fill the database with accounting (and payments) for benchmarks
                           (tenants seed-1..N)
  radtest USER PASSWORD --secret S [--server HOST:PORT] [--from ADDR] [--method pap|chap|mschapv2]
                           send an Access-Request from any local address (play a NAS)
  simulate routeros [--port 8728] [--user admin] [--password PW] [--empty-replies]
                           a RouterOS API simulator speaking the real wire protocol
  simulate nas --secret S [--address 127.0.0.1] [--coa-port 3799] [--radius HOST]
               [--auth-port P] [--acct-port P] [--login user:pw,...] [--interim SECONDS]
               [--mode normal|silent|garbage] [--nas-identifier ID]
               [--hotspot-port P] [--hotspot-portal URL]
                           a NAS (MikroTik as RADIUS sees it): logs in, accounts, answers CoA;
                           with --hotspot-port also RouterOS's hotspot login page (HTTP)
  simulate daraja [--port 8090] [--consumer-key K] [--consumer-secret S] [--shortcode 174379]
                  [--passkey P] [--till T --store S] [--validation] [--answer-delay-ms 3000]
                           an M-Pesa Daraja simulator (OAuth, STK Push/Query, C2B), scriptable
                           through its control API at /simulator
  simulate sms [--port 8091] [--api-key K]
                           an Africa's Talking SMS API simulator (set LANGO_SMS_BASE_URL to it)

Configuration is read from the environment (see README.md).`;

/** `lango radius`: FreeRADIUS in the foreground until a signal; its unexpected death is our exit 1. */
async function runRadius(config: Config, logger: Logger, debug: boolean): Promise<number> {
  const radius = await started(buildRadius(config, { logger, debug }));
  const r = radius.handle!;
  // Listening before saying so: whoever reads the line may stop us at once.
  const stopped = waitForSignal().then(() => undefined);
  process.stdout.write(
    `FreeRADIUS running (pid ${r.pid}): auth ${r.authPort}, accounting ${r.acctPort}, config ${r.dir}\n`,
  );
  const outcome = await Promise.race([stopped, r.exited]);
  if (!outcome) {
    await radius.stop();
    return 0;
  }
  logger.error(
    { pid: r.pid, code: outcome.code, signal: outcome.signal, lastLines: r.output().slice(-20) },
    'FreeRADIUS exited unexpectedly',
  );
  await radius.stop();
  process.stderr.write(
    `lango: FreeRADIUS (pid ${r.pid}) exited unexpectedly (${describeExit(outcome)}); exiting so that the service manager restarts it\n`,
  );
  return 1;
}

/** `lango api` and `lango worker`: one builder until a signal. */
async function untilSignal(part: { start(): Promise<void>; stop(): Promise<void> }): Promise<number> {
  await started(part);
  await waitForSignal();
  await part.stop();
  return 0;
}

const opt = (args: Parsed, name: string): string | undefined =>
  typeof args.options[name] === 'string' ? (args.options[name] as string) : undefined;

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
      const downAll = Boolean(args.options['down-all']);
      const names = await migrate(config, { downAll });
      process.stdout.write(`${downAll ? 'rolled back' : 'applied'}: ${names.length ? names.join(', ') : 'nothing'}\n`);
      return 0;
    }
    case 'api':
      return untilSignal(buildApi(config, { logger }));
    case 'worker':
      return untilSignal(buildWorker(config, { logger }));
    case 'radius':
      return runRadius(config, logger, args.options.debug === true);
    case 'gateway':
      return untilSignal(
        buildGateway(await loadGatewayConfig(requireOpt(args, 'config')), {
          logger,
          production: config.mode === 'production',
        }),
      );
    case 'admin':
    case 'tenant': {
      if (sub !== 'create') throw new UsageError(`unknown command: ${cmd} ${sub ?? ''}`);
      const created = await withServices<unknown>(config, (services) =>
        cmd === 'admin'
          ? services.users.createPlatformAdmin(requireOpt(args, 'email'), requireOpt(args, 'password'))
          : services.tenants.create(SYSTEM, {
              name: requireOpt(args, 'name'),
              slug: requireOpt(args, 'slug'),
              timeZone: opt(args, 'time-zone'),
              currency: opt(args, 'currency'),
              admin: { email: requireOpt(args, 'admin-email'), password: requireOpt(args, 'admin-password') },
            }),
      );
      process.stdout.write(JSON.stringify(created, null, 2) + '\n');
      return 0;
    }
    case 'report-role': {
      const out = await withMigrationDb(config, async (db) => {
        if (sub === 'create') {
          const name = opt(args, 'name');
          const password = opt(args, 'password');
          return createReportRole(db, {
            tenant: requireOpt(args, 'tenant'),
            ...(name ? { name } : {}),
            ...(password ? { password } : {}),
          });
        }
        if (sub === 'drop')
          return dropReportRole(db, requireOpt(args, 'name')).then(() => ({ dropped: requireOpt(args, 'name') }));
        if (sub === 'list') return listReportRoles(db);
        throw new UsageError(`unknown command: report-role ${sub ?? ''} (create, list, drop)`);
      });
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return 0;
    }
    case 'radacct': {
      const out = await withMigrationDb(config, async (db) => {
        if (sub === 'partitions') return listRadacctPartitions(db);
        if (sub === 'partition')
          return { created: await createRadacctPartitions(db, intOpt(args, 'ahead', 3, 0, 120)) };
        if (sub === 'archive') {
          const before = parseMonth(requireOpt(args, 'before'));
          if (!before) throw new UsageError('--before: a month as YYYY-MM');
          const dir = opt(args, 'out');
          return archiveRadacctPartitions(db, migrationDatabaseUrl(config), before, dir);
        }
        throw new UsageError(`unknown command: radacct ${sub ?? ''} (partitions, partition, archive)`);
      });
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return 0;
    }
    case 'seed-accounting': {
      const r = await withMigrationDb(config, (db) => seedAccounting(db, args));
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
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
      if (sub === 'nas')
        return simulateNas(
          args,
          { authPort: config.radius.authPort, acctPort: config.radius.acctPort },
          logger,
          waitForSignal().then(() => undefined),
        );
      if (sub === 'daraja')
        return simulateDaraja(
          args,
          logger,
          waitForSignal().then(() => undefined),
        );
      if (sub === 'sms')
        return simulateSms(
          args,
          waitForSignal().then(() => undefined),
        );
      throw new UsageError(`unknown simulator: ${sub ?? ''} (available: routeros, nas, daraja, sms)`);
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
      if (err instanceof UsageError || err instanceof MissingSettingError)
        process.stderr.write(`lango: ${err.message}\n\n${USAGE}\n`);
      // What an operator can act on is said without a stack trace.
      else if (
        err instanceof ConfigError ||
        err instanceof FreeRadiusError ||
        err instanceof EmbeddedPostgresError ||
        err instanceof GatewayConfigError ||
        err instanceof AppError
      ) {
        process.stderr.write(`lango: ${err.message}\n`);
      } else process.stderr.write(`lango: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = err instanceof UsageError || err instanceof MissingSettingError ? 2 : 1;
    });
}
