import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, testApp, testServices, TestApi } from '../helpers/api';
import type { ReadinessCheck } from '../../src/http/app';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { createDb } from '../../src/db/knex';
import { migrateDownAll, migrateLatest, migrationStatus } from '../../src/db/migrate';

describe('the database going away', () => {
  let tdb: TestDatabase;
  let proxy: TcpProxy;
  let api: TestApi;
  let proxied: ReturnType<typeof createDb>;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const u = new URL(tdb.url);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    proxied = createDb(u.toString(), { max: 3 });
    api = await createTestApi(tdb, proxied);
  });
  afterAll(async () => {
    await proxied.destroy();
    await proxy.close();
    await tdb.drop();
  });

  it('answers 503 while Postgres is unreachable, writes nothing half-way, and recovers', async () => {
    const t = await api.newTenant();
    const before = await request(api.app).get('/api/v1/subscribers').set(t.auth);
    expect(before.status).toBe(200);

    proxy.cut();
    const down = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: 'during-outage', password: 'pw' });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('DATABASE_UNAVAILABLE');
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNRESET|ECONNREFUSED|terminated/);
    const ready = await request(api.app).get('/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({
      code: 'NOT_READY',
      details: { checks: { database: 'down' }, down: ['database'] },
    });

    proxy.restore();
    const after = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: 'after-outage', password: 'pw' });
    expect(after.status).toBe(201);
    // Nothing from the failed request exists, directly in the database.
    expect(await tdb.db('subscribers').where({ username: 'during-outage' }).count()).toEqual([{ count: '0' }]);
    expect(await tdb.db('radcheck').where({ username: 'during-outage' }).count()).toEqual([{ count: '0' }]);
    expect((await request(api.app).get('/ready')).status).toBe(200);
  });
});

describe('/ready with injected checks', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(() => tdb.drop());

  const appWith = (readiness: ReadinessCheck[]) => testApp(tdb.db, testServices(tdb.db), undefined, { readiness }).app;

  it('reports every dependency, 200 when all are up, also as /readyz', async () => {
    const app = appWith([{ name: 'radius', check: async () => undefined }]);
    for (const path of ['/ready', '/readyz']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready', checks: { database: 'up', radius: 'up' } });
    }
  });

  it('answers 503 NOT_READY naming what is down, and never why (unless the check says NotReady)', async () => {
    const app = appWith([
      {
        name: 'radius',
        check: async () => {
          throw new Error('no reply from 10.9.8.7 with secret s3cr3t');
        },
      },
      { name: 'other', check: async () => undefined },
    ]);
    const res = await request(app).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('NOT_READY');
    expect(res.body.error.details).toEqual({
      checks: { database: 'up', radius: 'down', other: 'up' },
      down: ['radius'],
      reasons: {},
    });
    expect(JSON.stringify(res.body)).not.toMatch(/10\.9\.8\.7|s3cr3t/);
  });

  it('counts a check that never answers as down', async () => {
    const app = appWith([{ name: 'radius', check: () => new Promise<void>(() => undefined) }]);
    const res = await request(app).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.error.details.down).toEqual(['radius']);
  });

  it('without injected checks only the database is asked (lango api adds the heartbeats: readiness.test.ts)', async () => {
    const res = await request(appWith([])).get('/ready');
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'up' } });
  });
});

describe('migrations', () => {
  it('run down to nothing and up again', async () => {
    const tdb = await createTestDatabase();
    try {
      const down = await migrateDownAll(tdb.db);
      expect(down.length).toBeGreaterThanOrEqual(4);
      const tables = await tdb.db.raw(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'lango_migrations%'`,
      );
      expect(tables.rows[0].n).toBe(0);
      expect((await migrationStatus(tdb.db)).applied).toEqual([]);
      const up = await migrateLatest(tdb.db);
      expect(up).toEqual(down.slice().reverse());
      expect((await migrationStatus(tdb.db)).pending).toEqual([]);
    } finally {
      await tdb.drop();
    }
  });
});
