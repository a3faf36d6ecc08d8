/**
 * The worker sends only where the operator allows (Hardening issue, item 8): NAS addresses are
 * checked when written through the API, and again by the worker before any CoA/Disconnect or
 * RouterOS API request, since rows can change by other paths. Real Postgres, the real worker,
 * real sockets listening where a packet must never arrive.
 */
import net from 'node:net';
import request from 'supertest';
import { suffix } from '../helpers/api';
import { routerOsKick } from '../../src/mikrotik/fallback';
import { startWorker } from '../../src/jobs/worker';
import type { TargetPolicy } from '../../src/config/networks';
import { ignore, startRadiusPeer } from '../helpers/fakes/radius-peer';
import { eventually, FAST, nas, openSession, silent, subscriber, useEnvs, type Env } from './enforcement-fixtures';

jest.setTimeout(60000);

const { env } = useEnvs();

/** Production-like: NAS on 10/8 and fd00::/8 only, no loopback. */
const PRODUCTION: TargetPolicy = { networks: ['10.0.0.0/8', 'fd00::/8'], allowLoopback: false };

describe('the API refuses a NAS address the worker must not send to', () => {
  it('400 with the field for metadata, link-local, loopback (production), multicast and outside addresses; nothing is written', async () => {
    const e = await env({ apiTargets: PRODUCTION });
    const post = (address: string) =>
      request(e.api.app)
        .post('/api/v1/nas')
        .set(e.t.auth)
        .send({ name: `n-${suffix()}`, address, secret: 'nas-secret-1' });
    const refused = [
      '169.254.169.254',
      '::ffff:169.254.169.254',
      'fe80::1',
      '127.0.0.1',
      '::1',
      '224.0.0.5',
      'ff02::1',
      '0.0.0.0',
      '192.168.88.1',
      '2001:db8::5',
    ];
    for (const address of refused) {
      const r = await post(address);
      expect([address, r.status, r.body.error?.code, r.body.error?.details?.errors?.[0]?.path]).toEqual([
        address,
        400,
        'VALIDATION_FAILED',
        'body.address',
      ]);
    }
    const ok = await post('10.1.2.3');
    expect(ok.status).toBe(201);
    expect((await post('fd00::7')).status).toBe(201);

    const patch = await request(e.api.app)
      .patch(`/api/v1/nas/${ok.body.id}`)
      .set(e.t.auth)
      .send({ address: '169.254.169.254' });
    expect([patch.status, patch.body.error.code, patch.body.error.details.errors[0].path]).toEqual([
      400,
      'VALIDATION_FAILED',
      'body.address',
    ]);
    expect((await request(e.api.app).get(`/api/v1/nas/${ok.body.id}`).set(e.t.auth)).body.address).toBe('10.1.2.3');
    // Other fields of a NAS can still be changed.
    expect(
      (await request(e.api.app).patch(`/api/v1/nas/${ok.body.id}`).set(e.t.auth).send({ name: 'renamed' })).status,
    ).toBe(200);
    expect(await e.tdb.db('nas').where({ tenant_id: e.t.id }).count({ n: '*' })).toEqual([{ n: '2' }]);
  });

  it('development keeps loopback but still refuses link-local', async () => {
    const e = await env({ apiTargets: { networks: ['127.0.0.0/8'], allowLoopback: true } });
    const post = (address: string) =>
      request(e.api.app)
        .post('/api/v1/nas')
        .set(e.t.auth)
        .send({ name: `n-${suffix()}`, address, secret: 'nas-secret-1' });
    expect((await post('127.0.0.7')).status).toBe(201);
    expect((await post('169.254.169.254')).status).toBe(400);
    expect((await post('10.0.0.1')).status).toBe(400);
  });
});

/** A RADIUS peer that never answers and a TCP server on `host`; they record whatever reaches them. */
async function listeners(host: string) {
  let connections = 0;
  const udp = await startRadiusPeer({ secret: 'unused', host, script: () => ignore });
  const tcp = net.createServer((c) => {
    connections++;
    c.destroy();
  });
  await new Promise<void>((resolve) => tcp.listen(0, host, resolve));
  return {
    udpPort: udp.port,
    tcpPort: (tcp.address() as net.AddressInfo).port,
    datagrams: udp.received,
    connections: () => connections,
    close: async () => {
      await udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

describe('the worker never contacts a target outside the allowed networks', () => {
  const cases: Array<[string, TargetPolicy, string]> = [
    [
      'a NAS moved (in the database) outside the networks',
      { networks: ['127.0.0.0/24'], allowLoopback: true },
      '127.0.1.5',
    ],
    [
      'loopback in production, although the networks include it',
      { networks: ['0.0.0.0/0'], allowLoopback: false },
      '127.0.0.1',
    ],
  ];

  it.each(cases)(
    '%s: the action fails without a packet and without the RouterOS fallback',
    async (_name, targets, address) => {
      const e: Env = await env();
      const peer = await listeners(address);
      try {
        const { id: nasId } = await nas(e);
        const s = await subscriber(e);
        const a = await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
        const queued = await request(e.api.app).post(`/api/v1/sessions/${a.id}/disconnect`).set(e.t.auth).send({});
        expect(queued.status).toBe(202);
        // Written behind the API's back: the worker must check at send time.
        await e.tdb.db('nas').where({ id: nasId }).update({
          nasname: address,
          coa_port: peer.udpPort,
          api_port: peer.tcpPort,
          api_username: 'lango',
          api_password: 'pw',
        });
        const w = startWorker({
          db: e.tdb.appDb,
          databaseUrl: e.tdb.appUrl,
          logger: silent,
          routerOsKick,
          options: { ...FAST, targets },
        });
        e.workers.push(w);
        const done = await eventually(async () => {
          const r = await e.tdb.db('enforcement_actions').where({ id: queued.body.id }).first();
          return ['pending', 'sending'].includes(r.status) ? undefined : r;
        }, 'the outcome');
        expect(done).toMatchObject({ status: 'failed', attempts: 0, fallback_status: null });
        expect(done.last_error).toMatch(new RegExp(`^TARGET_NOT_ALLOWED: ${address.replace(/\./g, '\\.')}: `));
        expect(w.sender.stats.fallbacks).toBe(0);
        expect([peer.datagrams.length, peer.connections()]).toEqual([0, 0]);
      } finally {
        await peer.close();
      }
    },
  );
});
