/**
 * The local gateway (memory firewall driver) against a real FreeRADIUS with the project's
 * configuration and the Lango API: subscribers provisioned through the API log in at the
 * gateway's login endpoint; radacct is written by FreeRADIUS from the gateway's accounting;
 * Lango's worker disconnects a session at the gateway's CoA port. The gateway's session clock is
 * a FakeClock: limits and interims happen when the test moves time.
 */
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { startTestFreeRadius, type FreeRadiusHandle } from '../helpers/freeradius';
import { FakeClock } from '../helpers/clock';
import { eventually } from '../helpers/wait';
import { freeTcpPort, pickFreeUdpPort } from '../helpers/ports';
import { ignore, startRadiusPeer, type RadiusPeer } from '../helpers/fakes/radius-peer';
import { createLogger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import { startWorker, type Worker } from '../../src/jobs/worker';
import { buildGateway } from '../../src/main';
import { parseGatewayConfig } from '../../src/gateway/config';
import type { Gateway } from '../../src/gateway/gateway';
import { MemoryFirewallDriver } from '../../src/gateway/firewall';
import { DynAuthClient } from '../../src/radius/dynauth-client';

jest.setTimeout(90000);

const ADDRESS = '127.0.0.61';
const SECRET = `gw-secret-${suffix()}`;

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let t: TestTenant;
let worker: Worker;
let gateway: Gateway;
let driver: MemoryFirewallDriver;
let clock: FakeClock;
let deadPrimary: RadiusPeer;
let plan: any;
let nasId: string;
let nextClient = 10;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  fr = await startTestFreeRadius(tdb.radiusUrl);
  t = await api.newTenant();
  plan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Daily', durationSeconds: 86400, rateLimit: '2M/5M', interimIntervalSeconds: 60 })
  ).body;
  // The primary server never answers: every login fails over to FreeRADIUS, the secondary.
  deadPrimary = await startRadiusPeer({ secret: SECRET, script: () => ignore });
  const coaPort = await pickFreeUdpPort(ADDRESS);
  const portalPort = await freeTcpPort();
  const nas = await request(api.app)
    .post('/api/v1/nas')
    .set(t.auth)
    .send({ name: 'gateway', address: ADDRESS, secret: SECRET, coaPort });
  expect(nas.status).toBe(201);
  nasId = nas.body.id;
  const config = parseGatewayConfig({
    lanInterface: 'br-lan',
    wanInterface: 'wan0',
    lanSubnet: '10.5.50.0/24',
    nasIpAddress: ADDRESS,
    nasIdentifier: 'gw-test',
    radius: {
      servers: [
        { host: '127.0.0.1', authPort: deadPrimary.port, acctPort: deadPrimary.port },
        { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort },
      ],
      secret: SECRET,
      bindAddress: ADDRESS,
      retransmit: [1000, 1000], // FreeRADIUS's first answer on a loaded machine can take more than 300 ms
    },
    coa: { host: ADDRESS, port: coaPort },
    portal: { url: 'http://10.5.50.1:8002/', host: '127.0.0.1', port: portalPort, trustClientHeaders: true },
    driver: 'memory',
    checkIntervalMs: 1000,
  });
  clock = new FakeClock(Date.now());
  driver = new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'wan0', portalPort });
  gateway = buildGateway(config, { logger: createLogger('silent'), clock, driver, stopDrainMs: 5000 });
  await gateway.start();
  worker = startWorker({
    db: tdb.db,
    databaseUrl: tdb.url,
    logger: createLogger('silent'),
    options: {
      targets: loadConfig({ LANGO_ENV: 'test' }).enforcementTargets,
      schedule: { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 },
      sender: { retryDelaysMs: [200], pollMs: 200 },
      sweepMs: 0,
      quotaMs: 0,
      staleMs: 0,
    },
  });
  await worker.ready;
});

afterAll(async () => {
  await worker?.stop();
  await gateway?.stop();
  await deadPrimary?.close();
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

async function subscriber(planId = plan.id, username = `u-${suffix()}`) {
  const res = await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ username, password: 'pw-1', planId });
  expect(res.status).toBe(201);
  return res.body;
}

