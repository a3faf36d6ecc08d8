/**
 * The sender paces each NAS (src/jobs/nas-window.ts): a router that handles CoA one request at a
 * time gets a burst at the rate it can answer, so nothing is retransmitted that was not lost.
 * Before the windows, 120 Disconnects went out at once; at 25 ms each the last waited 3 s in
 * the NAS's queue, past the 2 s retransmission timer, and 46 were sent twice.
 */
import { createSocket, type Socket } from 'node:dgram';
import request from 'supertest';
import { decodePacket, encodeResponse, getString, PacketCode, verifyRequest } from '../../src/radius/codec';
import { actions, addNas, eventually, FAST, openSession, SECRET, subscriber, useEnvs, worker } from './enforcement-fixtures';

/** A NAS that answers its queue one request at a time, `serviceMs` each, and counts what it got. */
async function serialNas(serviceMs: number) {
  const sock: Socket = createSocket('udp4');
  const queue: Array<{ msg: Buffer; port: number; address: string }> = [];
  const received = new Map<string, number>();
  let busy = false;
  const next = (): void => {
    const job = queue.shift();
    if (!job) {
      busy = false;
      return;
    }
    busy = true;
    setTimeout(() => {
      const packet = decodePacket(job.msg);
      const reply = encodeResponse({ code: PacketCode.DisconnectAck, request: packet, secret: SECRET, attributes: [] });
      sock.send(reply.buffer, job.port, job.address, () => next());
    }, serviceMs);
  };
  sock.on('message', (msg, rinfo) => {
    if (!verifyRequest(msg, SECRET).ok) return;
    const id = getString(decodePacket(msg), 'Acct-Session-Id') ?? '';
    received.set(id, (received.get(id) ?? 0) + 1);
    queue.push({ msg, port: rinfo.port, address: rinfo.address });
    if (!busy) next();
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, received, close: () => new Promise<void>((r) => sock.close(() => r())) };
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
      await eventually(async () => (await actions(e)).filter((r) => r.status === 'ack').length === sessions, 'every Disconnect acknowledged', 30_000);
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
      await eventually(async () => (await actions(e)).filter((r) => r.status === 'ack').length === sessions, 'every Disconnect acknowledged', 30_000);
      expect([...nas.received.values()].filter((n) => n > 1)).toEqual([]);
    } finally {
      await nas.close();
    }
  });
});
