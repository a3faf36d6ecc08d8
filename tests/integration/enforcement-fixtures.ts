/**
 * Fixtures for the enforcement tests: a scripted RFC 5176 responder (a NAS that ACKs, NAKs or
 * stays silent, and records every request it verified), and rows as FreeRADIUS would write them.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { Knex } from 'knex';
import { decodePacket, encodeResponse, getString, PacketCode, verifyRequest, type RadiusPacket } from '../../src/radius/codec';

export interface ScriptedNas {
  readonly port: number;
  /** Verified requests, in arrival order. */
  readonly received: RadiusPacket[];
  /** How to answer from now on. */
  answer: 'ack' | 'nak503' | 'silent';
  close(): Promise<void>;
}

export async function scriptedNas(secret: string, host = '127.0.0.1'): Promise<ScriptedNas> {
  const sock: Socket = createSocket('udp4');
  const received: RadiusPacket[] = [];
  const nas: ScriptedNas = {
    port: 0,
    received,
    answer: 'ack',
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
  sock.on('message', (msg, rinfo) => {
    if (!verifyRequest(msg, secret).ok) return;
    const packet = decodePacket(msg);
    received.push(packet);
    if (nas.answer === 'silent') return;
    const disconnect = packet.code === PacketCode.DisconnectRequest;
    const ack = nas.answer === 'ack';
    const code = disconnect ? (ack ? PacketCode.DisconnectAck : PacketCode.DisconnectNak) : ack ? PacketCode.CoAAck : PacketCode.CoANak;
    const reply = encodeResponse({ code, request: packet, secret, attributes: ack ? [] : [{ name: 'Error-Cause', value: 503 }] });
    sock.send(reply.buffer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  (nas as { port: number }).port = sock.address().port;
  return nas;
}

/** Acct-Session-Ids of the requests a scripted NAS verified. */
export const sessionIds = (nas: ScriptedNas): string[] => nas.received.map((p) => getString(p, 'Acct-Session-Id') ?? '');

export async function addNas(db: Knex, tenantId: string, address: string, secret: string, coaPort: number, extra: Record<string, unknown> = {}): Promise<string> {
  const [r] = await db('nas')
    .insert({ tenant_id: tenantId, nasname: address, shortname: `nas-${randomBytes(3).toString('hex')}`, secret, coa_port: coaPort, approved_at: new Date(), ...extra })
    .returning('id');
  return r.id;
}

/** An open accounting session, as FreeRADIUS's Start/Interim queries write it. */
export async function openSession(
  db: Knex,
  s: { tenantId: string; nasId: string; username: string; nasIp?: string; framedIp?: string; updatedSecondsAgo?: number; octets?: number; acctSessionId?: string; class?: string | null },
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