function pretendClient() {
  const n = nextClient++;
  return { ip: `10.5.50.${n}`, mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` };
}

const portal = () => request(`http://127.0.0.1:${gateway.portal.port}`);

async function login(username: string, client = pretendClient(), password = 'pw-1') {
  const res = await portal()
    .post('/login')
    .set('Accept', 'application/json')
    .set('X-Client-IP', client.ip)
    .set('X-Client-MAC', client.mac)
    .type('form')
    .send({ username, password });
  return { res, client };
}

const radacct = (acctSessionId: string) =>
  tdb.db('radacct').where({ acctsessionid: acctSessionId, tenant_id: t.id }).first();
const stopped = (acctSessionId: string) =>
  eventually(async () => {
    const r = await radacct(acctSessionId);
    return r?.acctstoptime ? r : undefined;
  }, `the Stop of ${acctSessionId}`);

/** Moves the gateway's clock in check-sized steps, so each step's check runs. */
async function advance(seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) await clock.advance(1000);
}

describe('the local gateway with FreeRADIUS and Lango', () => {
  it('login -> Access-Accept (after failover) -> radacct Start with the gateway identity; the reply sets the rate', async () => {
    const s = await subscriber();
    const { res, client } = await login(s.username);
    expect(res.status).toBe(200);
    expect(res.body.loggedIn).toBe(true);
    const acctSessionId = res.body.session.acctSessionId as string;
    expect(deadPrimary.received.length).toBeGreaterThanOrEqual(2); // the primary was tried first
    const row = await eventually(async () => radacct(acctSessionId), 'accounting start');
    expect(row).toMatchObject({
      username: s.username,
      nasipaddress: ADDRESS,
      framedipaddress: client.ip,
      callingstationid: client.mac,
      acctstoptime: null,
      nas_id: nasId,
    });
    expect(row.calledstationid).toBe('gw-test');
    const allowed = (await driver.listAllowed()).find((a) => a.ip === client.ip);
    expect(allowed?.limits).toMatchObject({ uploadBps: 2_000_000, downloadBps: 5_000_000 });
    // A wrong password is refused and opens nothing.
    const bad = await login(s.username, pretendClient(), 'wrong');
    expect(bad.res.status).toBe(401);
    expect(bad.res.body.error).toBe('LOGIN_REJECTED');
    expect((await driver.listAllowed()).some((a) => a.ip === bad.client.ip)).toBe(false);
  });

  it('interim updates carry the growing counters from the firewall driver (Gigawords above 4 GiB)', async () => {
    const s = await subscriber();
    const { res, client } = await login(s.username);
    const acctSessionId = res.body.session.acctSessionId as string;
    await eventually(async () => radacct(acctSessionId), 'accounting start');
    driver.addTraffic(client, { bytesIn: 1000, bytesOut: 5000, packetsIn: 10, packetsOut: 20 });
    await advance(60);
    const first = await eventually(async () => {
      const r = await radacct(acctSessionId);
      return Number(r?.acctoutputoctets) === 5000 ? r : undefined;
    }, 'the first interim');
    expect(Number(first.acctinputoctets)).toBe(1000);
    driver.addTraffic(client, { bytesIn: 5 * 2 ** 32, bytesOut: 1000 });
    await advance(60);
    const second = await eventually(async () => {
      const r = await radacct(acctSessionId);
      return Number(r?.acctoutputoctets) === 6000 ? r : undefined;
    }, 'the second interim');
    expect(BigInt(second.acctinputoctets)).toBe(5n * 2n ** 32n + 1000n);
    expect(second.acctstoptime).toBeNull();
  });

  it('Session-Timeout ends the session itself with a Stop (cause Session-Timeout)', async () => {
    const short = await api.services.plans.create({ type: 'system', id: null }, t.id, {
      name: `Flash ${suffix()}`,
      durationSeconds: 120,
      rateLimit: '4M/4M',
    });
    const s = await subscriber(short.id);
    const { res, client } = await login(s.username);
    expect(res.status).toBe(200);
    const timeout = res.body.session.sessionTimeout as number;
    expect(timeout).toBeGreaterThan(0);
    expect(timeout).toBeLessThanOrEqual(120);
    const acctSessionId = res.body.session.acctSessionId as string;
    await eventually(async () => radacct(acctSessionId), 'accounting start');
    await advance(timeout);
    const row = await stopped(acctSessionId);
    expect(row.acctterminatecause).toBe('Session-Timeout');
    expect((await driver.listAllowed()).some((a) => a.ip === client.ip)).toBe(false);
    expect(gateway.sessions.byAddress(client.ip)).toBeUndefined();
  });

  it("Lango's enforcement Disconnect reaches the gateway: the client is logged out and radacct shows the Stop", async () => {
    const s = await subscriber();
    const { res, client } = await login(s.username);
    const acctSessionId = res.body.session.acctSessionId as string;
    const row = await eventually(async () => radacct(acctSessionId), 'accounting start');
    const queued = await request(api.app).post(`/api/v1/sessions/${row.radacctid}/disconnect`).set(t.auth).send({});
    expect(queued.status).toBe(202);
    const done = await eventually(async () => {
      const a = (await request(api.app).get(`/api/v1/enforcement-actions/${queued.body.id}`).set(t.auth)).body;
      return ['pending', 'sending'].includes(a.status) ? undefined : a;
    }, 'the action to settle');
    expect(done).toMatchObject({ kind: 'disconnect', status: 'ack' });
    const closed = await stopped(acctSessionId);
    expect(closed.acctterminatecause).toBe('Admin-Reset');
    expect(gateway.sessions.byAddress(client.ip)).toBeUndefined();
    expect((await driver.listAllowed()).some((a) => a.ip === client.ip)).toBe(false);
  });

  it('a plan change reaches the gateway as CoA and the rate changes live; an unknown session is NAKed', async () => {
    const faster = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(t.auth)
        .send({ name: `Fast ${suffix()}`, durationSeconds: 86400, rateLimit: '8M/16M' })
    ).body;
    const s = await subscriber();
    const { res, client } = await login(s.username);
    await eventually(async () => radacct(res.body.session.acctSessionId), 'accounting start');
    const changed = await request(api.app)
      .post(`/api/v1/subscribers/${s.id}/change-plan`)
      .set(t.auth)
      .send({ planId: faster.id });
    expect(changed.status).toBe(200);
    await eventually(async () => {
      const a = (await driver.listAllowed()).find((x) => x.ip === client.ip);
      return a?.limits?.downloadBps === 16_000_000 ? a : undefined;
    }, 'the new rate');
    const dac = new DynAuthClient({ schedule: { irt: 0.2, mrt: 0, mrc: 1, mrd: 0 } });
    try {
      await expect(
        dac.send(
          { host: ADDRESS, port: gateway.coaPort, secret: SECRET },
          { kind: 'disconnect', acctSessionId: 'ffffffff' },
        ),
      ).resolves.toMatchObject({
        outcome: 'nak',
        errorCause: 503,
      });
    } finally {
      await dac.close();
    }
  });

  it('a CoA or Disconnect with a wrong secret is dropped: no answer, the session stays', async () => {
    const s = await subscriber();
    const { res, client } = await login(s.username);
    const dac = new DynAuthClient({ schedule: { irt: 0.2, mrt: 0, mrc: 1, mrd: 0 } });
    try {
      const r = await dac.send(
        { host: ADDRESS, port: gateway.coaPort, secret: 'not-the-secret' },
        { kind: 'disconnect', acctSessionId: res.body.session.acctSessionId },
      );
      expect(r).toMatchObject({ outcome: 'timeout', attempts: 2 });
    } finally {
      await dac.close();
    }
    expect(gateway.sessions.byAddress(client.ip)?.acctSessionId).toBe(res.body.session.acctSessionId);
  });

  it('bad input at the login endpoint is a 400 naming the problem', async () => {
    const c = pretendClient();
    const noUser = await portal()
      .post('/login')
      .set('Accept', 'application/json')
      .set('X-Client-IP', c.ip)
      .set('X-Client-MAC', c.mac)
      .type('form')
      .send({ password: 'x' });
    expect([noUser.status, noUser.body.error]).toEqual([400, 'VALIDATION_FAILED']);
    const badMac = await portal()
      .post('/login')
      .set('Accept', 'application/json')
      .set('X-Client-IP', c.ip)
      .set('X-Client-MAC', 'nope')
      .type('form')
      .send({ username: 'a', password: 'b' });
    expect(badMac.status).toBe(400);
    const badJson = await portal()
      .post('/login')
      .set('Accept', 'application/json')
      .set('X-Client-IP', c.ip)
      .set('X-Client-MAC', c.mac)
      .set('Content-Type', 'application/json')
      .send('{');
    expect(badJson.status).toBe(400);
  });

  it('a quota above 4 GiB (Mikrotik-Total-Limit + Gigawords from FreeRADIUS) ends the session when reached', async () => {
    const quota = 6 * 2 ** 30 + 12345; // 6 GiB and a bit: Gigawords 1, the rest in the low word
    const big = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(t.auth)
        .send({ name: `Big ${suffix()}`, durationSeconds: 86400, rateLimit: '10M/10M', dataQuotaBytes: quota })
    ).body;
    const s = await subscriber(big.id);
    const { res, client } = await login(s.username);
    expect(res.status).toBe(200);
    const acctSessionId = res.body.session.acctSessionId as string;
    await eventually(async () => radacct(acctSessionId), 'accounting start');
    expect(gateway.sessions.byAddress(client.ip)?.policy.totalLimit).toBe(BigInt(quota));
    driver.addTraffic(client, { bytesIn: 2 ** 32, bytesOut: 2 * 2 ** 30 }); // exactly 6 GiB: below the quota
    await advance(2);
    expect(gateway.sessions.byAddress(client.ip)).toBeDefined();
    driver.addTraffic(client, { bytesOut: 12345 });
    await advance(2);
    expect(gateway.sessions.byAddress(client.ip)).toBeUndefined();
    const row = await stopped(acctSessionId);
    expect(BigInt(row.acctinputoctets) + BigInt(row.acctoutputoctets)).toBe(BigInt(quota));
    expect(BigInt(row.acctinputoctets)).toBe(2n ** 32n);
  });

  // Last: it stops and restarts the shared FreeRADIUS.
  it('FreeRADIUS stopped for a minute and started again: the interims and the Stop sent meanwhile reach radacct, in order, with Acct-Delay-Time', async () => {
    const s = await subscriber();
    const { res, client } = await login(s.username);
    const acctSessionId = res.body.session.acctSessionId as string;
    await eventually(async () => radacct(acctSessionId), 'accounting start');
    const ports = { authPort: fr.authPort, acctPort: fr.acctPort };
    await fr.stop();
    driver.addTraffic(client, { bytesIn: 1000, bytesOut: 5000, packetsIn: 10, packetsOut: 20 });
    await advance(60); // the first interim: FreeRADIUS does not answer
    driver.addTraffic(client, { bytesIn: 2000, bytesOut: 7000, packetsIn: 10, packetsOut: 20 });
    await advance(60); // the second interim, queued behind the first
    expect(gateway.radius.pendingAccounting).toBeGreaterThanOrEqual(2);
    const logout = await portal()
      .post('/logout')
      .set('Accept', 'application/json')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    expect(logout.status).toBe(200); // the Stop is queued; the client does not wait for it
    expect(gateway.radius.pendingAccounting).toBeGreaterThanOrEqual(3);
    await advance(30); // still down, the queue keeps retrying
    const during = await radacct(acctSessionId);
    expect([Number(during.acctinputoctets), during.acctstoptime]).toEqual([0, null]);

    fr = await startTestFreeRadius(tdb.radiusUrl, ports);
    for (let i = 0; i < 60 && gateway.radius.pendingAccounting > 0; i++) {
      await clock.advance(5000);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(gateway.radius.pendingAccounting).toBe(0);
    const drainedAt = Date.now();
    const row = await stopped(acctSessionId);
    // In order: had the Stop overtaken an interim, that interim would have set the counters back.
    expect([Number(row.acctinputoctets), Number(row.acctoutputoctets)]).toEqual([3000, 12000]);
    expect(row.acctterminatecause).toBe('User-Request');
    // Acct-Delay-Time: FreeRADIUS dates the Stop back to when it happened on the gateway's clock
    // (it held it for at least 30 s of that clock), not to when it arrived.
    expect(new Date(row.acctstoptime).getTime()).toBeLessThanOrEqual(drainedAt - 29_000);
    const rows = await tdb
      .db('radacct')
      .where({ acctsessionid: acctSessionId })
      .count<{ count: string }[]>('* as count');
    expect(Number(rows[0]!.count)).toBe(1);
  });
});
