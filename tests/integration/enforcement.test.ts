/**
 * Enforcement against real Postgres: the outbox rows written with the change that causes them,
 * the worker's claims (two workers, a killed worker, Postgres going away), the expiry timer, the
 * quota and stale-session checks, and the sessions/enforcement API. The NAS here is a scripted
 * RFC 5176 responder on loopback; tests/e2e/enforcement.test.ts does the same with FreeRADIUS
 * and the NAS simulator.
 */
import { Writable } from 'node:stream';
import request from 'supertest';
import { suffix } from '../helpers/api';
import { startTcpProxy } from '../helpers/tcp-proxy';
import { createDb } from '../../src/db/knex';
import { createLogger } from '../../src/logger';
import { claimDue } from '../../src/modules/enforcement/outbox.repo';
import { closeStaleSessions } from '../../src/jobs/stale';
import { runQuotaCheck } from '../../src/jobs/quota';
import { runSweep } from '../../src/jobs/sweep';
import { startNasSimulator } from '../../src/simulate/nas-simulator';
import { SOFT_BLOCK_CLASS_RADACCT } from '../../src/modules/enforcement/contract';
import {
  actions,
  addNas,
  eventually,
  FAST,
  nas,
  openSession,
  SECRET,
  sessionIds,
  subscriber,
  useEnvs,
  worker,
} from './enforcement-fixtures';

jest.setTimeout(60000);

const { env } = useEnvs();

describe('the outbox is written in the transaction of the change', () => {
  it('suspend queues a Disconnect per open session of that subscriber only; activate queues nothing', async () => {
    const e = await env();
    const { id: nasId } = await nas(e);
    const s = await subscriber(e);
    const other = await subscriber(e);
    const a1 = await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
    const a2 = await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
    const ended = await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
    await e.tdb.db('radacct').where({ radacctid: ended.id }).update({ acctstoptime: e.tdb.db.fn.now() });
    await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: other.username });
    // Same username in another tenant: not touched.
    const t2 = await e.api.newTenant();
    await e.api.db('subscribers').insert({ tenant_id: t2.id, username: s.username });
    const nas2 = await addNas(e.tdb.db, t2.id, '127.0.0.9', SECRET, 3799);
    await openSession(e.tdb.db, { tenantId: t2.id, nasId: nas2, username: s.username });

    const res = await request(e.api.app)
      .post(`/api/v1/subscribers/${s.id}/suspend`)
      .set(e.t.auth)
      .send({ reason: 'unpaid' });
    expect(res.status).toBe(200);
    const rows = await actions(e);
    expect(rows.map((r) => [Number(r.radacct_id), r.kind, r.reason, r.status, r.subscriber_id]).sort()).toEqual(
      [
        [a1.id, 'disconnect', 'suspended', 'pending', s.id],
        [a2.id, 'disconnect', 'suspended', 'pending', s.id],
      ].sort(),
    );
    expect(rows[0]).toMatchObject({
      username: s.username,
      nas_id: nasId,
      requested_by_type: 'user',
      framed_ip: '10.5.50.9',
    });
    expect(await e.tdb.db('enforcement_actions').where({ tenant_id: t2.id })).toEqual([]);
    // Suspending again does not queue the same Disconnect twice.
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
    expect(await actions(e)).toHaveLength(2);
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/activate`).set(e.t.auth).send({});
    expect(await actions(e)).toHaveLength(2);
  });

  it('change-plan queues a CoA with the new Mikrotik-Rate-Limit; a second change rewrites the pending CoA; a failed change writes nothing', async () => {
    const e = await env();
    const { id: nasId } = await nas(e);
    const s = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
    const fast = (
      await request(e.api.app)
        .post('/api/v1/plans')
        .set(e.t.auth)
        .send({ name: `Fast ${suffix()}`, durationSeconds: 86400, rateLimit: '10M/20M' })
    ).body;
    const faster = (
      await request(e.api.app)
        .post('/api/v1/plans')
        .set(e.t.auth)
        .send({ name: `Faster ${suffix()}`, durationSeconds: 86400, rateLimit: '50M/50M' })
    ).body;
    const off = (
      await request(e.api.app)
        .post('/api/v1/plans')
        .set(e.t.auth)
        .send({ name: `Off ${suffix()}`, durationSeconds: 86400, rateLimit: '1M/1M', active: false })
    ).body;

    expect(
      (await request(e.api.app).post(`/api/v1/subscribers/${s.id}/change-plan`).set(e.t.auth).send({ planId: fast.id }))
        .status,
    ).toBe(200);
    let rows = await actions(e);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'coa',
      reason: 'plan_change',
      status: 'pending',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '10M/20M' }],
    });
    expect(Number(rows[0].radacct_id)).toBe(a.id);

    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/change-plan`).set(e.t.auth).send({ planId: faster.id });
    rows = await actions(e);
    expect(rows).toHaveLength(1);
    expect(rows[0].attributes).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '50M/50M' }]);
    expect(rows[0].context).toMatchObject({ toPlanId: faster.id });

    const failed = await request(e.api.app)
      .post(`/api/v1/subscribers/${s.id}/change-plan`)
      .set(e.t.auth)
      .send({ planId: off.id });
    expect(failed.status).toBe(409);
    expect((await actions(e))[0].attributes).toEqual([{ name: 'Mikrotik-Rate-Limit', value: '50M/50M' }]);
  });

  it('delete queues Disconnects that outlive the subscriber row', async () => {
    const e = await env();
    const { id: nasId } = await nas(e);
    const s = await subscriber(e);
    await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
    expect((await request(e.api.app).delete(`/api/v1/subscribers/${s.id}`).set(e.t.auth)).status).toBe(204);
    const rows = await actions(e);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'disconnect',
      reason: 'deleted',
      subscriber_id: null,
      username: s.username,
      context: { subscriberId: s.id },
    });
  });
});

