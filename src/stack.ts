/**
 * `lango up`: the whole stack for a newcomer, composed from the builders of main.ts (the same
 * API and worker as `lango api` and `lango worker`), with an embedded PostgreSQL when
 * DATABASE_URL is unset, migrations, demo data (demo-seed.ts), and FreeRADIUS; FreeRADIUS and
 * the embedded PostgreSQL are supervised (process/supervisor.ts: restarted when they die).
 * Outside production, with no Daraja or SMS provider configured, it also starts the Daraja and
 * Africa's Talking simulators and points the demo tenant's paybill and the SMS outbox at them.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { DEVELOPMENT_JWT_SECRET, type Config } from './config';
import { createDb } from './db/knex';
import { migrateDatabase } from './db/migrate';
import { stackDatabase } from './db/roles';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres';
import { buildApi, buildGateway, buildWorker, radiusOptions } from './main';
import { parseGatewayConfig } from './gateway/config';
import { started, ShutdownSteps } from './lib/lifecycle';
import { startFreeRadius, FreeRadiusNotInstalledError, type FreeRadiusHandle } from './freeradius';
import { supervise, type Supervisor } from './process/supervisor';
import type { ReadinessCheck } from './http/app';
import { createServices } from './modules/services';
import { DEMO, seedDemo, type Credentials } from './demo-seed';
import net from 'node:net';
import { startDarajaSimulator } from './simulate/daraja-simulator';
import { startSmsSimulator } from './simulate/sms-simulator';

export { DEMO, type Credentials } from './demo-seed';

/**
 * The JWT secret of a `lango up` stack when LANGO_JWT_SECRET is not set: 32 random bytes kept
 * in <stateDir>/jwt-secret (0600), so tokens survive a restart. Never the configuration's
 * development fallback, which is published in the source.
 */
export function stateJwtSecret(stateDir: string): string {
  const file = path.join(stateDir, 'jwt-secret');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 32) return kept;
  }
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

export interface Stack {
  apiUrl: string;
  databaseUrl: string;
  radius: { host: string; authPort: number; acctPort: number };
  credentials: Credentials;
  /** The simulators `lango up` started (development only), by base URL. */
  simulators: { daraja: string | undefined; sms: string | undefined };
  /** Pids of the supervised processes right now (undefined while one is down or not run). */
  pids(): { freeradius: number | undefined; postgres: number | undefined };
  stop(): Promise<void>;
}

/** A TCP port free right now on `host`. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The URL to print: the password replaced by where it is kept. */
export function describeDatabaseUrl(url: string, passwordIsIn: string): string {
  const u = new URL(url);
  if (!u.password) return u.toString();
  u.password = 'PASSWORD';
  return u.toString().replace(':PASSWORD@', `:<password ${passwordIsIn}>@`);
}

function shortPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** The embedded PostgreSQL, restarted when it dies; its URL stays the same. */
function superviseEmbeddedPostgres(config: Config, logger: Logger): Promise<Supervisor<EmbeddedPostgres>> {
  return supervise({
    name: 'embedded PostgreSQL',
    logger,
    start: () => startEmbeddedPostgres({ stateDir: config.stateDir, port: config.embeddedPostgresPort, logger }),
  });
}

/** FreeRADIUS, restarted when it dies, on the ports of its first start (NAS are set up with them). */
function superviseFreeRadius(
  config: Config,
  databaseUrl: string,
  logger: Logger,
): Promise<Supervisor<FreeRadiusHandle>> {
  const options = { ...radiusOptions(config, databaseUrl), logger };
  let ports: { authPort?: number; acctPort?: number } = {};
  return supervise({
    name: 'FreeRADIUS',
    logger,
    start: async () => {
      const handle = await startFreeRadius({ ...options, ...ports });
      ports = { authPort: handle.authPort, acctPort: handle.acctPort };
      return handle;
    },
  });
}

/** /ready's "radius": a Status-Server answered by the FreeRADIUS running now. */
function radiusReadiness(radius: Supervisor<FreeRadiusHandle>): ReadinessCheck {
  return {
    name: 'radius',
    check: async () => {
      const current = radius.current();
      if (!current) throw new Error('FreeRADIUS is not running (restarting)');
      await current.probe();
    },
  };
}

