import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createDb } from '../db/knex';
import { migrateLatest } from '../db/migrate';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { startApi } from '../main';
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

export async function up(config: Config, logger: Logger): Promise<void> {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o755 });
  const stops: Array<() => Promise<void>> = [];
  const shutdown = async () => {
    for (const s of stops.reverse()) await s().catch((e) => logger.error({ err: e }, 'shutdown step failed'));
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const port = Number(process.env.LANGO_EMBEDDED_PG_PORT ?? 54329);
      process.stdout.write(`No DATABASE_URL: starting an embedded PostgreSQL in ${path.join(config.stateDir, 'postgres')} on 127.0.0.1:${port}\n`);
      const pg = await startEmbeddedPostgres({ stateDir: config.stateDir, port, logger });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    const db = createDb(databaseUrl, { max: 4 });
    stops.push(() => db.destroy());
    const applied = await migrateLatest(db);
    process.stdout.write(`Migrations: ${applied.length ? applied.join(', ') : 'up to date'}\n`);
    const cred = await seedDemo(db, createServices(db), config.stateDir);

    let radius;
    try {
      radius = await startFreeRadius({
        databaseUrl,
        listenAddress: config.radius.listenAddress,
        authPort: config.radius.authPort,
        acctPort: config.radius.acctPort,
        clientNetworks: config.radius.clientNetworks,
        clientLifetime: config.radius.clientLifetime,
        binary: config.radius.binary,
        stateDir: config.stateDir,
        logger,
      });
    } catch (err) {
      if (err instanceof FreeRadiusNotInstalledError) {
        process.stderr.write(`\nFreeRADIUS is not installed. Install it with:\n  sudo apt-get install -y freeradius freeradius-postgresql freeradius-utils\nthen run this command again.\n`);
        await shutdown();
        process.exitCode = 1;
        return;
      }
      throw err;
    }
    stops.push(() => radius.stop());
    const api = await startApi(config, logger, databaseUrl);
    stops.push(() => api.stop());

    const host = config.radius.listenAddress === '*' ? '127.0.0.1' : config.radius.listenAddress;
    process.stdout.write(
      [
        '',
        'Lango is up.',
        `  API            ${api.url}/api/v1   (OpenAPI: ${api.url}/api/v1/openapi.json)`,
        `  Platform admin ${cred.adminEmail} / ${cred.adminPassword}`,
        `  Demo tenant    ${cred.tenantAdminEmail} / ${cred.adminPassword}`,
        `  FreeRADIUS     auth ${host}:${radius.authPort}, accounting ${host}:${radius.acctPort} (NAS are read from the nas table)`,
        '',
        'Try it (expects Access-Accept with Mikrotik-Rate-Limit, Session-Timeout and the data limit):',
        `  radtest ${DEMO.username} ${DEMO.password} ${host}:${radius.authPort} 0 ${DEMO.nasSecret}`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stdout.write('Stopping...\n');
    await shutdown();
  } catch (err) {
    await shutdown();
    throw err;
  }
}
