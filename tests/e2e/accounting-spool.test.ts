/**
 * Decoupled accounting (docs/accounting-spool.md) with real FreeRADIUS and PostgreSQL: the
 * database becomes unreachable (a TCP proxy between FreeRADIUS and PostgreSQL is cut) while a
 * NAS that tries only 3 times in 10 s (3 s, 3 s, 4 s) sends Start, Interim-Update and Stop.
 * Every packet is answered; once the database is back every row lands in radacct with the
 * counters and times the NAS sent, in order, and repeats change nothing twice. The outage here
 * lasts 12 s, longer than such a NAS keeps a packet (10 s), which is what makes it lose data
 * without the spool; bench/acct-outage.ts runs the 5-minute version.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, type TestApi } from '../helpers/api';
import { accountingWritten, startTestFreeRadius, type FreeRadiusHandle } from '../helpers/freeradius';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { RadiusClient, PacketCode, type RadiusAttribute } from '../../src/radius';

const SECRET = 'spool-nas-secret';
const OUTAGE_MS = 12000;
let tdb: TestDatabase;
let api: TestApi;
let proxy: TcpProxy;
let fr: FreeRadiusHandle | undefined;
let spoolDir: string;
let tenantId: string;
let viaProxy: string;
const clients: RadiusClient[] = [];

/** A RouterOS-like NAS: 3 transmissions, 3 s + 3 s + 4 s, then it gives up. */
function nas(port: number): RadiusClient {
  const c = new RadiusClient({ host: '127.0.0.1', port, secret: SECRET, retransmit: [3000, 3000, 4000] });
  clients.push(c);
  return c;
}

function session(id: string, user: string) {
  return (status: string, extra: RadiusAttribute[] = []): RadiusAttribute[] => [
    { name: 'User-Name', value: user },
    { name: 'Acct-Session-Id', value: id },
    { name: 'Acct-Status-Type', value: status },
    { name: 'NAS-IP-Address', value: '192.168.88.1' },
    ...extra,
  ];
}

const counters = (t: number, i: number, o: number): RadiusAttribute[] => [
  { name: 'Acct-Session-Time', value: t },
  { name: 'Acct-Input-Octets', value: i },
  { name: 'Acct-Output-Octets', value: o },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  const t = await api.newTenant();
  tenantId = t.id;
  const res = await request(api.app)
    .post('/api/v1/nas')
    .set(t.auth)
    .send({ name: 'router', address: '127.0.0.1', secret: SECRET });
  expect(res.status).toBe(201);
  const u = new URL(tdb.radiusUrl);
  proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  u.port = String(proxy.port);
  viaProxy = u.toString();
  spoolDir = await mkdtemp(path.join(os.tmpdir(), 'lango-spool-outage-'));
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await fr?.stop();
  await proxy?.close();
  await api?.close();
  await tdb?.drop();
  if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
});

async function row(id: string) {
  return tdb.db('radacct').where({ acctsessionid: id }).first();
}

it('answers Start, Interim and Stop during an outage and writes them all, in order, once the database is back', async () => {
  fr = await startTestFreeRadius(viaProxy, { accountingSpoolDir: spoolDir });
  const a = nas(fr.acctPort);
  // The first packet from a new NAS is dropped while FreeRADIUS looks the client up.
  const warm = session('warm-1', 'warm');
  expect((await a.accounting(warm('Start'))).packet.code).toBe(PacketCode.AccountingResponse);
  await accountingWritten(fr);
  expect(await row('warm-1')).toMatchObject({ tenant_id: tenantId, username: 'warm', acctstoptime: null });

  // An open session before the outage: its Interim and Stop come during it.
  const before = session('before-1', 'alice');
  await a.accounting(before('Start'));
  await accountingWritten(fr);

  proxy.cut();
  const cutAt = Date.now();
  const during = session('during-1', 'bob');
  // Hostile text reaches radacct as it was sent (the spool file is parsed again by the reader).
  const odd = session(`o'dd %{Packet-Src-IP-Address} \\ "q"`, `x%{exec:/bin/false}y`);
  const sent: Array<[RadiusAttribute[], string]> = [
    [before('Interim-Update', counters(60, 1000, 2000)), 'before interim'],
    [during('Start'), 'during start'],
    [odd('Start'), 'odd start'],
    [during('Interim-Update', counters(30, 5 * 2 ** 20, 7 * 2 ** 20)), 'during interim'],
    [
      before('Stop', [...counters(120, 3000, 4000), { name: 'Acct-Terminate-Cause', value: 'User-Request' }]),
      'before stop',
    ],
    [
      during('Stop', [...counters(90, 6 * 2 ** 20, 8 * 2 ** 20), { name: 'Acct-Input-Gigawords', value: 1 }]),
      'during stop',
    ],
    // A retransmission the NAS made with a new identifier: a duplicate, changes nothing twice.
    [
      during('Stop', [...counters(90, 6 * 2 ** 20, 8 * 2 ** 20), { name: 'Acct-Input-Gigawords', value: 1 }]),
      'during stop again',
    ],
    [odd('Stop', counters(5, 10, 20)), 'odd stop'],
  ];
  for (const [attrs, what] of sent) {
    const res = await a.accounting(attrs);
    expect([what, res.packet.code]).toEqual([what, PacketCode.AccountingResponse]);
    await sleep(300);
  }
  // Nothing of it can be in the database yet, and the spool holds it.
  expect(await row('during-1')).toBeUndefined();
  expect((await row('before-1')).acctstoptime).toBeNull();
  expect((await fr.accountingBacklog()).bytes).toBeGreaterThan(0);

  // Longer than the NAS keeps a packet: without the spool, everything above would be lost.
  await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
  proxy.restore();
  await accountingWritten(fr, 30000);

  const b = await row('before-1');
  expect(b).toMatchObject({ tenant_id: tenantId, username: 'alice', acctterminatecause: 'User-Request' });
  expect([Number(b.acctsessiontime), Number(b.acctinputoctets), Number(b.acctoutputoctets)]).toEqual([120, 3000, 4000]);
  expect(b.acctstoptime).not.toBeNull();
  // Dated when the NAS sent it (Acct-Delay-Time grows by the time spent in the spool), not
  // when it was replayed after the outage.
  expect(b.acctstoptime.getTime()).toBeLessThan(cutAt + 8000);
  expect(b.acctstoptime.getTime()).toBeGreaterThan(cutAt - 2000);

  const d = await tdb.db('radacct').where({ acctsessionid: 'during-1' });
  expect(d).toHaveLength(1);
  expect([Number(d[0].acctsessiontime), Number(d[0].acctinputoctets), Number(d[0].acctoutputoctets)]).toEqual([
    90,
    2 ** 32 + 6 * 2 ** 20,
    8 * 2 ** 20,
  ]);
  // Start was replayed before Interim and Stop: the session starts when the Start was sent.
  expect(d[0].acctstarttime.getTime()).toBeLessThan(d[0].acctstoptime.getTime());
  expect(d[0].acctstarttime.getTime()).toBeGreaterThan(cutAt - 2000);
  expect(d[0].acctstarttime.getTime()).toBeLessThan(cutAt + 4000);

  const o = await tdb.db('radacct').where({ tenant_id: tenantId, username: `x%{exec:/bin/false}y` });
  expect(o).toHaveLength(1);
  expect(o[0].acctsessionid).toBe(`o'dd %{Packet-Src-IP-Address} \\ "q"`);
  expect(o[0].acctstoptime).not.toBeNull();
  expect(await fr.accountingBacklog()).toMatchObject({ files: 0, bytes: 0 });
}, 90000);

