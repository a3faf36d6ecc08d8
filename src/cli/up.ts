import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { DEVELOPMENT_JWT_SECRET, type Config } from '../config';
import { createDb } from '../db/knex';
import { migrateDatabase } from '../db/migrate';
import { stackDatabase } from '../db/roles';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres';
import { startApi, radiusOptions, workerOptions } from '../main';
import { startWorker } from '../jobs/worker';
import { routerOsKick } from '../mikrotik/fallback';
import { startFreeRadius, FreeRadiusNotInstalledError, type FreeRadiusHandle } from '../freeradius';
import { supervise, type Supervisor } from '../process/supervisor';
import type { ReadinessCheck } from '../http/app';
import { waitForSignal } from './signals';
import { createServices, Services } from '../services';
import { SYSTEM } from '../services/context';
import type { Knex } from 'knex';

export const DEMO = {
  tenantSlug: 'demo',
  nasAddress: '127.0.0.1',
  nasSecret: 'lango-demo-secret',
  username: 'demo',
  password: 'demo-password',
};

export interface Credentials {
  adminEmail: string;
  adminPassword: string;
  tenantAdminEmail: string;
  tenantAdminPassword: string;
}

const OWNER_EMAIL = 'owner@demo.lango.local';
const newPassword = () => randomBytes(9).toString('base64url');

/**
 * Idempotent demo data: a platform admin, tenant "demo" with its owner, a plan, a NAS, a
 * subscriber. The two staff passwords are random, distinct, and kept in
 * <stateDir>/demo-credentials.json (0600). A state directory from before the owner had a
 * password of its own (the file has no tenantAdminPassword) gets one generated, and the
 * owner's password is reset to it: until then it was the platform admin's.
 */
