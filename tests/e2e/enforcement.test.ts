/**
 * Issue 3 end to end: subscribers provisioned through the API log in through a real FreeRADIUS
 * (the project's freeradius/ config) from Lango's NAS simulator, which accounts like a MikroTik
 * and answers CoA/Disconnect on its own loopback address; `lango worker` (startWorker) enforces.
 * Nothing is faked between them: radacct is written by FreeRADIUS, closed by the simulator's
 * Accounting Stop after a Disconnect-ACK.
 */
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../helpers/db';
import { createTestApi, TestApi, TestTenant, suffix } from '../helpers/api';
import { startTestFreeRadius, FreeRadiusHandle } from '../helpers/freeradius';
import { createLogger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import { startWorker, type Worker } from '../../src/jobs/worker';
import { runSweep } from '../../src/jobs/sweep';
import { routerOsKick } from '../../src/mikrotik/fallback';
import { startRouterOsSimulator, type RouterOsSimulator } from '../../src/simulate/routeros-simulator';
import { startNasSimulator, type NasSimulator } from '../../src/simulate/nas-simulator';
import { RadiusClient, getString, getNumber, getAttributes } from '../../src/radius';
import { SOFT_BLOCK_CLASS_RADACCT } from '../../src/modules/enforcement/contract';
import { softBlockReply } from '../../src/modules/enforcement/soft-block';
import { eventually } from '../integration/enforcement-fixtures';

jest.setTimeout(90000);

let tdb: TestDatabase;
let api: TestApi;
let fr: FreeRadiusHandle;
let t: TestTenant;
let worker: Worker;
let daily: any;
const sims: NasSimulator[] = [];
const routers: RouterOsSimulator[] = [];
const clients: RadiusClient[] = [];
let nextAddress = 30;

beforeAll(async () => {
  tdb = await createTestDatabase();
  api = await createTestApi(tdb);
  fr = await startTestFreeRadius(tdb.radiusUrl);
  t = await api.newTenant();
  daily = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Daily', durationSeconds: 86400, rateLimit: '2M/5M', interimIntervalSeconds: 60 })
  ).body;
  worker = startWorker({
    db: tdb.db,
    databaseUrl: tdb.url,
    logger: createLogger('silent'),
    routerOsKick,
    // 2 transmissions per attempt (300 + 600 ms), 3 attempts 200 ms apart; the quota check
    // every 300 ms; no sweep: subscription ends must be caught by the timer alone.
    options: {
      targets: loadConfig({ LANGO_ENV: 'test' }).enforcementTargets,
      schedule: { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 },
      sender: { retryDelaysMs: [200], pollMs: 200 },
      sweepMs: 0,
      quotaMs: 300,
      staleMs: 0,
    },
  });
  await worker.ready;
});

afterAll(async () => {
  await worker?.stop();
  for (const s of sims) await s.close();
  for (const r of routers) await r.close();
  for (const c of clients) await c.close();
  await fr?.stop();
  await api?.close();
  await tdb?.drop();
});

/** A NAS simulator on its own loopback address, registered through the API. */
async function nas(extra: Record<string, unknown> = {}): Promise<{ sim: NasSimulator; id: string; address: string }> {
  const address = `127.0.0.${nextAddress++}`;
  const secret = `nas-secret-${suffix()}`;
  const sim = await startNasSimulator({
    radius: { host: '127.0.0.1', authPort: fr.authPort, acctPort: fr.acctPort, secret },
    coa: { host: address },
    bindAddress: address,
  });
  sims.push(sim);
  const res = await request(api.app)
    .post('/api/v1/nas')
    .set(t.auth)
    .send({ name: `sim-${address}`, address, secret, coaPort: sim.coaPort, ...extra });
  expect(res.status).toBe(201);
  return { sim, id: res.body.id, address };
}

async function subscriber(planId: string, username = `u-${suffix()}`) {
  const res = await request(api.app)
    .post('/api/v1/subscribers')
    .set(t.auth)
    .send({ username, password: 'pw-1', planId });
  expect(res.status).toBe(201);
  return res.body;
}

/** A plan shorter than the API allows (60 s minimum), made through the service. */
const flashPlan = (seconds: number, extra: Record<string, unknown> = {}) =>
  api.services.plans.create({ type: 'system', id: null }, t.id, {
    name: `Flash ${suffix()}`,
    durationSeconds: seconds,
    rateLimit: '4M/4M',
    ...extra,
  });

