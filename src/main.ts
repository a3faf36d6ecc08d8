/**
 * The composition root: each builder turns the configuration into a running part of Lango and
 * back, config -> logger -> db -> services -> http/jobs, shutdown in reverse.
 *
 *   buildApi(config, o)       the HTTP API and pages (`lango api`, `lango up`)
 *   buildWorker(config, o)    the enforcement worker (`lango worker`, `lango up`)
 *   buildRadius(config, o)    FreeRADIUS in the foreground (`lango radius`)
 *   buildGateway(gw, o)       the local NAS (`lango gateway --config FILE`; src/gateway/)
 *   withServices(config, fn)  the modules for one command (`lango admin|tenant create`)
 *   migrate(config, o)        `lango migrate`
 *
 * The CLI (src/cli.ts) only parses arguments and calls these; `lango up` (src/stack.ts) composes
 * the same builders with the supervision of FreeRADIUS and the embedded PostgreSQL.
 */
import http from 'node:http';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from './config';
import { createDb } from './db/knex';
import { migrateDatabase, migrateDownAll } from './db/migrate';
import { checkApplicationRole, loginRoleOf, type DatabaseRoles } from './db/roles';
import { systemClock, type Clock } from './lib/clock';
import { ShutdownSteps, type Lifecycle } from './lib/lifecycle';
import { createServices, type Services } from './modules/services';
import { createApp, type ReadinessCheck } from './http/app';
import { startFreeRadius, type FreeRadiusHandle, type StartFreeRadiusOptions } from './freeradius';
import { startWorker, type Worker, type WorkerOptions } from './jobs/worker';
import { Periodic } from './jobs/periodic';
import { beat, checkHeartbeat, heartbeatInstance } from './db/heartbeats';
import { routerOsKick } from './mikrotik/fallback';
import { SmsSender } from './modules/payments/sms';
import { Gateway, type GatewayDeps } from './gateway/gateway';
import { GatewayConfigError, type GatewayConfig } from './gateway/config';

export class MissingSettingError extends Error {}

/** DATABASE_URL, which every command but `lango up` needs. */
export function databaseUrlOf(config: Config): string {
  if (!config.databaseUrl)
    throw new MissingSettingError('DATABASE_URL is not set (only `lango up` starts an embedded Postgres)');
  return config.databaseUrl;
}

export interface Api extends Lifecycle {
  /** Known once started. */
  readonly url: string;
  readonly db: Knex;
  readonly services: Services;
}

export interface BuildOptions {
  logger: Logger;
  /** Default config.databaseUrl. */
  databaseUrl?: string;
  clock?: Clock;
}

/** The app's settings from the configuration. */
export function appConfig(config: Config) {
  return {
    production: config.mode === 'production',
    jwtSecret: config.jwtSecret,
    jwtTtlSeconds: config.jwtTtlSeconds,
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    trustProxy: config.trustProxy,
    radius: {
      publicAddress: config.radius.publicAddress,
      authPort: config.radius.authPort,
      acctPort: config.radius.acctPort,
    },
    mpesaCallbacks: { maxBytes: config.payments.callbackMaxBytes, networks: config.payments.callbackNetworks },
  };
}

/**
 * What /readyz checks beyond the database: a fresh worker heartbeat, and FreeRADIUS (its
 * launcher's heartbeat, unless the caller probes it directly: `lango up` supervises it).
 */
export function apiReadiness(db: Knex, config: Config, radius?: readonly ReadinessCheck[]): ReadinessCheck[] {
  const maxAge = config.heartbeat.maxAgeSeconds;
  return [
    { name: 'worker', check: () => checkHeartbeat(db, 'worker', maxAge) },
    ...(radius ?? [{ name: 'radius', check: () => checkHeartbeat(db, 'radius', maxAge) }]),
  ];
}

