/**
 * Databases for the benchmark: finds the Postgres server, creates two fresh databases (Lango's
 * schema and FreeRADIUS's stock schema) and fills them with the same 1,000 subscribers.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createDb } from '../src/db/knex';
import { migrateDatabase } from '../src/db/migrate';
import { createServices } from '../src/modules/services';
import { SYSTEM } from '../src/modules/audit/actor';
import type { TargetPolicy } from '../src/config/networks';
import { loadConfig } from '../src/config';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const STOCK_SCHEMA = '/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql';

/** Subscribers perf0000..perf0999 (the lab's names), each with its own password. */
export const SUBSCRIBERS = 1000;
export const username = (i: number): string => `perf${String(i % SUBSCRIBERS).padStart(4, '0')}`;
export const password = (i: number): string => `pw-${username(i)}-x7`;

/** The secret of the NAS at 127.0.0.1, in both setups. */
export const NAS_SECRET = 'bench-s3cret';

export function adminUrl(): string {
  return process.env.LANGO_BENCH_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, application_name: 'lango-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Lango's least-privilege roles in the benchmarks that run the API and FreeRADIUS as deployed. */
const BENCH_ROLES = {
  app: { name: 'lango_bench_app', password: 'lango-bench-app' },
  radius: { name: 'lango_bench_radius', password: 'lango-bench-radius' },
} as const;

export interface RoleDatabase {
  /** The server's admin role on the new database (reads results, seeds in bulk). */
  adminDb: Knex;
  /** The application role's pool (what the API and the worker use). */
  db: Knex;
  /** FreeRADIUS's role. */
  radiusUrl: string;
  /** Closes both pools and drops the database. */
  drop(): Promise<void>;
}

/** A fresh database `<prefix>_<random>`, migrated, with the application and FreeRADIUS roles. */
export async function createRoleDatabase(prefix: string): Promise<RoleDatabase> {
  const admin = adminUrl();
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(admin, name);
  const as = (role: { name: string; password: string }) => {
    const u = new URL(url);
    u.username = role.name;
    u.password = role.password;
    return u.toString();
  };
  const adminDb = createDb(url, { max: 2 });
  await migrateDatabase(adminDb, BENCH_ROLES);
  const db = createDb(as(BENCH_ROLES.app), { max: 10 });
  return {
    adminDb,
    db,
    radiusUrl: as(BENCH_ROLES.radius),
    async drop() {
      await db.destroy();
      await adminDb.destroy();
      await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export interface PgInfo {
  version: string;
  maxConnections: number;
  activeConnections: number;
}

export async function postgresInfo(url: string): Promise<PgInfo> {
  return withClient(url, async (c) => {
    const v = await c.query<{ v: string }>('SELECT version() AS v');
    const m = await c.query<{ m: string }>("SELECT current_setting('max_connections') AS m");
    const a = await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = $1', [
      'client backend',
    ]);
    return {
      version: (v.rows[0]?.v ?? '').replace(/ on .*$/, ''),
      maxConnections: Number(m.rows[0]?.m ?? 0),
      activeConnections: Number(a.rows[0]?.n ?? 0),
    };
  });
}

export interface BenchDatabases {
  langoUrl: string;
  stockUrl: string;
  names: string[];
}

export async function createDatabases(admin: string): Promise<BenchDatabases> {
  const suffix = randomBytes(4).toString('hex');
  const lango = `lango_bench_${suffix}`;
  const stock = `stock_bench_${suffix}`;
  await withClient(admin, async (c) => {
    await c.query(`CREATE DATABASE ${lango}`);
    await c.query(`CREATE DATABASE ${stock}`);
  });
  return { langoUrl: withDatabase(admin, lango), stockUrl: withDatabase(admin, stock), names: [lango, stock] };
}

export async function dropDatabases(admin: string, names: readonly string[]): Promise<void> {
  await withClient(admin, async (c) => {
    for (const n of names) {
      if (!/^[a-z0-9_]+$/.test(n)) continue;
      await c.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
    }
  });
}

/* ------------------------------------------------------------------------------------------ */
/* Stock: FreeRADIUS's schema.sql and the lab's seed (sql/seed.sql + sql/perf-users.sql)        */
/* ------------------------------------------------------------------------------------------ */

export async function seedStock(url: string): Promise<void> {
  let schema: string;
  try {
    schema = await readFile(STOCK_SCHEMA, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${STOCK_SCHEMA} (root only on Debian): run the benchmark as root`, { cause: err });
  }
  await withClient(url, async (c) => {
    await c.query(schema);
    // The lab's functional fixtures (section 2 of the lab notes).
    await c.query(`
      INSERT INTO radcheck (username, attribute, op, value) VALUES
        ('alice', 'Cleartext-Password', ':=', 'alicepw'),
        ('bob', 'Cleartext-Password', ':=', 'bobpw'),
        ('bob', 'Simultaneous-Use', ':=', '1'),
        ('carol', 'Cleartext-Password', ':=', 'carolpw'),
        ('carol', 'Auth-Type', ':=', 'Reject'),
        ('dave', 'Cleartext-Password', ':=', 'davepw'),
        ('dave', 'Expiration', ':=', 'January 01 2020'),
        ('erin', 'Cleartext-Password', ':=', 'erinpw');
      INSERT INTO radreply (username, attribute, op, value) VALUES
        ('alice', 'Session-Timeout', ':=', '3600'),
        ('alice', 'Mikrotik-Rate-Limit', ':=', '10M/20M');
      INSERT INTO radusergroup (username, groupname, priority) VALUES
        ('alice', 'gold', 1), ('erin', 'silver', 1);
      INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES
        ('gold', 'Idle-Timeout', '=', '600'),
        ('gold', 'Mikrotik-Address-List', '=', 'gold-users'),
        ('gold', 'Mikrotik-Rate-Limit', '=', '50M/50M'),
        ('silver', 'Mikrotik-Rate-Limit', '=', '5M/5M'),
        ('silver', 'Session-Timeout', '=', '1800');
      INSERT INTO radgroupcheck (groupname, attribute, op, value) VALUES
        ('silver', 'Simultaneous-Use', ':=', '2');
      INSERT INTO nas (nasname, shortname, type, secret) VALUES ('127.0.0.2', 'lab-nas-2', 'other', 'nas2secret');
    `);
    // perf-users: Cleartext-Password, 2 radreply rows, member of gold (3 group replies).
    await c.query(
      `INSERT INTO radcheck (username, attribute, op, value)
         SELECT 'perf' || lpad(i::text, 4, '0'), 'Cleartext-Password', ':=', 'pw-perf' || lpad(i::text, 4, '0') || '-x7'
         FROM generate_series(0, $1 - 1) i`,
      [SUBSCRIBERS],
    );
    await c.query(
      `INSERT INTO radreply (username, attribute, op, value)
         SELECT 'perf' || lpad(i::text, 4, '0'), a.attribute, ':=', a.value
         FROM generate_series(0, $1 - 1) i,
              (VALUES (1, 'Session-Timeout', '3600'), (2, 'Mikrotik-Rate-Limit', '10M/20M')) AS a(n, attribute, value)
         ORDER BY i, a.n`,
      [SUBSCRIBERS],
    );
    await c.query(
      `INSERT INTO radusergroup (username, groupname, priority)
         SELECT 'perf' || lpad(i::text, 4, '0'), 'gold', 1 FROM generate_series(0, $1 - 1) i`,
      [SUBSCRIBERS],
    );
    await c.query('ANALYZE');
  });
  await seedBackgroundSessions(url);
}

/* ------------------------------------------------------------------------------------------ */
/* Lango: migrations, two tenants (same usernames), a plan each, a NAS each, 1,000 subscribers  */
/* ------------------------------------------------------------------------------------------ */

export const PLAN = {
  rateLimit: '10M/20M',
  dataQuotaBytes: 6 * 1024 ** 3,
  durationSeconds: 30 * 86400,
  idleTimeoutSeconds: 600,
  simultaneousUse: 1,
  interimIntervalSeconds: 300,
} as const;

export interface LangoSeed {
  tenantId: string;
  otherTenantId: string;
}

/** The bench's NAS all live on loopback (development's networks). */
export const LOOPBACK_TARGETS: TargetPolicy = { networks: ['127.0.0.0/8'], allowLoopback: true };

/**
 * FreeRADIUS connects to the Lango database as it does in production: a role that may only
 * execute the rlm_sql entry points (src/db/roles.ts), so the benchmark includes their
 * SECURITY DEFINER calls.
 */
export const BENCH_RADIUS_ROLE = { name: 'lango_bench_radius', password: 'lango-bench-radius-pw' } as const;

export function langoRadiusUrl(langoUrl: string): string {
  const u = new URL(langoUrl);
  u.username = BENCH_RADIUS_ROLE.name;
  u.password = BENCH_RADIUS_ROLE.password;
  return u.toString();
}

export async function seedLango(url: string): Promise<LangoSeed> {
  const db = createDb(url, { max: 4 });
  try {
    await migrateDatabase(db, { radius: { ...BENCH_RADIUS_ROLE } });
    const s = createServices(db, { ...loadConfig({}), enforcementTargets: LOOPBACK_TARGETS });
    const tenantIds: string[] = [];
    for (const [slug, nasAddress, nasSecret, pwSuffix] of [
      ['bench-isp-a', '127.0.0.1', NAS_SECRET, '-x7'],
      ['bench-isp-b', '127.0.0.2', 'other-tenant-s3cret', '-other'],
    ] as const) {
      const { tenant } = await s.tenants.create(SYSTEM, {
        name: `Bench ${slug}`,
        slug,
        admin: { email: `admin@${slug}.example`, password: randomBytes(12).toString('hex') },
      });
      const plan = await s.plans.create(SYSTEM, tenant.id, { name: 'Bench 10M/20M', price: 1500, ...PLAN });
      await s.nas.create(SYSTEM, tenant.id, {
        name: `${slug}-router`,
        address: nasAddress,
        secret: nasSecret,
        kind: 'mikrotik',
      });
      // Bulk version of SubscribersService.create() + a started subscription: the same rows.
      await db.transaction(async (trx) => {
        await trx.raw(
          `INSERT INTO subscribers (tenant_id, username, plan_id)
             SELECT ?, 'perf' || lpad(i::text, 4, '0'), ? FROM generate_series(0, ? - 1) i`,
          [tenant.id, plan.id, SUBSCRIBERS],
        );
        await trx.raw(
          `INSERT INTO radcheck (tenant_id, username, attribute, op, value)
             SELECT ?, 'perf' || lpad(i::text, 4, '0'), 'Cleartext-Password', ':=', 'pw-perf' || lpad(i::text, 4, '0') || ?
             FROM generate_series(0, ? - 1) i`,
          [tenant.id, pwSuffix, SUBSCRIBERS],
        );
        await trx.raw(
          `INSERT INTO radusergroup (tenant_id, username, groupname, priority)
             SELECT tenant_id, username, ?, 1 FROM subscribers WHERE tenant_id = ?`,
          [plan.groupname, tenant.id],
        );
        await trx.raw(
          `INSERT INTO subscriptions (tenant_id, subscriber_id, plan_id, plan_name, price, data_quota_bytes,
                                      session_timeout_seconds, starts_at, ends_at, source)
             SELECT s.tenant_id, s.id, p.id, p.name, p.price, p.data_quota_bytes, p.session_timeout_seconds,
                    now(), now() + make_interval(secs => p.duration_seconds), 'staff'
             FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.tenant_id = ?`,
          [tenant.id],
        );
      });
      tenantIds.push(tenant.id);
    }
    await db.raw('ANALYZE');
    const nas = await db('nas').where({ tenant_id: tenantIds[0], nasname: '127.0.0.1' }).first('id');
    await seedBackgroundSessions(url, { tenantId: tenantIds[0] as string, nasId: nas.id as string });
    return { tenantId: tenantIds[0] as string, otherTenantId: tenantIds[1] as string };
  } finally {
    await db.destroy();
  }
}

/**
 * Sessions of other subscribers (bg0000..) on the same NAS, identical in both databases: some
 * online, most closed history. Without them the statistics of an accounting table whose every
 * session was just closed (end of a round) say "no open session", and stock's UPDATE
 * ... WHERE AcctUniqueId = ... AND AcctStopTime IS NULL then walks the whole partial index
 * radacct_bulk_close instead of using the unique index (1.2 ms instead of 0.2 ms per packet).
 * A real network always has sessions open.
 */
export const BACKGROUND_OPEN = 2000;
export const BACKGROUND_CLOSED = 20000;
export const BACKGROUND_POSTAUTH = 20000;

export async function seedBackgroundSessions(url: string, tenant?: { tenantId: string; nasId: string }): Promise<void> {
  await withClient(url, async (c) => {
    // With a tenant, both inserts fill tenant_id and nas_id from the last two parameters.
    const t = tenant ? 'tenant_id, nas_id, ' : '';
    const tv = (first: number): string => (tenant ? `$${first}::uuid, $${first + 1}::uuid, ` : '');
    const tp = tenant ? [tenant.tenantId, tenant.nasId] : [];
    await c.query(
      `INSERT INTO radacct (${t}acctsessionid, acctuniqueid, username, nasipaddress, nasportid, nasporttype,
         acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctinputoctets, acctoutputoctets,
         calledstationid, callingstationid, acctterminatecause, framedipaddress)
       SELECT ${tv(3)}'bg-' || i, md5('bg-' || i), 'bg' || lpad((i % 5000)::text, 4, '0'), '127.0.0.1', 'bridge-hotspot',
         'Wireless-802.11',
         now() - make_interval(secs => i * 7), now() - make_interval(secs => i * 7 - 300),
         CASE WHEN i > $1::int THEN now() - make_interval(secs => i * 7 - 600) END,
         CASE WHEN i > $1::int THEN 600 ELSE 300 END, 1000000, 4000000,
         'hotspot1', '02:00:00:01:00:00', CASE WHEN i > $1::int THEN 'User-Request' END,
         ('10.9.0.0'::inet + i)
       FROM generate_series(1, $1::int + $2::int) i`,
      [BACKGROUND_OPEN, BACKGROUND_CLOSED, ...tp],
    );
    // And the login history a running server has (radpostauth, 5% rejects, of the same other
    // users). Planned on an empty radpostauth, the failed-login count's generic plan is a
    // sequential scan that each FreeRADIUS connection keeps until the next ANALYZE: every login
    // of round 1 then read the whole table (0.3 ms and 120 buffers per login, growing).
    await c.query(
      `INSERT INTO radpostauth (${t}username, reply, authdate, calledstationid, callingstationid)
       SELECT ${tv(2)}'bg' || lpad((i % 5000)::text, 4, '0'),
         CASE WHEN i % 20 = 0 THEN 'Access-Reject' ELSE 'Access-Accept' END,
         now() - make_interval(secs => i * 4), 'hotspot1', '02:00:00:01:00:00'
       FROM generate_series(1, $1::int) i`,
      [BACKGROUND_POSTAUTH, ...tp],
    );
    await c.query('ANALYZE radacct, radpostauth');
  });
}

/** Row counts after the run, as a sanity check that both servers wrote what they answered. */
export async function rowCounts(url: string): Promise<{ radacct: number; openSessions: number; radpostauth: number }> {
  return withClient(url, async (c) => {
    const r = await c.query<{ a: string; o: string; p: string }>(
      `SELECT (SELECT count(*) FROM radacct) AS a,
              (SELECT count(*) FROM radacct WHERE acctstoptime IS NULL) AS o,
              (SELECT count(*) FROM radpostauth) AS p`,
    );
    const row = r.rows[0];
    return { radacct: Number(row?.a ?? 0), openSessions: Number(row?.o ?? 0), radpostauth: Number(row?.p ?? 0) };
  });
}
