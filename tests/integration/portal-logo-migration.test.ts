/**
 * Migration 20261206000202 moves an existing inline logo (portal_settings.logo_data_url) into
 * portal_logos with its type and hash, and its down puts a small one back.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi } from '../helpers/api';
import { migrationSource } from '../../db/migrations';
import { migrateDatabase } from '../../src/db/migrate';
import { TEST_ROLES } from '../helpers/global-setup';

const options = { migrationSource, tableName: 'lango_migrations' };
/** What `lango migrate` does: the migrations, then the grants (the new table's too). */
const migrate = () => migrateDatabase(tdb.db, { app: { ...TEST_ROLES.app }, radius: { ...TEST_ROLES.radius } });
let tdb: TestDatabase;
let api: TestApi;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
});
afterAll(async () => {
  await api.close();
  await tdb.drop();
});

/** Roll back the newest migrations until (and with) the logo migration. */
async function downThroughLogos(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const [, down] = (await tdb.db.migrate.down(options)) as [number, string[]];
    expect(down).toHaveLength(1);
    if (down[0] === '20261206000202_portal_logos') return;
  }
  throw new Error('20261206000202_portal_logos was not rolled back');
}

it('copies an inline logo to portal_logos, served by the portal afterwards', async () => {
  const t = await api.newTenant();
  await downThroughLogos();
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(300, 3)]);
  await tdb.db('portal_settings').insert({
    tenant_id: t.id,
    logo_data_url: `data:image/png;base64,${png.toString('base64')}`,
  });
  expect(await migrate()).toContain('20261206000202_portal_logos');
  const row = await tdb.db('portal_logos').where({ tenant_id: t.id }).first();
  expect(row.content_type).toBe('image/png');
  expect(Buffer.compare(row.bytes, png)).toBe(0);
  expect(row.sha256).toBe(createHash('sha256').update(png).digest('hex'));
  const served = await request(api.app).get(`/portal/${t.slug}/logo`);
  expect(served.status).toBe(200);
  expect(Buffer.compare(served.body as Buffer, png)).toBe(0);

  await downThroughLogos();
  const back = await tdb.db('portal_settings').where({ tenant_id: t.id }).first();
  expect(back.logo_data_url).toBe(`data:image/png;base64,${png.toString('base64')}`);
  await migrate();
});
