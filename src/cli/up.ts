import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createDb } from '../db/knex';
import { migrateLatest } from '../db/migrate';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { startApi, radiusOptions, workerOptions } from '../main';
import { startWorker } from '../jobs/worker';
import { routerOsKick } from '../mikrotik/fallback';
import { startFreeRadius, FreeRadiusNotInstalledError } from '../freeradius/runner';
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

interface Credentials {
  adminEmail: string;
  adminPassword: string;
}

/** Idempotent demo data: a platform admin, tenant "demo" with an admin, a plan, a NAS, a subscriber. */
export async function seedDemo(db: Knex, services: Services, stateDir: string): Promise<Credentials & { tenantAdminEmail: string }> {
  const credFile = path.join(stateDir, 'demo-credentials.json');
  let cred: Credentials;
  if (existsSync(credFile)) cred = JSON.parse(readFileSync(credFile, 'utf8'));
  else {
    cred = { adminEmail: 'admin@lango.local', adminPassword: randomBytes(9).toString('base64url') };
    writeFileSync(credFile, JSON.stringify(cred), { mode: 0o600 });
  }
  if (!(await db('users').whereRaw('lower(email) = ?', [cred.adminEmail]).first())) {
    await services.users.createPlatformAdmin(cred.adminEmail, cred.adminPassword, 'Platform admin');
  }
  let tenant = await db('tenants').where({ slug: DEMO.tenantSlug }).first();
  if (!tenant) {
    const created = await services.tenants.create(SYSTEM, {
      name: 'Demo Hotspot',
      slug: DEMO.tenantSlug,
      timeZone: 'Africa/Nairobi',
      currency: 'KES',
      admin: { email: 'owner@demo.lango.local', password: cred.adminPassword, name: 'Demo owner' },
    });
    tenant = { id: created.tenant.id };
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
  return { ...cred, tenantAdminEmail: 'owner@demo.lango.local' };
}

export interface Stack {
  apiUrl: string;
  databaseUrl: string;
  radius: { host: string; authPort: number; acctPort: number };
  credentials: Credentials & { tenantAdminEmail: string };
  stop(): Promise<void>;
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
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const port = config.embeddedPostgresPort;
      say(`No DATABASE_URL: starting an embedded PostgreSQL in ${path.join(config.stateDir, 'postgres')} on 127.0.0.1:${port}`);
      const pg = await startEmbeddedPostgres({ stateDir: config.stateDir, port, logger });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    const db = createDb(databaseUrl, { max: 4 });
    stops.push(() => db.destroy());
    const applied = await migrateLatest(db);
    say(`Migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);
    const credentials = await seedDemo(db, createServices(db, { enforcementTargets: config.enforcementTargets }), config.stateDir);

    let radius;
    try {
      radius = await startFreeRadius({ ...radiusOptions(config, databaseUrl), logger });
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
    const api = await startApi(config, logger, databaseUrl);
    stops.push(() => api.stop());
    const workerDb = createDb(databaseUrl, { max: 4 });
    stops.push(() => workerDb.destroy());
    const worker = startWorker({ db: workerDb, databaseUrl, logger, routerOsKick, options: workerOptions(config) });
    stops.push(() => worker.stop());

    const host = config.radius.listenAddress === '*' ? '127.0.0.1' : config.radius.listenAddress;
    for (const line of [
      '',
      'Lango is up.',
      `  API            ${api.url}/api/v1   (OpenAPI: ${api.url}/api/v1/openapi.json)`,
      `  Platform admin ${credentials.adminEmail} / ${credentials.adminPassword}`,
      `  Demo tenant    ${credentials.tenantAdminEmail} / ${credentials.adminPassword}`,
      `  FreeRADIUS     auth ${host}:${radius.authPort}, accounting ${host}:${radius.acctPort} (NAS are read from the nas table)`,
      '  Worker         enforcing expiry, quota, suspension and plan changes on live sessions (CoA/Disconnect)',
      '',
      'Try it (expects Access-Accept with Mikrotik-Rate-Limit, Session-Timeout and the data limit):',
      `  radtest ${DEMO.username} ${DEMO.password} ${host}:${radius.authPort} 0 ${DEMO.nasSecret}`,
      '',
    ]) say(line);
    return { apiUrl: api.url, databaseUrl, radius: { host, authPort: radius.authPort, acctPort: radius.acctPort }, credentials, stop };
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
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  say('Stopping...');
  await stack.stop();
  return 0;
}