export async function seedDemo(db: Knex, services: Services, stateDir: string): Promise<Credentials> {
  const credFile = path.join(stateDir, 'demo-credentials.json');
  const stored: Partial<Credentials> = existsSync(credFile) ? JSON.parse(readFileSync(credFile, 'utf8')) : {};
  const cred: Credentials = {
    adminEmail: stored.adminEmail ?? 'admin@lango.local',
    adminPassword: stored.adminPassword ?? newPassword(),
    tenantAdminEmail: stored.tenantAdminEmail ?? OWNER_EMAIL,
    tenantAdminPassword: stored.tenantAdminPassword ?? newPassword(),
  };
  const resetOwner = stored.adminPassword !== undefined && stored.tenantAdminPassword === undefined;
  if ((Object.keys(cred) as Array<keyof Credentials>).some((k) => stored[k] === undefined)) {
    writeFileSync(credFile, JSON.stringify(cred), { mode: 0o600 });
    chmodSync(credFile, 0o600);
  }
  if (!(await db('users').whereNull('tenant_id').whereRaw('lower(email) = lower(?)', [cred.adminEmail]).first())) {
    await services.users.createPlatformAdmin(cred.adminEmail, cred.adminPassword, 'Platform admin');
  }
  let tenant = await db('tenants').where({ slug: DEMO.tenantSlug }).first();
  if (!tenant) {
    const created = await services.tenants.create(SYSTEM, {
      name: 'Demo Hotspot',
      slug: DEMO.tenantSlug,
      timeZone: 'Africa/Nairobi',
      currency: 'KES',
      admin: { email: cred.tenantAdminEmail, password: cred.tenantAdminPassword, name: 'Demo owner' },
    });
    tenant = { id: created.tenant.id };
  } else if (resetOwner) {
    const owner = await db('users').where({ tenant_id: tenant.id }).whereRaw('lower(email) = lower(?)', [cred.tenantAdminEmail]).first('id');
    if (owner) await services.users.update(SYSTEM, tenant.id, owner.id, { password: cred.tenantAdminPassword });
  }
  const tid: string = tenant.id;
  let plan = await db('plans').where({ tenant_id: tid, name: 'Daily 1 GB' }).first();
  if (!plan) {
    plan = await services.plans.create(SYSTEM, tid, {
      name: 'Daily 1 GB', price: 50, durationSeconds: 86400, dataQuotaBytes: 1024 ** 3, rateLimit: '2M/5M', simultaneousUse: 1, interimIntervalSeconds: 300,
    });
  }
  if (!(await db('nas').where({ nasname: DEMO.nasAddress }).first())) {
    await services.nas.create(SYSTEM, tid, { name: 'local', address: DEMO.nasAddress, secret: DEMO.nasSecret, kind: 'other' });
  }
  const sub = await db('subscribers').where({ tenant_id: tid, username: DEMO.username }).first();
  if (!sub) {
    await services.subscribers.create(SYSTEM, tid, { username: DEMO.username, password: DEMO.password, planId: plan.id, fullName: 'Demo customer' });
  } else {
    // Keep the printed radtest line working on every `lango up`: top up a lapsed demo period.
    const active = await db('subscriptions').where({ subscriber_id: sub.id, status: 'active' }).andWhere('ends_at', '>', new Date(Date.now() + 3600_000)).first();
    if (!active) await services.subscribers.renew(SYSTEM, tid, sub.id);
  }
  return cred;
}

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
  /** Pids of the supervised processes right now (undefined while one is down or not run). */
  pids(): { freeradius: number | undefined; postgres: number | undefined };
  stop(): Promise<void>;
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
function superviseFreeRadius(config: Config, databaseUrl: string, logger: Logger): Promise<Supervisor<FreeRadiusHandle>> {
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
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((e) => logger.error({ err: e }, 'shutdown step failed'));
  };
  try {
    // One administrative connection (the embedded server's superuser, or the URL given) runs
    // the migrations and creates the least-privilege roles the processes then use
    // (src/db/roles.ts): lango_app for the API and the worker, lango_radius for FreeRADIUS.
    let adminUrl = config.migrateDatabaseUrl ?? config.databaseUrl;
    let postgres: Supervisor<EmbeddedPostgres> | undefined;
    if (!adminUrl) {
      const port = config.embeddedPostgresPort;
      say(`No DATABASE_URL: starting an embedded PostgreSQL in ${path.join(config.stateDir, 'postgres')} on 127.0.0.1:${port}`);
      const pg = await superviseEmbeddedPostgres(config, logger);
      postgres = pg;
      stops.push(() => pg.stop());
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
    const db = createDb(databaseUrl, { max: 4 });
    stops.push(() => db.destroy());
    const credentials = await seedDemo(db, createServices(db, { nasApproval: 'auto', enforcementTargets: config.enforcementTargets }), config.stateDir);

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
    stops.push(() => radius.stop());
    const jwtSecret = config.jwtSecret === DEVELOPMENT_JWT_SECRET ? stateJwtSecret(config.stateDir) : config.jwtSecret;
    const api = await startApi(Object.freeze({ ...config, jwtSecret }), logger, databaseUrl, { readiness: [radiusReadiness(radius)] });
    stops.push(() => api.stop());
    const workerDb = createDb(databaseUrl, { max: 4 });
    stops.push(() => workerDb.destroy());
    const worker = startWorker({ db: workerDb, databaseUrl, logger, routerOsKick, options: workerOptions(config) });
    stops.push(() => worker.stop());

    const host = config.radius.listenAddress === '*' ? '127.0.0.1' : config.radius.listenAddress;
    const { authPort, acctPort } = radius.current() as FreeRadiusHandle;
    for (const line of [
      '',
      'Lango is up.',
      `  API            ${api.url}/api/v1   (OpenAPI: ${api.url}/api/v1/openapi.json)`,
      `  Platform admin ${credentials.adminEmail} / ${credentials.adminPassword}`,
      `  Demo tenant    ${credentials.tenantAdminEmail} / ${credentials.tenantAdminPassword}`,
      `  Database       ${describeDatabaseUrl(stackDb.appUrl, `in ${shortPath(stackDb.passwordFile)}`)} (API and worker; FreeRADIUS connects as lango_radius)`,
      `  FreeRADIUS     auth ${host}:${authPort}, accounting ${host}:${acctPort} (NAS are read from the nas table)`,
      '  Worker         enforcing expiry, quota, suspension and plan changes on live sessions (CoA/Disconnect)',
      `  Readiness      ${api.url}/ready (database and FreeRADIUS; ${postgres ? 'both are restarted when they die' : 'FreeRADIUS is restarted when it dies'})`,
      '',
      'Try it (expects Access-Accept with Mikrotik-Rate-Limit, Session-Timeout and the data limit):',
      `  radtest ${DEMO.username} ${DEMO.password} ${host}:${authPort} 0 ${DEMO.nasSecret}`,
      '',
    ]) say(line);
    return {
      apiUrl: api.url,
      databaseUrl,
      radius: { host, authPort, acctPort },
      credentials,
      pids: () => ({ freeradius: radius.current()?.pid, postgres: postgres?.current()?.pid }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function up(config: Config, logger: Logger): Promise<number> {
  const say = (line: string) => process.stdout.write(line + '\n');
  const stack = await bringUp(config, logger, say);
  if (!stack) return 1;
  say('Ctrl-C stops everything.');
  await waitForSignal();
  say('Stopping...');
  await stack.stop();
  return 0;
}
