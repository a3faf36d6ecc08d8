/**
 * The sender paces each NAS (src/jobs/nas-window.ts): a router that handles CoA one request at a
 * time gets a burst at the rate it can answer, so nothing is retransmitted that was not lost.
 * Before the windows, 120 Disconnects went out at once; at 25 ms each the last waited 3 s in
 * the NAS's queue, past the 2 s retransmission timer, and 46 were sent twice.
 */
import request from 'supertest';
import { getString, PacketCode } from '../../src/radius/codec';
import { answer, ignore, startRadiusPeer } from '../helpers/fakes/radius-peer';
import {
  actions,
  addNas,
  eventually,
  FAST,
  openSession,
  SECRET,
  subscriber,
  useEnvs,
  worker,
} from './enforcement-fixtures';

/**
 * A NAS that works through its queue one request at a time, `serviceMs` each (each answer is
 * delayed until the requests before it are done), and counts what it got per session.
 */
async function serialNas(serviceMs: number) {
  const received = new Map<string, number>();
  let busyUntil = 0;
  const peer = await startRadiusPeer({
    secret: SECRET,
    script: (r) => {
      if (!r.verified || !r.packet) return ignore;
      const id = getString(r.packet, 'Acct-Session-Id') ?? '';
      received.set(id, (received.get(id) ?? 0) + 1);
      const now = Date.now();
      busyUntil = Math.max(busyUntil, now) + serviceMs;
      return answer(PacketCode.DisconnectAck, [], { delayMs: busyUntil - now });
    },
  });
  return { port: peer.port, received, close: () => peer.close() };
}

const { env } = useEnvs();

describe('enforcement pacing per NAS', () => {
  it('sends a burst to a one-at-a-time NAS without retransmitting what was only queued', async () => {
    const e = await env();
    const nas = await serialNas(25);
    try {
      const nasId = await addNas(e.tdb.db, e.t.id, '127.0.0.1', SECRET, nas.port, { identifier: 'serial' });
      const s = await subscriber(e);
      const sessions = 120;
      for (let i = 0; i < sessions; i++) await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
      // FreeRADIUS's own first retransmission timer (irt 2 s), one retransmission.
      const w = worker(e, { ...FAST, schedule: { irt: 2, mrt: 0, mrc: 1, mrd: 0 } });
      await w.ready;
      await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
      await eventually(
        async () => (await actions(e)).filter((r) => r.status === 'ack').length === sessions,
        'every Disconnect acknowledged',
        30_000,
      );
      expect(nas.received.size).toBe(sessions);
      // Each request reached the NAS exactly once: no retransmission of a request it was still working through.
      expect([...nas.received.values()].filter((n) => n > 1)).toEqual([]);
      expect(w.sender.stats.retried).toBe(0);
      // The window stayed near what the NAS can take (about 10 for 250 ms of queueing at 25 ms a
      // request, up to twice that after slow start's overshoot), far from the 80 that fill 2 s.
      expect(w.sender.nasWindow(nasId)).toBeLessThan(40);
    } finally {
      await nas.close();
    }
  });

  it('gives back what waited for the window when it stops, and the next worker sends each once', async () => {
    const e = await env();
    const nas = await serialNas(100);
    try {
      const nasId = await addNas(e.tdb.db, e.t.id, '127.0.0.1', SECRET, nas.port, { identifier: 'serial-slow' });
      const s = await subscriber(e);
      const sessions = 40;
      for (let i = 0; i < sessions; i++) await openSession(e.tdb.db, { tenantId: e.t.id, nasId, username: s.username });
      const options = { ...FAST, schedule: { irt: 5, mrt: 0, mrc: 1, mrd: 0 } };
      const first = worker(e, options);
      await first.ready;
      await request(e.api.app).post(`/api/v1/subscribers/${s.id}/suspend`).set(e.t.auth).send({});
      await eventually(async () => (await actions(e)).some((r) => r.status === 'ack'), 'a first ACK');
      await first.stop();
      const after = await actions(e);
      // Nothing is left claimed by the stopped worker; what it never sent is pending, not an attempt.
      expect(after.filter((r) => r.status === 'sending')).toEqual([]);
      const notSent = after.filter((r) => r.status === 'pending');
      expect(notSent.length).toBeGreaterThan(0);
      expect(notSent.every((r) => r.attempts === 0)).toBe(true);
      worker(e, options);
      await eventually(
        async () => (await actions(e)).filter((r) => r.status === 'ack').length === sessions,
        'every Disconnect acknowledged',
        30_000,
      );
      expect([...nas.received.values()].filter((n) => n > 1)).toEqual([]);
    } finally {
      await nas.close();
    }
  });
});
