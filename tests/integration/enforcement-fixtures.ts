/**
 * Fixtures for the enforcement tests: a scripted RFC 5176 responder (a NAS that ACKs, NAKs or
 * stays silent, and records every request it verified), rows as FreeRADIUS would write them, and
 * a per-test environment (database, API, tenant, plan, workers) torn down after each test.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import request from 'supertest';
import { getString, PacketCode, type RadiusPacket } from '../../src/radius/codec';
import { answer, ignore, startRadiusPeer } from '../helpers/fakes/radius-peer';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { createLogger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import type { TargetPolicy } from '../../src/config/networks';
import { startWorker, type Worker, type WorkerOptions } from '../../src/jobs/worker';

export const SECRET = 'coa-secret-1';
export const silent = createLogger('silent');
/** The worker sends where development's configuration allows (127.0.0.0/8). */
export const TARGETS = loadConfig({ LANGO_ENV: 'test' }).enforcementTargets;
/** Fast retransmission for loopback: 2 transmissions, 200 + 400 ms. */
export const FAST: WorkerOptions = {
  targets: TARGETS,
  schedule: { irt: 0.2, mrt: 0, mrc: 1, mrd: 0 },
  sender: { retryDelaysMs: [100], pollMs: 100 },
  sweepMs: 0,
  quotaMs: 0,
  staleMs: 0,
};

export interface Env {
  tdb: TestDatabase;
  api: TestApi;
  t: TestTenant;
  plan: any;
  workers: Worker[];
  nases: ScriptedNas[];
}

/** Call at the top of a test file: env() gives a fresh database, API, tenant and plan, dropped after each test. */
export function useEnvs(): { env(opts?: { apiTargets?: TargetPolicy }): Promise<Env> } {
  const envs: Env[] = [];
  afterEach(async () => {
    for (const e of envs.splice(0)) {
      for (const w of e.workers) await w.stop();
      for (const n of e.nases) await n.close();
      await e.api.close();
      await e.tdb.drop();
    }
  });
  return {
    async env(opts = {}) {
      const tdb = await createTestDatabase();
      const api = await createTestApi(tdb, undefined, opts.apiTargets ? { enforcementTargets: opts.apiTargets } : {});
      const t = await api.newTenant();
      const plan = (
        await request(api.app)
          .post('/api/v1/plans')
          .set(t.auth)
          .send({ name: `Daily ${suffix()}`, durationSeconds: 86400, rateLimit: '2M/5M' })
      ).body;
      const e: Env = { tdb, api, t, plan, workers: [], nases: [] };
      envs.push(e);
      return e;
    },
  };
}

export async function subscriber(
  e: Env,
  username = `u-${suffix()}`,
  body: Record<string, unknown> = {},
  auth = e.t.auth,
) {
  const res = await request(e.api.app)
    .post('/api/v1/subscribers')
    .set(auth)
    .send({ username, password: 'pw', planId: e.plan.id, ...body });
  expect(res.status).toBe(201);
  return res.body;
}

/** A scripted NAS on 127.0.0.1 registered for `tenantId` (default: the env's tenant). */
export async function nas(
  e: Env,
  extra: Record<string, unknown> = {},
  tenantId = e.t.id,
): Promise<{ id: string; nas: ScriptedNas }> {
  const n = await scriptedNas(SECRET);
  e.nases.push(n);
  return {
    id: await addNas(e.tdb.db, tenantId, '127.0.0.1', SECRET, n.port, { identifier: `id-${suffix()}`, ...extra }),
    nas: n,
  };
}

/** A scripted NAS, a subscriber on the env's plan, and an open session of theirs on that NAS. */
export async function liveSession(e: Env) {
  const n = await nas(e);
  const s = await subscriber(e);
  const session = await openSession(e.tdb.db, { tenantId: e.t.id, nasId: n.id, username: s.username });
  return { n, s, session };
}