describe('the worker', () => {
  it('sends after commit and records ack, and nak with its Error-Cause, visible through the API', async () => {
    const e = await env();
    const good = await nas(e);
    const bad = await nas(e);
    bad.nas.answer = 'nak503';
    const s = await subscriber(e);
    const a1 = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: good.id,
      username: s.username,
      framedIp: '10.5.50.77',
    });
    const a2 = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: bad.id, username: s.username });
    worker(e);
    const r1 = await request(e.api.app).post(`/api/v1/sessions/${a1.id}/disconnect`).set(e.t.auth).send({});
    expect(r1.status).toBe(202);
    expect(r1.body).toMatchObject({
      kind: 'disconnect',
      reason: 'staff',
      sessionId: a1.id,
      requestedBy: { type: 'user' },
    });
    const r2 = await request(e.api.app).post(`/api/v1/sessions/${a2.id}/disconnect`).set(e.t.auth).send({});
    const done1 = await eventually(async () => {
      const v = (await request(e.api.app).get(`/api/v1/enforcement-actions/${r1.body.id}`).set(e.t.auth)).body;
      return v.status !== 'pending' && v.status !== 'sending' ? v : undefined;
    }, 'ack');
    expect(done1).toMatchObject({ status: 'ack', attempts: 1, errorCause: null });
    expect(done1.completedAt).not.toBeNull();
    const done2 = await eventually(async () => {
      const v = (await request(e.api.app).get(`/api/v1/enforcement-actions/${r2.body.id}`).set(e.t.auth)).body;
      return v.status !== 'pending' && v.status !== 'sending' ? v : undefined;
    }, 'nak');
    expect(done2).toMatchObject({
      status: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      attempts: 1,
    });
    // What the NAS got: identification attributes from radacct, Event-Timestamp, Message-Authenticator.
    const p = good.nas.received[0]!;
    const names = p.attributes.map((x) => ('name' in x ? x.name : String(x.type)));
    expect(names).toEqual(
      expect.arrayContaining([
        'Message-Authenticator',
        'User-Name',
        'Acct-Session-Id',
        'Framed-IP-Address',
        'NAS-IP-Address',
        'NAS-Identifier',
        'Event-Timestamp',
      ]),
    );
    expect(sessionIds(good.nas)).toEqual([a1.acctSessionId]);
    const log = (await request(e.api.app).get('/api/v1/enforcement-actions?status=nak').set(e.t.auth)).body;
    expect(log.data.map((x: any) => x.id)).toEqual([r2.body.id]);
  });

  it('two workers never send the same action: 300 actions over 3 NAS, each sent exactly once', async () => {
    const e = await env();
    const naslist = [await nas(e), await nas(e), await nas(e)];
    const s = await subscriber(e);
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) {
      const n = naslist[i % 3]!;
      sent.push((await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username })).acctSessionId);
    }
    // Both workers start before anything is queued, then everything is queued at once.
    // What is asserted is that the two workers' claims never overlap; a retransmission (the same
    // request again after FAST's 200 ms on a loaded machine) would look like a second send, so
    // this test waits 2 s before retransmitting.
    const options = { ...FAST, schedule: { irt: 2, mrt: 0, mrc: 1, mrd: 0 }, sender: { ...FAST.sender, batchSize: 7 } };
    const w1 = worker(e, options);
    const w2 = worker(e, options);
    await Promise.all([w1.ready, w2.ready]);
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
    await eventually(async () => (await actions(e, { status: 'ack' })).length === 300, '300 acks');
    const got = naslist.flatMap((n) => sessionIds(n.nas)).sort();
    expect(got).toEqual([...sent].sort());
    const rows = await actions(e);
    expect(rows.every((r) => r.attempts === 1 && r.claimed_by === null)).toBe(true);
    expect(w1.sender.stats.ack + w2.sender.stats.ack).toBe(300);
  });

  it('a worker killed mid-batch loses no action: its lease runs out and another worker sends them', async () => {
    const e = await env();
    const n = await nas(e);
    const s = await subscriber(e);
    for (let i = 0; i < 20; i++) await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
    // The dead worker claimed a batch (status sending, lease 1 s) and never reported back.
    const claimed = await claimDue(e.tdb.db, { worker: 'dead-worker', limit: 12, leaseSeconds: 1 });
    expect(claimed).toHaveLength(12);
    expect(await actions(e, { status: 'sending', claimed_by: 'dead-worker' })).toHaveLength(12);
    const w = worker(e, { ...FAST, sender: { ...FAST.sender, leaseSeconds: 4 } });
    await eventually(async () => (await actions(e, { status: 'ack' })).length === 20, '20 acks');
    expect(n.nas.received).toHaveLength(20);
    expect(w.sender.stats.reclaimed).toBe(12);
    expect((await actions(e)).every((r) => r.attempts === 1)).toBe(true);
  });

  it.each([
    ['the default 3', FAST, 3],
    [
      'the configured number of (LANGO_WORKER_RETRY_MAX_ATTEMPTS)',
      { ...FAST, sender: { ...FAST.sender, maxAttempts: 2 } },
      2,
    ],
  ])(
    'a NAS that does not answer: retried with backoff, then timeout after %s attempts (no RouterOS API configured: no fallback)',
    async (_name, options, attempts) => {
      const e = await env();
      const n = await nas(e);
      n.nas.answer = 'silent';
      const s = await subscriber(e);
      const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
      worker(e, options);
      const r = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
      const done = await eventually(async () => {
        const v = (await request(e.api.app).get(`/api/v1/enforcement-actions/${r.body.id}`).set(e.t.auth)).body;
        return v.status === 'timeout' ? v : undefined;
      }, 'timeout');
      // Every attempt x 2 transmissions of the same packet.
      expect(done).toMatchObject({
        attempts,
        maxAttempts: attempts,
        lastError: 'TIMEOUT',
        fallback: null,
        errorCause: null,
      });
      expect(n.nas.received).toHaveLength(2 * attempts);
    },
  );

  it('a NAS answering garbage does not stall the others; forged replies are dropped and logged, never trusted', async () => {
    const e = await env();
    const garbage = await startNasSimulator({
      radius: { host: '127.0.0.1', authPort: 9, acctPort: 9, secret: SECRET },
      mode: 'garbage',
      nasIdentifier: 'garbage',
    });
    const honest = await startNasSimulator({
      radius: { host: '127.0.0.1', authPort: 9, acctPort: 9, secret: SECRET },
      nasIdentifier: 'honest',
    });
    try {
      const gid = await addNas(e.tdb.db, e.t.id, '127.0.0.1', SECRET, garbage.coaPort, { identifier: 'garbage' });
      const hid = await addNas(e.tdb.db, e.t.id, '127.0.0.1', SECRET, honest.coaPort, { identifier: 'honest' });
      const s = await subscriber(e);
      for (let i = 0; i < 40; i++) {
        await openSession(e.tdb.db, { tenantId: e.t.id, nasId: gid, username: s.username });
        await openSession(e.tdb.db, { tenantId: e.t.id, nasId: hid, username: s.username });
      }
      const lines: string[] = [];
      const logger = createLogger(
        'warn',
        new Writable({
          write(chunk, _enc, cb) {
            lines.push(String(chunk));
            cb();
          },
        }),
      );
      worker(
        e,
        { ...FAST, sender: { ...FAST.sender, perNas: 8, maxInFlight: 16, retryDelaysMs: [50] } },
        e.tdb.db,
        e.tdb.url,
        logger,
      );
      await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
      await eventually(
        async () => (await actions(e)).every((r) => !['pending', 'sending'].includes(r.status)),
        'all outcomes',
      );
      const rows = await actions(e);
      const ofG = rows.filter((r) => r.nas_id === gid);
      const ofH = rows.filter((r) => r.nas_id === hid);
      // The honest NAS has no such sessions: NAK 503. The garbage NAS never gets an answer through.
      expect(ofH.map((r) => [r.status, r.error_cause])).toEqual(ofH.map(() => ['nak', 503]));
      expect(ofG.map((r) => r.status)).toEqual(ofG.map(() => 'timeout'));
      // Every honest answer was recorded before the first garbage action gave up.
      const firstGarbageEnd = Math.min(...ofG.map((r) => new Date(r.completed_at).getTime()));
      expect(Math.max(...ofH.map((r) => new Date(r.completed_at).getTime()))).toBeLessThan(firstGarbageEnd);
      expect(lines.some((l) => l.includes('dynauth reply dropped') && l.includes('bad-authenticator'))).toBe(true);
    } finally {
      await garbage.close();
      await honest.close();
    }
  });

  it('survives Postgres going away: claims and outcomes resume when it is back', async () => {
    const e = await env();
    const n = await nas(e);
    const s = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
    const u = new URL(e.tdb.url);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const db = createDb(u.toString(), { max: 3 });
    try {
      const w = worker(e, FAST, db, u.toString());
      await w.ready;
      proxy.cut();
      // Queued while the worker cannot reach Postgres (written over a direct connection).
      const r = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
      await eventually(async () => w.sender.stats.dbErrors > 0, 'the worker to notice');
      proxy.restore();
      await eventually(
        async () => (await e.tdb.db('enforcement_actions').where({ id: r.body.id }).first())?.status === 'ack',
        'ack after restore',
      );
      expect(sessionIds(n.nas)).toEqual([a.acctSessionId]);
      await w.stop();
    } finally {
      e.workers.splice(0);
      await db.destroy();
      await proxy.close();
    }
  });
});

