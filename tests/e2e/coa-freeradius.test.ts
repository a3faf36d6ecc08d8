/**
 * FreeRADIUS 3.2 as an independent NAS for Lango's RFC 5176 client: the raddb in
 * tests/fixtures/freeradius-coa-nas, started by Lango's own launcher, has one client
 * (127.0.0.1, require_message_authenticator = yes) and a `listen { type = coa }` server whose
 * recv-coa logs every packet to a detail file, ACKs Acct-Session-Id "known-session-1" and NAKs
 * anything else with Error-Cause Session-Context-Not-Found. FreeRADIUS checks the Request
 * Authenticator and the Message-Authenticator: code nobody here wrote judges our packets.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RadiusClient } from '../../src/radius/client';
import { PacketCode } from '../../src/radius/codec';
import { RadiusTimeoutError } from '../../src/radius/errors';
import { DynAuthClient, type DynAuthTarget } from '../../src/radius/dynauth-client';
import { startTestFreeRadius, type FreeRadiusHandle } from '../helpers/freeradius';

jest.setTimeout(60000);

/** Both are written in the fixture too (sites-enabled/coa-nas). */
const SECRET = 'e2e-coa-s3cret';
const KNOWN = 'known-session-1';
/** 2 transmissions, 300 + 600 ms: enough on loopback, short for the timeout cases. */
const SCHEDULE = { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 };
const FIXTURE = path.resolve(__dirname, '../fixtures/freeradius-coa-nas');
/** The fixture loads no sql module: the URL only fills $ENV{LANGO_RADIUS_DB}, which it never reads. */
const UNUSED_DATABASE_URL = 'postgres://unused@127.0.0.1:1/unused';

/** The detail file as packet blocks (attribute lines of one received packet each). */
async function detailBlocks(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, 'var/log/coa-received.detail'), 'utf8').catch(() => '');
  return text.split(/\n\s*\n/).filter((b) => b.trim() !== '');
}

let fr: FreeRadiusHandle;
let target: DynAuthTarget;
const client = new DynAuthClient({ schedule: SCHEDULE });

beforeAll(async () => {
  // The CoA socket takes the port the launcher picks for "auth" ($ENV{LANGO_RADIUS_AUTH_PORT}).
  fr = await startTestFreeRadius(UNUSED_DATABASE_URL, { sourceDir: FIXTURE });
  target = { host: '127.0.0.1', port: fr.authPort, secret: SECRET };
});

afterAll(async () => {
  await client.close();
  await fr?.stop();
});

describe('DynAuthClient against FreeRADIUS as the NAS', () => {
  it('Disconnect-Request for a known session is ACKed', async () => {
    const res = await client.send(target, {
      kind: 'disconnect',
      userName: 'alice',
      acctSessionId: KNOWN,
      framedIpAddress: '10.5.50.20',
      nasIpAddress: '127.0.0.1',
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
  });

  it('CoA-Request with Mikrotik-Rate-Limit is ACKed; FreeRADIUS logged the VSA and our Message-Authenticator', async () => {
    const res = await client.send(target, {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: KNOWN,
      framedIpAddress: '10.5.50.20',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }],
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
    const block = (await detailBlocks(fr.dir)).find(
      (b) => b.includes('Packet-Type = CoA-Request') && b.includes('2M/5M'),
    );
    expect(block).toBeDefined();
    expect(block).toContain('Mikrotik-Rate-Limit = "2M/5M"');
    expect(block).toMatch(/Message-Authenticator = 0x[0-9a-f]{32}/);
    expect(block).toContain('Event-Timestamp = ');
    expect(block).toContain(`Acct-Session-Id = "${KNOWN}"`);
    expect(block).toContain('Framed-IP-Address = 10.5.50.20');
  });

  it('an unknown session gets a NAK with Error-Cause 503', async () => {
    await expect(client.send(target, { kind: 'disconnect', acctSessionId: 'no-such-session' })).resolves.toMatchObject({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      attempts: 1,
    });
    await expect(
      client.send(target, {
        kind: 'coa',
        acctSessionId: 'no-such-session',
        attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }],
      }),
    ).resolves.toMatchObject({ outcome: 'nak', errorCause: 503 });
  });

  it('a wrong secret is dropped by FreeRADIUS: timeout after the schedule', async () => {
    const res = await client.send(
      { ...target, secret: 'not-the-secret' },
      { kind: 'disconnect', acctSessionId: KNOWN },
    );
    expect(res).toMatchObject({ outcome: 'timeout', attempts: 2 });
  });

  it('FreeRADIUS really checks the Message-Authenticator: none, or a wrong one, is dropped', async () => {
    const raw = new RadiusClient({ host: '127.0.0.1', port: fr.authPort, secret: SECRET, retransmit: [400] });
    try {
      const ts = { name: 'Event-Timestamp', value: Math.floor(Date.now() / 1000) };
      const asid = { name: 'Acct-Session-Id', value: KNOWN };
      // Control: the same client with a Message-Authenticator is answered.
      await expect(
        raw.send(PacketCode.DisconnectRequest, [asid, ts], { addMessageAuthenticator: true }),
      ).resolves.toMatchObject({
        packet: { code: PacketCode.DisconnectAck },
      });
      await expect(
        raw.send(PacketCode.DisconnectRequest, [asid, ts], { addMessageAuthenticator: false }),
      ).rejects.toBeInstanceOf(RadiusTimeoutError);
      // A raw type-80 attribute is sent as given (16 bytes of 0x42), under a valid Request Authenticator.
      await expect(
        raw.send(PacketCode.DisconnectRequest, [{ type: 80, raw: Buffer.alloc(16, 0x42) }, asid, ts]),
      ).rejects.toBeInstanceOf(RadiusTimeoutError);
    } finally {
      await raw.close();
    }
  });
});