/** The worker runs as the application role, as in production (a missing grant fails the test). */
export function worker(
  e: Env,
  options: WorkerOptions = FAST,
  db = e.tdb.appDb,
  url = e.tdb.appUrl,
  logger = silent,
): Worker {
  const w = startWorker({ db, databaseUrl: url, logger, options });
  e.workers.push(w);
  return w;
}

export const actions = (e: Env, where: Record<string, unknown> = {}) =>
  e.tdb
    .db('enforcement_actions')
    .where({ tenant_id: e.t.id, ...where })
    .orderBy('created_at');

export interface ScriptedNas {
  readonly port: number;
  /** Verified requests, in arrival order. */
  readonly received: RadiusPacket[];
  /** How to answer from now on. */
  answer: 'ack' | 'nak503' | 'silent';
  /** The Error-Cause a NAK carries (default 503; a hostile NAS may send any 32-bit value). */
  errorCause: number;
  close(): Promise<void>;
}

/** The scriptable fake peer (tests/helpers/fakes/radius-peer.ts) answering as a NAS's CoA port. */
export async function scriptedNas(secret: string, host = '127.0.0.1'): Promise<ScriptedNas> {
  const peer = await startRadiusPeer({
    secret,
    host,
    script: (r) => {
      const packet = r.packet;
      if (!r.verified || !packet || nas.answer === 'silent') return ignore;
      const disconnect = packet.code === PacketCode.DisconnectRequest;
      const ack = nas.answer === 'ack';
      const code = disconnect
        ? ack
          ? PacketCode.DisconnectAck
          : PacketCode.DisconnectNak
        : ack
          ? PacketCode.CoAAck
          : PacketCode.CoANak;
      return answer(code, ack ? [] : [{ name: 'Error-Cause', value: nas.errorCause }]);
    },
  });
  const nas: ScriptedNas = {
    port: peer.port,
    received: peer.packets,
    answer: 'ack',
    errorCause: 503,
    close: () => peer.close(),
  };
  return nas;
}

/** Acct-Session-Ids of the requests a scripted NAS verified. */
export const sessionIds = (nas: ScriptedNas): string[] =>
  nas.received.map((p) => getString(p, 'Acct-Session-Id') ?? '');

export async function addNas(
  db: Knex,
  tenantId: string,
  address: string,
  secret: string,
  coaPort: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const [r] = await db('nas')
    .insert({
      tenant_id: tenantId,
      nasname: address,
      shortname: `nas-${randomBytes(3).toString('hex')}`,
      secret,
      coa_port: coaPort,
      approved_at: new Date(),
      ...extra,
    })
    .returning('id');
  return r.id;
}

/** An open accounting session, as FreeRADIUS's Start/Interim queries write it. */
export async function openSession(
  db: Knex,
  s: {
    tenantId: string;
    nasId: string;
    username: string;
    nasIp?: string;
    framedIp?: string;
    updatedSecondsAgo?: number;
    octets?: number;
    acctSessionId?: string;
    class?: string | null;
  },
): Promise<{ id: number; acctSessionId: string }> {
  const acctSessionId = s.acctSessionId ?? randomBytes(4).toString('hex');
  const ago = s.updatedSecondsAgo ?? 0;
  const [r] = await db('radacct')
    .insert({
      tenant_id: s.tenantId,
      nas_id: s.nasId,
      acctsessionid: acctSessionId,
      acctuniqueid: randomBytes(16).toString('hex'),
      username: s.username,
      nasipaddress: s.nasIp ?? '127.0.0.1',
      acctstarttime: db.raw(`now() - make_interval(secs => ?)`, [ago + 60]),
      acctupdatetime: db.raw(`now() - make_interval(secs => ?)`, [ago]),
      acctsessiontime: 60,
      acctinputoctets: s.octets ?? 0,
      acctoutputoctets: 0,
      framedipaddress: s.framedIp ?? '10.5.50.9',
      callingstationid: '02:00:00:00:00:01',
      class: s.class ?? null,
    })
    .returning('radacctid');
  return { id: Number(r.radacctid), acctSessionId };
}

export { eventually } from '../helpers/wait';