it('keeps what was acknowledged across a restart while the database is down', async () => {
  await fr!.stop();
  fr = await startTestFreeRadius(viaProxy, { accountingSpoolDir: spoolDir });
  const a = nas(fr.acctPort);
  const s = session('restart-1', 'carol');
  await a.accounting(s('Start')).catch(() => a.accounting(s('Start')));
  await accountingWritten(fr);
  proxy.cut();
  expect((await a.accounting(s('Interim-Update', counters(40, 400, 500)))).packet.code).toBe(
    PacketCode.AccountingResponse,
  );
  expect((await a.accounting(s('Stop', counters(50, 600, 700)))).packet.code).toBe(PacketCode.AccountingResponse);
  await sleep(1500);
  expect((await fr.accountingBacklog()).bytes).toBeGreaterThan(0);
  // FreeRADIUS stops with the entries still spooled; the next start replays them.
  await fr.stop();
  fr = await startTestFreeRadius(viaProxy, { accountingSpoolDir: spoolDir });
  proxy.restore();
  await accountingWritten(fr, 30000);
  const r = await tdb.db('radacct').where({ acctsessionid: 'restart-1' });
  expect(r).toHaveLength(1);
  expect([Number(r[0].acctsessiontime), Number(r[0].acctinputoctets), Number(r[0].acctoutputoctets)]).toEqual([
    50, 600, 700,
  ]);
  expect(r[0].acctstoptime).not.toBeNull();
}, 90000);

it('answers from the spool while every accounting connection is busy, and writes it once they are free', async () => {
  await fr?.stop();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lango-spool-busy-'));
  const locker = new Client({ connectionString: tdb.url });
  try {
    // One accounting connection (mods-available/sql_acct), straight to the database.
    fr = await startTestFreeRadius(tdb.radiusUrl, { accountingSpoolDir: dir, accountingConnections: 1 });
    const a = nas(fr.acctPort);
    const warm = session('busy-warm', 'warm');
    await a.accounting(warm('Start')).catch(() => a.accounting(warm('Start')));
    await accountingWritten(fr);
    expect(await row('busy-warm')).toMatchObject({ tenant_id: tenantId });

    // A transaction holds radacct against writes: the next accounting write waits on it and keeps
    // the one connection busy.
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE radacct IN SHARE MODE');
    const first = session('busy-1', 'dave');
    const firstAnswer = a.accounting(first('Start'));
    for (let i = 0; i < 200; i++) {
      const waiting = await tdb.db.raw(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%lango_acct%'`,
      );
      if (waiting.rows[0].n > 0) break;
      await sleep(25);
    }
    // With no connection free, this one is spooled and answered while radacct is still locked.
    const second = session('busy-2', 'erin');
    expect((await a.accounting(second('Start'))).packet.code).toBe(PacketCode.AccountingResponse);
    expect((await fr.accountingBacklog()).files).toBeGreaterThan(0);
    expect(await row('busy-2')).toBeUndefined();

    await locker.query('COMMIT');
    expect((await firstAnswer).packet.code).toBe(PacketCode.AccountingResponse);
    await accountingWritten(fr, 30000);
    for (const [id, user] of [
      ['busy-1', 'dave'],
      ['busy-2', 'erin'],
    ] as const)
      expect(await tdb.db('radacct').where({ acctsessionid: id })).toEqual([
        expect.objectContaining({ tenant_id: tenantId, username: user, acctstoptime: null }),
      ]);
  } finally {
    await locker.end().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}, 90000);
