import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi } from '../helpers/api';
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
    const down = await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username: 'during-outage', password: 'pw' });
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('DATABASE_UNAVAILABLE');
    expect(JSON.stringify(down.body)).not.toMatch(/ECONNRESET|ECONNREFUSED|terminated/);
    const ready = await request(api.app).get('/ready');
    expect(ready.status).toBe(503);

    proxy.restore();
    const after = await request(api.app).post('/api/v1/subscribers').set(t.auth).send({ username: 'after-outage', password: 'pw' });
    expect(after.status).toBe(201);
    // Nothing from the failed request exists, directly in the database.
    expect(await tdb.db('subscribers').where({ username: 'during-outage' }).count()).toEqual([{ count: '0' }]);
    expect(await tdb.db('radcheck').where({ username: 'during-outage' }).count()).toEqual([{ count: '0' }]);
    expect((await request(api.app).get('/ready')).status).toBe(200);
  });
});

describe('migrations', () => {
  it('run down to nothing and up again', async () => {
    const tdb = await createTestDatabase();
    try {
      const down = await migrateDownAll(tdb.db);
      expect(down.length).toBeGreaterThanOrEqual(4);
      const tables = await tdb.db.raw(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'lango_migrations%'`);
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

describe('OpenAPI', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await createTestApi();
  });
  afterAll(() => api.close());

  it('documents every mounted route, and is served', async () => {
    const doc = (await request(api.app).get('/api/v1/openapi.json')).body;
    // Walk Express's own router stack: anything mounted must be in the document.
    const mounted: string[] = [];
    const stack = (api.app as any).router.stack as any[];
    for (const layer of stack) {
      if (layer.name === 'router' && layer.handle?.stack) {
        for (const r of layer.handle.stack) {
          if (!r.route) continue;
          for (const m of Object.keys(r.route.methods)) mounted.push(`${m} /api/v1${r.route.path.replace(/:(\w+)/g, '{$1}')}`);
        }
      }
    }
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    const undocumented = mounted.filter((m) => m !== 'get /api/v1/openapi.json' && !documented.includes(m));
    expect(mounted.length).toBeGreaterThan(25);
    expect(undocumented).toEqual([]);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/subscribers'].post.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
  });
});
