/**
 * Reports from a streaming replica (LANGO_REPORTS_DATABASE_URL): a real primary and a real
 * replica (pg_basebackup -R), the API writing to the primary and reading reports from the
 * replica. Pausing the replica's replay shows which database a report came from.
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { createDb } from '../../src/db/knex';
import { migrateDatabase } from '../../src/db/migrate';
import { createServices } from '../../src/modules/services';
import { signToken } from '../../src/modules/tenancy/credentials';
import { SYSTEM } from '../../src/modules/audit/actor';
import { systemClock } from '../../src/lib/clock';
import { JWT_SECRET, testApp, testConfig } from '../helpers/api';
import { withRole } from '../helpers/db';
import { startPrimaryAndReplica, type Replicated } from '../helpers/replica';

jest.setTimeout(180000);

const APP = { name: 'lango_replica_app', password: 'replica-app-password' };
let rep: Replicated;
let admin: Knex;
let primary: Knex;
let replica: Knex;

beforeAll(async () => {
  rep = await startPrimaryAndReplica();
  admin = createDb(rep.primaryUrl, { max: 2 });
  await migrateDatabase(admin, { app: APP });
  primary = createDb(withRole(rep.primaryUrl, APP), { max: 2 });
  await rep.caughtUp();
  replica = createDb(withRole(rep.replicaUrl, APP), { max: 2 });
});
afterAll(async () => {
  await Promise.all([admin?.destroy(), primary?.destroy(), replica?.destroy()]);
  await rep?.stop();
});

async function onReplica(sql: string): Promise<void> {
  const c = new Client({ connectionString: rep.replicaUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

it('serves reports from the replica', async () => {
  const services = createServices(primary, testConfig(), systemClock, { reportsDb: replica });
  const { app } = testApp(primary, services);
  const created = await services.tenants.create(SYSTEM, {
    name: 'Replica',
    slug: 'replica-t',
    timeZone: 'Africa/Nairobi',
    admin: { email: 'r@lango.test', password: 'tenant-password-1' },
  });
  const tenantId = created.tenant.id;
  const auth = {
    Authorization: `Bearer ${signToken(JWT_SECRET, 3600, { sub: created.admin.id, role: 'tenant_admin', tid: tenantId, ver: 0 })}`,
  };
  const [nas] = await admin('nas')
    .insert({ tenant_id: tenantId, nasname: '127.0.0.1', shortname: 'r1', secret: 's', approved_at: new Date() })
    .returning('id');
  const addSession = (uid: string, octets: number) =>
    admin('radacct').insert({
      tenant_id: tenantId,
      nas_id: nas.id,
      acctsessionid: uid,
      acctuniqueid: uid,
      username: 'alice',
      nasipaddress: '127.0.0.1',
      acctstarttime: new Date('2026-11-20T09:00:00Z'),
      acctupdatetime: new Date('2026-11-20T10:00:00Z'),
      acctsessiontime: 3600,
      acctinputoctets: octets,
      acctoutputoctets: 0,
    });
  const usage = async () => {
    const res = await request(app)
      .get('/api/v1/reports/usage')
      .query({ from: '2026-11-20', to: '2026-11-20' })
      .set(auth);
    expect(res.status).toBe(200);
    return res.body.rows.map((r: { input_octets: number }) => r.input_octets);
  };

  await addSession('s1', 1000);
  await rep.caughtUp();
  expect(await usage()).toEqual([1000]);

  // Replay paused: the primary has the second session, the replica (where reports read) not yet.
  await onReplica('SELECT pg_wal_replay_pause()');
  await addSession('s2', 500);
  expect(
    (await admin.raw(`SELECT sum(input_octets)::int AS n FROM usage_daily WHERE tenant_id = ?`, [tenantId])).rows[0].n,
  ).toBe(1500);
  expect(await usage()).toEqual([1000]);
  await onReplica('SELECT pg_wal_replay_resume()');
  await rep.caughtUp();
  expect(await usage()).toEqual([1500]);
  // And the replica is one: it refuses writes.
  await expect(
    replica.raw(`INSERT INTO report_roles (role_name, tenant_id) VALUES ('x', ?)`, [tenantId]),
  ).rejects.toMatchObject({ code: '25006' });
});