describe('the checks', () => {
  it('the expiry timer fires at the subscription end (no sweep running) and the action is due at that instant', async () => {
    const e = await env();
    const n = await nas(e);
    const s = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
    const w = worker(e, { ...FAST, expiryMaxSleepMs: 3_600_000 });
    await w.ready;
    await eventually(async () => w.scheduler.runs > 0, 'the first expiry check');
    // Cut the subscription short through the API: change-plan to a 2-second plan re-arms by NOTIFY.
    const short = await e.api.services.plans.create({ type: 'system', id: null }, e.t.id, {
      name: `Flash ${suffix()}`,
      durationSeconds: 2,
      rateLimit: '1M/1M',
    });
    const changed = await request(e.api.app)
      .post(`/api/v1/subscribers/${s.id}/change-plan`)
      .set(e.t.auth)
      .send({ planId: short.id });
    const endsAt = new Date(changed.body.subscription.endsAt);
    const expired = await eventually(async () => (await actions(e, { reason: 'expired' }))[0], 'expired action');
    expect(expired).toMatchObject({ kind: 'disconnect', subscriber_id: s.id });
    expect(Number(expired.radacct_id)).toBe(a.id);
    expect(new Date(expired.due_at).getTime()).toBe(endsAt.getTime());
    expect(new Date(expired.created_at).getTime()).toBeGreaterThanOrEqual(endsAt.getTime());
    await eventually(
      async () => (await e.tdb.db('enforcement_actions').where({ id: expired.id }).first()).status === 'ack',
      'ack',
    );
    // Sent once; running the checks again does not queue it again.
    expect((await runSweep(e.tdb.db)).enqueued).toBe(0);
  });

  it('the sweep catches subscribers not covered or suspended by other paths; a renewal cancels a queued expiry', async () => {
    const e = await env();
    const n = await nas(e);
    const lapsed = await subscriber(e);
    const renewed = await subscriber(e);
    const fine = await subscriber(e);
    for (const x of [lapsed, renewed, fine])
      await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: x.username });
    await e.tdb
      .db('subscriptions')
      .whereIn('subscriber_id', [lapsed.id, renewed.id])
      .update({
        ends_at: e.tdb.db.raw(`now() - interval '1 minute'`),
        starts_at: e.tdb.db.raw(`now() - interval '1 day'`),
      });
    expect((await runSweep(e.tdb.db)).enqueued).toBe(2);
    expect((await runSweep(e.tdb.db)).enqueued).toBe(0);
    await request(e.api.app).post(`/api/v1/subscribers/${renewed.id}/renew`).set(e.t.auth).send({});
    worker(e);
    await eventually(async () => (await actions(e)).every((r) => ['ack', 'cancelled'].includes(r.status)), 'outcomes');
    const rows = await actions(e);
    expect(rows.map((r) => [r.subscriber_id, r.reason, r.status, r.last_error]).sort()).toEqual(
      [
        [lapsed.id, 'expired', 'ack', null],
        [renewed.id, 'expired', 'cancelled', 'subscription renewed'],
      ].sort(),
    );
    expect(sessionIds(n.nas)).toHaveLength(1);
  });

  it("the sweep disconnects a suspended tenant's sessions that began after the suspension", async () => {
    const e = await env();
    const n = await nas(e);
    const s = await subscriber(e);
    // Suspended with nothing online; then a session's Start arrives (its login raced the
    // suspension), so the suspension's own Disconnects could not cover it.
    await e.tdb.db('tenants').where({ id: e.t.id }).update({ status: 'suspended' });
    await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
    expect((await runSweep(e.tdb.db)).enqueued).toBe(1);
    expect((await actions(e)).map((r) => [r.reason, r.context.cause])).toEqual([
      ['tenant_suspended', 'tenant_suspended'],
    ]);
    expect((await runSweep(e.tdb.db)).enqueued).toBe(0);
  });

  it('quota from interim updates: every open session of a user over quota is disconnected', async () => {
    const e = await env();
    const n = await nas(e);
    const capped = (
      await request(e.api.app)
        .post('/api/v1/plans')
        .set(e.t.auth)
        .send({ name: `Capped ${suffix()}`, durationSeconds: 86400, dataQuotaBytes: 1000 })
    ).body;
    const over = await subscriber(e, undefined, { planId: capped.id });
    const under = await subscriber(e, undefined, { planId: capped.id });
    const o1 = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: over.username, octets: 700 });
    const o2 = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: over.username,
      octets: 400,
      updatedSecondsAgo: 3 * 3600,
    });
    await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: under.username, octets: 999 });
    expect((await runQuotaCheck(e.tdb.db)).enqueued).toBe(2);
    const rows = await actions(e, { reason: 'quota' });
    expect(rows.map((r) => Number(r.radacct_id)).sort()).toEqual([o1.id, o2.id].sort());
    expect(rows[0].context).toMatchObject({ cause: 'quota', quotaBytes: 1000, usedBytes: 1100 });
    expect((await runQuotaCheck(e.tdb.db)).enqueued).toBe(0);
  });

  it('stale sessions are closed (Stale-Session), never deleted', async () => {
    const e = await env();
    const n = await nas(e);
    const s = await subscriber(e); // plan interim 300 s: stale after 900 s
    const stale = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      updatedSecondsAgo: 1000,
    });
    const fresh = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      updatedSecondsAgo: 800,
    });
    const before = await e.tdb.db('radacct').count({ n: '*' });
    expect((await closeStaleSessions(e.tdb.db, { factor: 3 })).closed).toBe(1);
    const rows = await e.tdb.db('radacct').whereIn('radacctid', [stale.id, fresh.id]).orderBy('radacctid');
    expect(rows.map((r) => [r.acctterminatecause, r.acctstoptime === null])).toEqual([
      ['Stale-Session', false],
      [null, true],
    ]);
    expect(await e.tdb.db('radacct').count({ n: '*' })).toEqual(before);
  });

  it('soft block: lango_authorize_check accepts the lapsed user into the walled garden; the worker leaves that session alone until a renewal', async () => {
    const e = await env();
    const n = await nas(e);
    const settings = await request(e.api.app)
      .patch('/api/v1/enforcement/settings')
      .set(e.t.auth)
      .send({ expiryAction: 'soft_block', softBlockRateLimit: '32k/32k' });
    expect(settings.status).toBe(200);
    expect(settings.body).toEqual({
      expiryAction: 'soft_block',
      walledGardenList: 'lango-blocked',
      softBlockRateLimit: '32k/32k',
      softBlockSessionTimeout: 900,
    });
    expect(
      (
        await request(e.api.app)
          .patch('/api/v1/enforcement/settings')
          .set(e.t.auth)
          .send({ softBlockRateLimit: 'slow' })
      ).status,
    ).toBe(400);
    const s = await subscriber(e);
    const susp = await subscriber(e);
    await e.tdb
      .db('subscriptions')
      .whereIn('subscriber_id', [s.id, susp.id])
      .update({
        ends_at: e.tdb.db.raw(`now() - interval '1 minute'`),
        starts_at: e.tdb.db.raw(`now() - interval '1 day'`),
      });
    await e.tdb.db('subscribers').where({ id: susp.id }).update({ status: 'suspended' });
    const nasRow = await e.tdb.db('nas').where({ id: n.id }).first();
    const check = async (user: string) =>
      Object.fromEntries(
        (
          await e.tdb.db.raw(`SELECT attribute, value FROM lango_authorize_check(?, ?, ?, '')`, [
            '127.0.0.1',
            Buffer.from(nasRow.identifier).toString('hex'),
            Buffer.from(user).toString('hex'),
          ])
        ).rows
          .filter((r: any) => r.attribute.startsWith('Lango-'))
          .map((r: any) => [r.attribute, r.value]),
      );
    expect(await check(s.username)).toMatchObject({
      'Lango-Soft-Block': 'lango-blocked',
      'Lango-Rate-Limit': '32k/32k',
      'Lango-Session-Timeout': '900',
    });
    expect(await check(s.username)).not.toHaveProperty('Lango-Reject-Reason');
    expect(await check(susp.username)).toMatchObject({ 'Lango-Reject-Reason': 'Account suspended' });
    expect(await check(susp.username)).not.toHaveProperty('Lango-Soft-Block');

    // The live session from before is disconnected with reason soft_block; the re-login (class
    // marked) is not expired again.
    const before = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
    const blocked = await openSession(e.tdb.db, {
      tenantId: e.t.id,
      nasId: n.id,
      username: s.username,
      class: SOFT_BLOCK_CLASS_RADACCT,
    });
    expect((await runSweep(e.tdb.db)).enqueued).toBe(1);
    expect((await actions(e, { subscriber_id: s.id })).map((r) => [Number(r.radacct_id), r.reason])).toEqual([
      [before.id, 'soft_block'],
    ]);
    const sess = (await request(e.api.app).get(`/api/v1/sessions/${blocked.id}`).set(e.t.auth)).body;
    expect(sess).toMatchObject({ softBlocked: true, live: true });
    // Paying (renew) disconnects the walled-garden session so the re-login gets the plan.
    await request(e.api.app).post(`/api/v1/subscribers/${s.id}/renew`).set(e.t.auth).send({});
    expect((await actions(e, { subscriber_id: s.id, reason: 'unblock' })).map((r) => Number(r.radacct_id))).toEqual([
      blocked.id,
    ]);
  });
});