export function buildApi(config: Config, o: BuildOptions & { readiness?: readonly ReadinessCheck[] }): Api {
  const log = o.logger.child({ module: 'api' });
  const db = createDb(o.databaseUrl ?? databaseUrlOf(config));
  const reportsDb = config.reportsDatabaseUrl ? createDb(config.reportsDatabaseUrl) : undefined;
  const services = createServices(db, config, o.clock ?? systemClock, reportsDb ? { reportsDb } : {});
  const { app } = createApp({
    db,
    services,
    config: appConfig(config),
    logger: o.logger,
    readiness: apiReadiness(db, config, o.readiness),
  });
  const server = http.createServer(app);
  const steps = new ShutdownSteps((err) => log.error({ err }, 'shutdown step failed'));
  steps.push(() => db.destroy());
  if (reportsDb) steps.push(() => reportsDb.destroy());
  let url = '';
  return {
    db,
    services,
    get url() {
      return url;
    },
    async start() {
      await checkApplicationRole(db, config.mode, (m) => log.warn(m));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.api.port, config.api.host, () => resolve());
      });
      steps.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const addr = server.address() as { port: number };
      const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
      url = `http://${host}:${addr.port}`;
      log.info({ url }, 'api listening');
    },
    stop: () => steps.run(),
  };
}

/** Worker settings from the configuration. */
export function workerOptions(config: Config): WorkerOptions {
  const { maxAttempts, ...schedule } = config.worker.retry;
  return {
    targets: config.enforcementTargets,
    schedule,
    sender: { maxAttempts },
    sweepMs: config.worker.sweepSeconds * 1000,
    staleMs: config.worker.staleCheckSeconds * 1000,
    staleFactor: config.worker.staleFactor,
    sampleSeconds: config.worker.sampleSeconds,
    sampleRetentionDays: config.worker.sampleRetentionDays,
    postauthRetentionDays: config.worker.postauthRetentionDays,
    ...(config.worker.coaSourceAddress ? { bindAddress: config.worker.coaSourceAddress } : {}),
  };
}

export interface WorkerProcess extends Lifecycle {
  /** The running loops (after start). */
  readonly worker: Worker | undefined;
}

export function buildWorker(config: Config, o: BuildOptions & { pool?: number }): WorkerProcess {
  const log = o.logger.child({ module: 'worker' });
  const databaseUrl = o.databaseUrl ?? databaseUrlOf(config);
  const db = createDb(databaseUrl, o.pool ? { max: o.pool } : {});
  const steps = new ShutdownSteps((err) => log.error({ err }, 'shutdown step failed'));
  steps.push(() => db.destroy());
  let worker: Worker | undefined;
  return {
    get worker() {
      return worker;
    },
    async start() {
      await checkApplicationRole(db, config.mode, (m) => log.warn(m));
      const clock = o.clock ?? systemClock;
      const services = createServices(db, config, clock);
      const sms = new SmsSender({
        db,
        clock,
        options: config.payments.sms,
        settings: services.smsSettings,
        logger: o.logger.child({ module: 'sms' }),
      });
      const w = startWorker({
        db,
        databaseUrl,
        logger: o.logger,
        routerOsKick,
        options: workerOptions(config),
        clock,
        payments: { stk: services.stk, sms },
        heartbeatMs: config.heartbeat.everySeconds * 1000,
      });
      worker = w;
      steps.push(() => w.stop());
      await w.firstHeartbeat;
    },
    stop: () => steps.run(),
  };
}

/** FreeRADIUS settings from the configuration (one place for `lango radius` and `lango up`). */
export function radiusOptions(config: Config, databaseUrl: string): StartFreeRadiusOptions {
  return {
    databaseUrl,
    listenAddress: config.radius.listenAddress,
    authPort: config.radius.authPort,
    acctPort: config.radius.acctPort,
    clientNetworks: config.radius.clientNetworks,
    clientLifetime: config.radius.clientLifetime,
    accountingConnections: config.radius.accountingConnections,
    binary: config.radius.binary,
    stateDir: config.stateDir,
  };
}

/**
 * FreeRADIUS connects as its own role; outside production `lango radius` may fall back to
 * DATABASE_URL (with a warning).
 */