const settled = (id: string) =>
  eventually(
    async () => {
      const a = (await request(api.app).get(`/api/v1/enforcement-actions/${id}`).set(t.auth)).body;
      return ['pending', 'sending'].includes(a.status) ? undefined : a;
    },
    `action ${id} to settle`,
    40000,
  );

const radacct = (acctSessionId: string) =>
  tdb.db('radacct').where({ acctsessionid: acctSessionId, tenant_id: t.id }).first();

describe('enforcement through FreeRADIUS and the NAS simulator', () => {
  it('a live session whose subscription ends is disconnected at the end: Disconnect-ACK, radacct closed', async () => {
    const { sim } = await nas();
    const plan = await flashPlan(3);
    const s = await subscriber(plan.id);
    const login = await sim.login(s.username, 'pw-1');
    expect(login.accepted).toBe(true);
    expect(getNumber(login.reply, 'Session-Timeout')).toBeLessThanOrEqual(3);
    const acctSessionId = login.session!.acctSessionId;
    await eventually(async () => (await radacct(acctSessionId))?.acctstoptime === null, 'accounting start');

    const action = await eventually(
      async () =>
        (await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}&reason=expired`).set(t.auth)).body
          .data[0],
      'expiry action',
    );
    const done = await settled(action.id);
    expect(done).toMatchObject({ kind: 'disconnect', reason: 'expired', status: 'ack', attempts: 1, acctSessionId });
    const sub = (await request(api.app).get(`/api/v1/subscribers/${s.id}/subscriptions`).set(t.auth)).body.data[0];
    expect(done.dueAt).toBe(sub.endsAt);
    const got = sim.received.find((r) => r.codeName === 'Disconnect-Request');
    expect(got?.answer?.codeName).toBe('Disconnect-ACK');
    expect(getString(got!.attributes, 'User-Name')).toBe(s.username);
    expect(getString(got!.attributes, 'Acct-Session-Id')).toBe(acctSessionId);
    expect(sim.session(acctSessionId)).toBeUndefined();
    await sim.drain();
    const row = await eventually(async () => {
      const r = await radacct(acctSessionId);
      return r?.acctstoptime ? r : undefined;
    }, 'accounting stop');
    expect(row.acctterminatecause).toBe('Admin-Reset');
    const live = (await request(api.app).get(`/api/v1/sessions?subscriberId=${s.id}`).set(t.auth)).body;
    expect(live.page.total).toBe(0);
    // FreeRADIUS now refuses the login.
    const again = await sim.login(s.username, 'pw-1');
    expect(again.accepted).toBe(false);
    expect(getString(again.reply, 'Reply-Message')).toBe('Subscription expired');
  });

  it('a plan change on a live session gets CoA-ACK with the new Mikrotik-Rate-Limit; the session is kept', async () => {
    const { sim } = await nas();
    const fast = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(t.auth)
        .send({ name: `Fast ${suffix()}`, durationSeconds: 86400, rateLimit: '10M/20M' })
    ).body;
    const s = await subscriber(daily.id);
    const login = await sim.login(s.username, 'pw-1');
    expect(getString(login.reply, 'Mikrotik-Rate-Limit')).toBe('2M/5M');
    const acctSessionId = login.session!.acctSessionId;
    await eventually(async () => (await radacct(acctSessionId))?.acctstoptime === null, 'accounting start');

    expect(
      (await request(api.app).post(`/api/v1/subscribers/${s.id}/change-plan`).set(t.auth).send({ planId: fast.id }))
        .status,
    ).toBe(200);
    const action = (
      await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}&reason=plan_change`).set(t.auth)
    ).body.data[0];
    const done = await settled(action.id);
    expect(done).toMatchObject({
      kind: 'coa',
      status: 'ack',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '10M/20M' }],
    });
    const coa = sim.received.find((r) => r.codeName === 'CoA-Request');
    expect(coa?.answer?.codeName).toBe('CoA-ACK');
    expect(getString(coa!.attributes, 'Mikrotik-Rate-Limit')).toBe('10M/20M');
    expect(sim.session(acctSessionId)).toMatchObject({ rateLimit: '10M/20M', coaApplied: 1 });
    expect((await radacct(acctSessionId)).acctstoptime).toBeNull();
  });

  it('a session the NAS does not know is recorded as NAK with Error-Cause 503', async () => {
    const { sim, address } = await nas();
    const s = await subscriber(daily.id);
    await sim.login(s.username, 'pw-1');
    // The router lost a session without telling (no Stop): radacct has it, the router does not.
    const acct = new RadiusClient({
      host: '127.0.0.1',
      port: fr.acctPort,
      secret: (await tdb.db('nas').where({ nasname: address }).first()).secret,
      bindAddress: address,
    });
    clients.push(acct);
    await acct.accounting([
      { name: 'Acct-Status-Type', value: 'Start' },
      { name: 'User-Name', value: s.username },
      { name: 'Acct-Session-Id', value: 'ghost-1' },
      { name: 'Framed-IP-Address', value: '10.5.50.99' },
      { name: 'NAS-IP-Address', value: address },
    ]);
    const row = await eventually(async () => radacct('ghost-1'), 'ghost session in radacct');
    const res = await request(api.app).post(`/api/v1/sessions/${row.radacctid}/disconnect`).set(t.auth).send({});
    expect(res.status).toBe(202);
    const done = await settled(res.body.id);
    expect(done).toMatchObject({
      status: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      attempts: 1,
    });
    expect(sim.received.at(-1)?.answer).toMatchObject({ codeName: 'Disconnect-NAK', errorCause: 503 });
  });

  it('a NAS that does not answer ends as timeout after the retries; then the RouterOS fallback removes the session', async () => {
    const address = `127.0.0.${nextAddress}`;
    const router = await startRouterOsSimulator({ host: address, users: [{ name: 'lango', password: 'api-pw' }] });
    routers.push(router);
    const { sim } = await nas({ routerOsApi: { username: 'lango', password: 'api-pw', port: router.port } });
    const s = await subscriber(daily.id);
    const login = await sim.login(s.username, 'pw-1');
    const acctSessionId = login.session!.acctSessionId;
    router.addActive('hotspot', {
      user: s.username,
      address: login.session!.framedIp,
      macAddress: login.session!.macAddress,
    });
    router.addActive('hotspot', { user: 'someone-else', address: '10.5.50.250' });
    const row = await eventually(async () => radacct(acctSessionId), 'accounting start');
    sim.mode = 'silent';

    const res = await request(api.app).post(`/api/v1/sessions/${row.radacctid}/disconnect`).set(t.auth).send({});
    const done = await settled(res.body.id);
    expect(done).toMatchObject({
      status: 'timeout',
      attempts: 3,
      errorCause: null,
      fallback: { status: 'removed', removed: 1, error: null },
    });
    // Every attempt went out twice (retransmission of the same packet), none was answered.
    expect(sim.received.filter((r) => r.codeName === 'Disconnect-Request').map((r) => r.verdict)).toEqual(
      Array(6).fill('silent'),
    );
    expect(router.listActive('hotspot').map((r) => r.user)).toEqual(['someone-else']);
  });

  it('soft block: the session is disconnected at the end and the re-login lands in the walled garden, until a renewal', async () => {
    const tenantSettings = await request(api.app)
      .patch('/api/v1/enforcement/settings')
      .set(t.auth)
      .send({ expiryAction: 'soft_block' });
    expect(tenantSettings.status).toBe(200);
    try {
      const { sim } = await nas();
      const plan = await flashPlan(3);
      const s = await subscriber(plan.id);
      const first = await sim.login(s.username, 'pw-1');
      expect(getString(first.reply, 'Mikrotik-Address-List')).toBeUndefined();
      await eventually(
        async () => (await radacct(first.session!.acctSessionId))?.acctstoptime === null,
        'accounting start',
      );

      const action = await eventually(
        async () =>
          (await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}&reason=soft_block`).set(t.auth))
            .body.data[0],
        'soft block',
      );
      expect(await settled(action.id)).toMatchObject({
        kind: 'disconnect',
        status: 'ack',
        context: { cause: 'expired' },
      });
      await sim.drain();

      // The router logs the user in again (cookie): accepted into the address list at a trickle.
      const blocked = await sim.login(s.username, 'pw-1');
      expect(blocked.accepted).toBe(true);
      expect(getString(blocked.reply, 'Mikrotik-Address-List')).toBe('lango-blocked');
      expect(getString(blocked.reply, 'Mikrotik-Rate-Limit')).toBe('64k/64k');
      expect(getNumber(blocked.reply, 'Session-Timeout')).toBe(900);
      expect(getString(blocked.reply, 'Reply-Message')).toBeUndefined();
      expect(getString(blocked.reply, 'WISPr-Bandwidth-Max-Down')).toBeUndefined();
      expect(getAttributes(blocked.reply, 'Class').map((c) => Buffer.from(c as Buffer).toString())).toEqual([
        'lango-soft-block',
      ]);
      // What FreeRADIUS built from the tenant's settings is the reply TypeScript states for them.
      for (const { attribute, value } of softBlockReply(tenantSettings.body)) {
        const got =
          attribute === 'Class'
            ? Buffer.from(getAttributes(blocked.reply, 'Class')[0] as Buffer).toString()
            : attribute === 'Session-Timeout'
              ? String(getNumber(blocked.reply, attribute))
              : getString(blocked.reply, attribute);
        expect([attribute, got]).toEqual([attribute, value]);
      }
      const row = await eventually(async () => radacct(blocked.session!.acctSessionId), 'accounting start');
      expect(row.class).toBe(SOFT_BLOCK_CLASS_RADACCT);
      expect((await request(api.app).get(`/api/v1/sessions/${row.radacctid}`).set(t.auth)).body).toMatchObject({
        softBlocked: true,
        live: true,
      });
      // Not "expired" again, by the sweep either.
      await runSweep(tdb.db);
      expect(
        (await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}`).set(t.auth)).body.page.total,
      ).toBe(1);

      // Paying: the walled-garden session is disconnected and the next login gets the plan.
      expect((await request(api.app).post(`/api/v1/subscribers/${s.id}/renew`).set(t.auth).send({})).status).toBe(200);
      const unblock = (
        await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}&reason=unblock`).set(t.auth)
      ).body.data[0];
      expect(await settled(unblock.id)).toMatchObject({ status: 'ack', sessionId: Number(row.radacctid) });
      const paid = await sim.login(s.username, 'pw-1');
      expect(getString(paid.reply, 'Mikrotik-Address-List')).toBeUndefined();
      expect(getString(paid.reply, 'Mikrotik-Rate-Limit')).toBe('4M/4M');
    } finally {
      await request(api.app).patch('/api/v1/enforcement/settings').set(t.auth).send({ expiryAction: 'disconnect' });
    }
  });

  it('a data quota used up mid-session (interim update) disconnects the session; the next login is refused', async () => {
    const { sim } = await nas();
    const capped = (
      await request(api.app)
        .post('/api/v1/plans')
        .set(t.auth)
        .send({ name: `10 MB ${suffix()}`, durationSeconds: 86400, dataQuotaBytes: 10_000_000, rateLimit: '1M/1M' })
    ).body;
    const s = await subscriber(capped.id);
    const login = await sim.login(s.username, 'pw-1');
    expect(getNumber(login.reply, 'Mikrotik-Total-Limit')).toBe(10_000_000);
    const acctSessionId = login.session!.acctSessionId;
    await sim.interim(acctSessionId, { inputOctets: 3_000_000, outputOctets: 4_000_000 });
    await sim.interim(acctSessionId, { inputOctets: 4_000_000, outputOctets: 6_500_000 });
    const action = await eventually(
      async () =>
        (await request(api.app).get(`/api/v1/enforcement-actions?subscriberId=${s.id}&reason=quota`).set(t.auth)).body
          .data[0],
      'quota action',
    );
    expect(await settled(action.id)).toMatchObject({
      status: 'ack',
      context: { cause: 'quota', usedBytes: 10_500_000, quotaBytes: 10_000_000 },
    });
    await sim.drain();
    expect(
      (await eventually(async () => (await radacct(acctSessionId))?.acctstoptime && radacct(acctSessionId), 'stop'))
        .acctterminatecause,
    ).toBe('Admin-Reset');
    const again = await sim.login(s.username, 'pw-1');
    expect(getString(again.reply, 'Reply-Message')).toBe('Data quota exhausted');
  });
});