/**
 * Starts the whole stack and returns once it answers; `lango up` waits for Ctrl-C, tests call
 * stop(). Returns null (after saying what to install) when FreeRADIUS is missing.
 */
export async function bringUp(config: Config, logger: Logger, say: (line: string) => void): Promise<Stack | null> {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o755 });
  const steps = new ShutdownSteps((e) => logger.error({ err: e }, 'shutdown step failed'));
  const stop = () => steps.run();
  try {
    // One administrative connection (the embedded server's superuser, or the URL given) runs
    // the migrations and creates the least-privilege roles the processes then use
    // (src/db/roles.ts): lango_app for the API and the worker, lango_radius for FreeRADIUS.
    let adminUrl = config.migrateDatabaseUrl ?? config.databaseUrl;
    let postgres: Supervisor<EmbeddedPostgres> | undefined;
    if (!adminUrl) {
      const port = config.embeddedPostgresPort;
      say(
        `No DATABASE_URL: starting an embedded PostgreSQL in ${path.join(config.stateDir, 'postgres')} on 127.0.0.1:${port}`,
      );
      const pg = await superviseEmbeddedPostgres(config, logger);
      postgres = pg;
      steps.push(() => pg.stop());
      adminUrl = (pg.current() as EmbeddedPostgres).url;
    }
    const stackDb = stackDatabase(adminUrl, config.stateDir);
    const adminDb = createDb(stackDb.adminUrl, { max: 1 });
    let applied: string[];
    try {
      applied = await migrateDatabase(adminDb, stackDb.roles);
    } finally {
      await adminDb.destroy();
    }
    say(`Migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);
    const databaseUrl = stackDb.appUrl;
    const jwtSecret = config.jwtSecret === DEVELOPMENT_JWT_SECRET ? stateJwtSecret(config.stateDir) : config.jwtSecret;
    // Callback URLs need the API's address before it listens: a port of 0 is chosen now.
    const apiPort = config.api.port === 0 ? await freePort(config.api.host) : config.api.port;
    const simulators: Stack['simulators'] = { daraja: undefined, sms: undefined };
    let payments = config.payments;
    if (config.mode !== 'production') {
      if (!payments.darajaSandboxUrl) {
        const sim = await startDarajaSimulator({
          answerDelayMs: 3000,
          logger: logger.child({ module: 'daraja-simulator' }),
        });
        steps.push(() => sim.close());
        simulators.daraja = sim.url;
        payments = { ...payments, darajaSandboxUrl: sim.url };
      }
      if (!payments.sms.apiKey) {
        const sim = await startSmsSimulator();
        steps.push(() => sim.close());
        simulators.sms = sim.url;
        payments = { ...payments, sms: { ...payments.sms, apiKey: 'lango-simulator', baseUrl: sim.url } };
      }
      const apiHost = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
      if (!payments.publicUrl) payments = { ...payments, publicUrl: `http://${apiHost}:${apiPort}` };
    }
    const stackConfig: Config = Object.freeze({
      ...config,
      jwtSecret,
      api: { ...config.api, port: apiPort },
      payments,
    });
    const db = createDb(databaseUrl, { max: 4 });
    steps.push(() => db.destroy());
    const credentials = await seedDemo(
      db,
      createServices(db, { ...stackConfig, nasApproval: 'auto' }),
      config.stateDir,
    );

    let radius: Supervisor<FreeRadiusHandle>;
    try {
      radius = await superviseFreeRadius(config, stackDb.radiusUrl, logger);
    } catch (err) {
      if (err instanceof FreeRadiusNotInstalledError) {
        say('');
        say('FreeRADIUS is not installed. Install it with:');
        say('  sudo apt-get install -y freeradius freeradius-postgresql freeradius-utils');
        say('then run this command again.');
        await stop();
        return null;
      }
      throw err;
    }
    steps.push(() => radius.stop());
    const api = await started(buildApi(stackConfig, { logger, databaseUrl, readiness: [radiusReadiness(radius)] }));
    steps.push(() => api.stop());
    const worker = await started(buildWorker(stackConfig, { logger, databaseUrl, pool: 4 }));
    steps.push(() => worker.stop());

    const host = config.radius.listenAddress === '*' ? '127.0.0.1' : config.radius.listenAddress;
    const { authPort, acctPort } = radius.current() as FreeRadiusHandle;
    const gatewayLines: string[] = [];
    if (config.upGatewayPort !== undefined) {
      // A pretend hotspot beside the demo: the demo NAS row (127.0.0.1) is this gateway.
      const demoNas = await db('nas').where({ nasname: DEMO.nasAddress }).first('coa_port');
      const gatewayPort = config.upGatewayPort;
      const gateway = await started(
        buildGateway(
          parseGatewayConfig({
            lanInterface: 'lan0',
            wanInterface: 'wan0',
            lanSubnet: '10.5.50.0/24',
            nasIpAddress: DEMO.nasAddress,
            nasIdentifier: 'lango-up-gateway',
            radius: { servers: [{ host, authPort, acctPort }], secret: DEMO.nasSecret, bindAddress: DEMO.nasAddress },
            coa: { host: DEMO.nasAddress, port: Number(demoNas?.coa_port ?? 3799) },
            portal: {
              url: `http://127.0.0.1:${gatewayPort}/`,
              host: '127.0.0.1',
              port: gatewayPort,
              trustClientHeaders: true,
            },
            driver: 'memory',
          }),
          { logger, production: config.mode === 'production', stopDrainMs: 3000 },
        ),
      );
      steps.push(() => gateway.stop());
      gatewayLines.push(
        `  Gateway        login http://127.0.0.1:${gatewayPort}/login, CoA/Disconnect ${DEMO.nasAddress}:${gateway.coaPort} (memory driver, the demo NAS)`,
        '',
        'Log a pretend client in through the gateway (radacct gets its Start):',
        `  curl -H 'Accept: application/json' -H 'X-Client-IP: 10.5.50.10' -H 'X-Client-MAC: 02:00:00:00:00:0a' -d username=${DEMO.username} -d password=${DEMO.password} http://127.0.0.1:${gatewayPort}/login`,
      );
    }
    for (const line of [
      '',
      'Lango is up.',
      `  API            ${api.url}/api/v1   (OpenAPI: ${api.url}/api/v1/openapi.json)`,
      `  Platform admin ${credentials.adminEmail} / ${credentials.adminPassword}`,
      `  Demo tenant    ${credentials.tenantAdminEmail} / ${credentials.tenantAdminPassword}`,
      `  Database       ${describeDatabaseUrl(stackDb.appUrl, `in ${shortPath(stackDb.passwordFile)}`)} (API and worker; FreeRADIUS connects as lango_radius)`,
      `  FreeRADIUS     auth ${host}:${authPort}, accounting ${host}:${acctPort} (NAS are read from the nas table)`,
      '  Worker         enforcing expiry, quota, suspension and plan changes on live sessions (CoA/Disconnect)',
      ...(simulators.daraja
        ? [
            `  M-Pesa         Daraja simulator ${simulators.daraja} (demo paybill ${DEMO.paybill}; scenarios: ${simulators.daraja}/simulator/scenarios)`,
          ]
        : []),
      ...(simulators.sms
        ? [
            `  SMS            Africa's Talking simulator ${simulators.sms} (sent messages: ${simulators.sms}/simulator/messages)`,
          ]
        : []),
      `  Readiness      ${api.url}/ready (database, FreeRADIUS and the worker's heartbeat; ${postgres ? 'both are restarted when they die' : 'FreeRADIUS is restarted when it dies'})`,
      '',
      'Try it (expects Access-Accept with Mikrotik-Rate-Limit, Session-Timeout and the data limit):',
      `  radtest ${DEMO.username} ${DEMO.password} ${host}:${authPort} 0 ${DEMO.nasSecret}`,
      ...gatewayLines,
      '',
    ])
      say(line);
    return {
      apiUrl: api.url,
      databaseUrl,
      radius: { host, authPort, acctPort },
      credentials,
      simulators,
      pids: () => ({ freeradius: radius.current()?.pid, postgres: postgres?.current()?.pid }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