export function radiusDatabaseUrl(config: Config, logger: Logger): string {
  if (config.radiusDatabaseUrl) return config.radiusDatabaseUrl;
  if (config.mode === 'production')
    throw new MissingSettingError(
      'LANGO_RADIUS_DATABASE_URL is required in production (FreeRADIUS connects as its own role)',
    );
  logger.warn(
    { module: 'radius' },
    'LANGO_RADIUS_DATABASE_URL is not set: FreeRADIUS connects with DATABASE_URL (development only)',
  );
  return databaseUrlOf(config);
}

export interface RadiusProcess extends Lifecycle {
  /** After start. */
  readonly handle: FreeRadiusHandle | undefined;
}

/**
 * One FreeRADIUS, not supervised (`lango radius`: the service manager restarts the unit). While
 * it answers its status probe the launcher writes a heartbeat (as FreeRADIUS's role), which the
 * API's /readyz reads.
 */
export function buildRadius(config: Config, o: { logger: Logger; debug: boolean }): RadiusProcess {
  let handle: FreeRadiusHandle | undefined;
  let db: Knex | undefined;
  let heartbeat: Periodic | undefined;
  const log = o.logger.child({ module: 'radius' });
  return {
    get handle() {
      return handle;
    },
    async start() {
      const url = radiusDatabaseUrl(config, o.logger);
      handle = await startFreeRadius({ ...radiusOptions(config, url), debug: o.debug, logger: o.logger });
      const h = handle;
      const d = createDb(url, { max: 1 });
      db = d;
      const instance = heartbeatInstance();
      heartbeat = new Periodic(
        'radius-heartbeat',
        config.heartbeat.everySeconds * 1000,
        async () => {
          await h.probe();
          await beat(d, 'radius', instance);
        },
        log,
      );
      heartbeat.start();
    },
    async stop() {
      await heartbeat?.stop();
      await db?.destroy();
      await handle?.stop();
    },
  };
}

/** The modules over a short-lived connection, for one command. */
export async function withServices<T>(config: Config, fn: (services: Services) => Promise<T>): Promise<T> {
  const db = createDb(databaseUrlOf(config));
  try {
    return await fn(createServices(db, config));
  } finally {
    await db.destroy();
  }
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

/** `lango migrate`: the migrations (or all of them rolled back) and the roles; the names applied. */
export async function migrate(config: Config, o: { downAll: boolean }): Promise<string[]> {
  const adminUrl = config.migrateDatabaseUrl ?? databaseUrlOf(config);
  const db = createDb(adminUrl, { max: 1 });
  try {
    return o.downAll ? await migrateDownAll(db) : await migrateDatabase(db, migrationRoles(config, adminUrl));
  } finally {
    await db.destroy();
  }
}

/**
 * The local gateway NAS from its own config file (it never reads the database: RADIUS is its
 * only source of truth, as for a MikroTik).
 */
export function buildGateway(
  gw: GatewayConfig,
  o: { logger: Logger; clock?: Clock; production?: boolean } & Partial<Omit<GatewayDeps, 'clock' | 'logger'>>,
): Gateway {
  const { logger, clock, production, ...rest } = o;
  if (production && gw.portal.trustClientHeaders) {
    throw new GatewayConfigError(
      'gateway config: portal.trustClientHeaders lets any client log in as another; it is refused in production',
    );
  }
  return new Gateway(gw, { ...rest, clock: clock ?? systemClock, logger: logger.child({ part: 'gateway' }) });
}

/**
 * Work on the migrating connection (LANGO_MIGRATE_DATABASE_URL, else DATABASE_URL): what needs
 * rights the API has not, e.g. `lango report-role` (CREATEROLE) or `lango partition-radacct`.
 */
/** The database URL of the migrations' role (the owner of the tables). */
export function migrationDatabaseUrl(config: Config): string {
  return config.migrateDatabaseUrl ?? databaseUrlOf(config);
}

export async function withMigrationDb<T>(config: Config, fn: (db: Knex) => Promise<T>): Promise<T> {
  const db = createDb(migrationDatabaseUrl(config), { max: 2 });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}
