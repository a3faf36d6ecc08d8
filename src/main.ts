import http from 'node:http';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Config } from './config';
import { createDb } from './db/knex';
import { checkApplicationRole } from './db/roles';
import { createServices, Services } from './services';
import { createApp, type ReadinessCheck } from './http/app';
import type { StartFreeRadiusOptions } from './freeradius';
import type { WorkerOptions } from './jobs/worker';

/**
 * Composition root for the API: config -> logger -> db -> services -> http.
 * `stop()` shuts down in reverse order.
 */
export interface ApiServer {
  url: string;
  db: Knex;
  services: Services;
  stop(): Promise<void>;
}

export async function startApi(
  config: Config,
  logger: Logger,
  databaseUrl: string,
  opts: { readiness?: readonly ReadinessCheck[] } = {},
): Promise<ApiServer> {
  const db = createDb(databaseUrl);
  await checkApplicationRole(db, config.mode, (m) => logger.warn({ module: 'api' }, m)).catch(async (err) => {
    await db.destroy();
    throw err;
  });
  const services = createServices(db, { nasApproval: config.nasApproval, enforcementTargets: config.enforcementTargets });
  const { app } = createApp({ db, services, config, logger, ...(opts.readiness ? { readiness: opts.readiness } : {}) });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.api.port, config.api.host, () => resolve());
  });
  const addr = server.address() as { port: number };
  const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
  logger.info({ module: 'api', url: `http://${host}:${addr.port}` }, 'api listening');
  return {
    url: `http://${host}:${addr.port}`,
    db,
    services,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.destroy();
    },
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
    binary: config.radius.binary,
    stateDir: config.stateDir,
  };
}

/** Worker settings from the configuration (`lango worker` and `lango up`). */
export function workerOptions(config: Config): WorkerOptions {
  const { maxAttempts, ...schedule } = config.worker.retry;
  return {
    targets: config.enforcementTargets,
    schedule,
    sender: { maxAttempts },
    sweepMs: config.worker.sweepSeconds * 1000,
    staleMs: config.worker.staleCheckSeconds * 1000,
    staleFactor: config.worker.staleFactor,
    ...(config.worker.coaSourceAddress ? { bindAddress: config.worker.coaSourceAddress } : {}),
  };
}