describe('sessions API', () => {
  /** Two NAS, two subscribers: a, b live for s1 (on n1, n2), c live for s2 (n2), old ended for s1. */
  async function sessions() {
    const e = await env();
    const n1 = await nas(e);
    const n2 = await nas(e);
    const s1 = await subscriber(e);
    const s2 = await subscriber(e);
    const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n1.id, username: s1.username, octets: 1234 });
    const b = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n2.id, username: s1.username });
    const c = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n2.id, username: s2.username });
    const old = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n1.id, username: s1.username });
    await e.tdb
      .db('radacct')
      .where({ radacctid: old.id })
      .update({ acctstoptime: e.tdb.db.fn.now(), acctterminatecause: 'User-Request' });
    const get = (path: string) => request(e.api.app).get(`/api/v1${path}`).set(e.t.auth);
    return { e, n1, n2, s1, s2, a, b, c, old, get };
  }

  it('lists live sessions, filtered by NAS, subscriber or username', async () => {
    const { n2, s1, s2, a, b, c, get } = await sessions();
    const all = (await get('/sessions')).body;
    expect(all.page.total).toBe(3);
    expect(all.data.map((x: any) => x.id).sort()).toEqual([a.id, b.id, c.id].sort());
    expect((await get(`/sessions?nasId=${n2.id}`)).body.data.map((x: any) => x.id).sort()).toEqual([b.id, c.id].sort());
    expect((await get(`/sessions?subscriberId=${s1.id}`)).body.data.map((x: any) => x.id).sort()).toEqual(
      [a.id, b.id].sort(),
    );
    expect(
      (await get(`/sessions?username=${encodeURIComponent(s2.username)}`)).body.data.map((x: any) => x.id),
    ).toEqual([c.id]);
  });

  it("shows a subscriber's history, live and ended, and one session with its counters", async () => {
    const { n1, s1, a, b, old, get } = await sessions();
    const hist = (await get(`/subscribers/${s1.id}/sessions`)).body;
    expect(hist.data.map((x: any) => [x.id, x.live])).toEqual(
      expect.arrayContaining([
        [old.id, false],
        [a.id, true],
        [b.id, true],
      ]),
    );
    expect(hist.page.total).toBe(3);
    const one = (await get(`/sessions/${a.id}`)).body;
    expect(one).toMatchObject({
      id: a.id,
      live: true,
      username: s1.username,
      subscriberId: s1.id,
      nasId: n1.id,
      inputOctets: 1234,
      acctSessionId: a.acctSessionId,
      framedIpAddress: '10.5.50.9',
    });
  });

  it("never shows or disconnects another tenant's sessions; needs a login", async () => {
    const { e, a } = await sessions();
    const other = await e.api.newTenant();
    expect((await request(e.api.app).get(`/api/v1/sessions/${a.id}`).set(other.auth)).status).toBe(404);
    expect((await request(e.api.app).get('/api/v1/sessions').set(other.auth)).body.page.total).toBe(0);
    const foreign = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(other.auth).send({});
    expect([foreign.status, foreign.body.error.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    const d = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
    expect((await request(e.api.app).get(`/api/v1/enforcement-actions/${d.body.id}`).set(other.auth)).status).toBe(404);
    expect((await request(e.api.app).get('/api/v1/sessions')).status).toBe(401);
  });

  it('refuses to disconnect an ended session, and bad ids and instants', async () => {
    const { e, s1, old, get } = await sessions();
    const ended = await request(e.api.app).post(`/api/v1/sessions/${old.id}/disconnect`).set(e.t.auth).send({});
    expect([ended.status, ended.body.error.code]).toEqual([409, 'INVALID_STATE']);
    expect((await get('/sessions/abc')).status).toBe(400);
    expect((await get(`/subscribers/${s1.id}/sessions?from=yesterday`)).status).toBe(400);
  });

  it('disconnect is idempotent while the action is in flight, and audited once', async () => {
    const { e, a, get } = await sessions();
    const d1 = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
    const d2 = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
    expect([d1.status, d2.status]).toEqual([202, 202]);
    expect(d2.body.id).toBe(d1.body.id);
    expect((await get(`/enforcement-actions?sessionId=${a.id}`)).body.data.map((x: any) => x.id)).toEqual([d1.body.id]);
    const audit = await e.tdb.db('audit_log').where({ tenant_id: e.t.id, action: 'session.disconnect' });
    expect(audit).toHaveLength(1);
  });
});
