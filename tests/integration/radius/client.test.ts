/**
 * RadiusClient against the scriptable fake peer on loopback UDP (tests/helpers/fakes/radius-peer.ts,
 * answers built with our own codec), no external processes. Short retransmission schedules keep it fast.
 */
import { backoffSchedule } from '../../../src/radius/backoff';
import { RadiusClient, type DropReason, type RadiusClientOptions } from '../../../src/radius/client';
import {
  decodePacket,
  generateAuthenticatorResponse,
  generateNtResponse,
  getBuffer,
  getNumber,
  getString,
  PacketCode,
  verifyChapPassword,
  verifyRequest,
  type RadiusAttribute,
} from '../../../src/radius/codec';
import { RadiusClientClosedError, RadiusTimeoutError } from '../../../src/radius/errors';
import {
  answer,
  ignore,
  raw,
  signedReply,
  startRadiusPeer,
  type PeerAction,
  type RadiusPeer,
  type Received,
  type Script,
} from '../../helpers/fakes/radius-peer';
import { eventually } from '../../helpers/wait';

const SECRET = 'testing123';

/** An Access-Request handler that knows one user (PAP, CHAP, MS-CHAPv2). */
function authServer(r: Received): PeerAction {
  const req = r.packet;
  if (!req) return ignore;
  if (req.code === PacketCode.StatusServer) return answer(PacketCode.AccessAccept);
  if (!r.verified) return ignore;
  const user = getString(req, 'User-Name');
  const password = 'alicepw';
  let ok = false;
  const extra: RadiusAttribute[] = [];
  const chap = getBuffer(req, 'CHAP-Password');
  const ms = getBuffer(req, 'MS-CHAP2-Response');
  if (chap) {
    ok = verifyChapPassword(chap, password, getBuffer(req, 'CHAP-Challenge') ?? req.authenticator);
  } else if (ms) {
    const authChallenge = getBuffer(req, 'MS-CHAP-Challenge') ?? Buffer.alloc(16);
    const peer = ms.subarray(2, 18);
    const nt = ms.subarray(26, 50);
    ok = generateNtResponse(authChallenge, peer, user ?? '', password).equals(nt);
    const s = generateAuthenticatorResponse(password, nt, peer, authChallenge, user ?? '');
    extra.push({ name: 'MS-CHAP2-Success', value: Buffer.concat([ms.subarray(0, 1), Buffer.from(s)]) });
  } else {
    ok = getString(req, 'User-Password') === password;
  }
  ok &&= user === 'alice';
  return ok
    ? answer(PacketCode.AccessAccept, [
        { name: 'Session-Timeout', value: 3600 },
        { name: 'Mikrotik-Rate-Limit', value: '10M/20M' },
        ...extra,
      ])
    : answer(PacketCode.AccessReject);
}

const servers: RadiusPeer[] = [];
const clients: RadiusClient[] = [];

/** The bytes of every datagram the peer received. */
const bytes = (peer: RadiusPeer): Buffer[] => peer.received.map((r) => r.bytes);

async function setup(
  script: Script,
  clientOpts: Partial<RadiusClientOptions> = {},
  host = '127.0.0.1',
): Promise<{ server: RadiusPeer; client: RadiusClient; drops: DropReason[] }> {
  const server = await startRadiusPeer({ secret: SECRET, script, host });
  servers.push(server);
  const drops: DropReason[] = [];
  const client = new RadiusClient({
    host,
    port: server.port,
    secret: SECRET,
    retransmit: [100, 100],
    onDrop: (reason) => drops.push(reason),
    ...clientOpts,
  });
  clients.push(client);
  return { server, client, drops };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('RadiusClient', () => {
  it('PAP Access-Request gets an authenticated Access-Accept with VSAs', async () => {
    const { client, drops } = await setup(authServer);
    const res = await client.accessRequestPap('alice', 'alicepw', [{ name: 'NAS-Identifier', value: 'hs1' }]);
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(getNumber(res.packet, 'Session-Timeout')).toBe(3600);
    expect(getString(res.packet, 'Mikrotik-Rate-Limit')).toBe('10M/20M');
    expect(res.attempts).toBe(1);
    expect(res.rttMs).toBeGreaterThanOrEqual(0);
    expect(drops).toEqual([]);
    expect((await client.accessRequestPap('alice', 'bad')).packet.code).toBe(PacketCode.AccessReject);
    expect(client.recvBufferSize()).toBeGreaterThan(0);
  });

  it('CHAP via CHAP-Challenge and via the Request Authenticator', async () => {
    const { client } = await setup(authServer);
    expect((await client.accessRequestChap('alice', 'alicepw')).packet.code).toBe(PacketCode.AccessAccept);
    const viaAuth = await client.accessRequestChap('alice', 'alicepw', [], { chap: { useRequestAuthenticator: true } });
    expect(viaAuth.packet.code).toBe(PacketCode.AccessAccept);
    expect(getBuffer(viaAuth.request, 'CHAP-Challenge')).toBeUndefined();
    expect((await client.accessRequestChap('alice', 'nope')).packet.code).toBe(PacketCode.AccessReject);
  });

  it('MS-CHAPv2 verifies MS-CHAP2-Success', async () => {
    const { client } = await setup(authServer);
    const res = await client.accessRequestMschapv2('alice', 'alicepw');
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(res.mschapv2Verified).toBe(true);
    const bad = await client.accessRequestMschapv2('alice', 'wrong');
    expect(bad.packet.code).toBe(PacketCode.AccessReject);
    expect(bad.mschapv2Verified).toBe(false);
  });

  it('MS-CHAPv2: an Accept whose S= does not match is reported unverified', async () => {
    const { client } = await setup((r) => {
      const req = decodePacket(r.bytes);
      const ms = getBuffer(req, 'MS-CHAP2-Response') ?? Buffer.alloc(1);
      const forged = Buffer.concat([ms.subarray(0, 1), Buffer.from(`S=${'0'.repeat(40)}`)]);
      return answer(PacketCode.AccessAccept, [{ name: 'MS-CHAP2-Success', value: forged }]);
    });
    const res = await client.accessRequestMschapv2('alice', 'alicepw');
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(res.mschapv2Verified).toBe(false);
  });

  it('drops replies signed with the wrong secret and times out with RadiusTimeoutError', async () => {
    const { client, drops, server } = await setup(() =>
      answer(PacketCode.AccessAccept, [], { secret: 'wrong-secret' }),
    );
    const err = await client.accessRequestPap('alice', 'alicepw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RadiusTimeoutError);
    expect((err as RadiusTimeoutError).attempts).toBe(2);
    expect(server.received).toHaveLength(2);
    expect(drops).toEqual(['bad-authenticator', 'bad-authenticator']);
    expect(client.inFlight).toBe(0);
  });

  it('retransmits the identical bytes (same id and authenticator) when the first is lost', async () => {
    const { client, server } = await setup((r) => (r.n === 1 ? ignore : answer(PacketCode.AccountingResponse)));
    const res = await client.accounting(
      [
        { name: 'Acct-Status-Type', value: 'Start' },
        { name: 'Acct-Session-Id', value: 's1' },
        { name: 'User-Name', value: 'alice' },
      ],
      { retransmit: [50, 50, 50] },
    );
    expect(res.packet.code).toBe(PacketCode.AccountingResponse);
    expect(res.attempts).toBe(2);
    expect(server.received).toHaveLength(2);
    expect(bytes(server)[1]).toEqual(bytes(server)[0]);
    expect(bytes(server)[0]).toEqual(res.request.buffer);
  });

  it('works with a backoffSchedule (deterministic jitter)', async () => {
    const { client, server } = await setup((r) => (r.n < 3 ? ignore : answer(PacketCode.CoAAck)));
    const retransmit = backoffSchedule({ irt: 0.02, mrt: 0.05, mrc: 5, mrd: 1, random: () => 0.5 });
    expect(retransmit).toEqual([20, 40, 50, 50, 50, 50]);
    const res = await client.coa([{ name: 'User-Name', value: 'alice' }], { retransmit });
    expect(res.attempts).toBe(3);
    expect(new Set(bytes(server).map((b) => b.toString('hex'))).size).toBe(1);
  });

  it('ignores garbage, unknown ids and foreign sources; resolves on the real reply', async () => {
    const { client, drops } = await setup((r) => {
      const wrongId = signedReply(r, PacketCode.DisconnectAck, [], SECRET);
      wrongId[1] = ((r.bytes[1] ?? 0) + 1) & 0xff;
      return [raw(Buffer.from('garbage')), raw(wrongId), answer(PacketCode.DisconnectAck)];
    });
    const stranger = await startRadiusPeer({ secret: SECRET, script: () => ignore });
    servers.push(stranger);
    await client.start();
    const local = client.address();
    stranger.send(Buffer.alloc(20), local?.port ?? 0, '127.0.0.1');
    const res = await client.disconnect([
      { name: 'User-Name', value: 'alice' },
      { name: 'Acct-Session-Id', value: '81a0000b' },
    ]);
    expect(res.packet.code).toBe(PacketCode.DisconnectAck);
    // The stranger's datagram may arrive after the reply: wait for its drop, not for a time.
    await eventually(async () => drops.includes('unexpected-source'), 'the stranger dropped');
    expect(drops).toEqual(expect.arrayContaining(['malformed', 'unknown-id', 'unexpected-source']));
  });

  it('Disconnect/CoA with Message-Authenticator verify at the receiver; NAK carries Error-Cause', async () => {
    const { client } = await setup((r) => {
      const check = verifyRequest(r.bytes, SECRET, { requireMessageAuthenticator: true });
      return check.ok
        ? answer(PacketCode.CoANak, [{ name: 'Error-Cause', value: 'Session-Context-Not-Found' }])
        : ignore;
    });
    const res = await client.coa([{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }], { addMessageAuthenticator: true });
    expect(res.packet.code).toBe(PacketCode.CoANak);
    expect(getNumber(res.packet, 'Error-Cause')).toBe(503);
  });

  it('requireMessageAuthenticator drops replies without one', async () => {
    const { client, drops } = await setup(() => answer(PacketCode.AccessAccept, [], { messageAuthenticator: false }), {
      requireMessageAuthenticator: true,
      retransmit: [60],
    });
    await expect(client.accessRequestPap('alice', 'alicepw')).rejects.toBeInstanceOf(RadiusTimeoutError);
    expect(drops).toEqual(['missing-message-authenticator']);
  });

  it('Status-Server', async () => {
    const { client, server } = await setup(authServer);
    const res = await client.statusServer();
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(verifyRequest(bytes(server)[0] ?? Buffer.alloc(0), SECRET)).toEqual({ ok: true });
  });

  it('keeps 300 requests in flight on one socket, queueing beyond 256 ids', async () => {
    const { client, server } = await setup(() => answer(PacketCode.AccountingResponse, [], { delayMs: 100 }), {
      retransmit: [5000],
    });
    const all = Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        client.accounting([
          { name: 'Acct-Status-Type', value: 'Interim-Update' },
          { name: 'Acct-Session-Id', value: `s${i}` },
          { name: 'Proxy-State', value: Buffer.from(`ps-${i}`) },
        ]),
      ),
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(client.inFlight).toBe(256); // the other 44 wait for an identifier
    const results = await all;
    results.forEach((r, i) => {
      expect(r.packet.code).toBe(PacketCode.AccountingResponse);
      expect(r.attempts).toBe(1);
      // Proxy-State echoes prove each reply resolved its own request.
      expect(getBuffer(r.packet, 'Proxy-State')).toEqual(Buffer.from(`ps-${i}`));
    });
    expect(server.received).toHaveLength(300);
    expect(client.inFlight).toBe(0);
  });

  it('AbortSignal cancels an in-flight request and frees its id', async () => {
    const { client } = await setup(() => ignore, { retransmit: [5000] });
    const ctl = new AbortController();
    const p = client.accounting([{ name: 'Acct-Session-Id', value: 'x' }], { signal: ctl.signal });
    setTimeout(() => ctl.abort(new Error('user abort')), 20);
    await expect(p).rejects.toThrow('user abort');
    expect(client.inFlight).toBe(0);
    const already = AbortSignal.abort(new Error('pre-aborted'));
    await expect(client.accounting([], { signal: already })).rejects.toThrow('pre-aborted');
  });

  it('close() rejects in-flight requests with RadiusClientClosedError', async () => {
    const { client } = await setup(() => ignore, { retransmit: [5000] });
    const p = client.disconnect([{ name: 'User-Name', value: 'a' }]);
    await new Promise((r) => setTimeout(r, 10));
    await client.close();
    await expect(p).rejects.toBeInstanceOf(RadiusClientClosedError);
    await expect(client.statusServer()).rejects.toBeInstanceOf(RadiusClientClosedError);
  });

  it('rejects when the socket cannot bind, and can retry later', async () => {
    const client = new RadiusClient({ host: '127.0.0.1', port: 1812, secret: SECRET, bindAddress: '192.0.2.123' });
    clients.push(client);
    await expect(client.statusServer()).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    await expect(client.start()).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  // Linux always has ::1 on lo unless IPv6 is disabled, which Lango's machines do not do.
  it('works over IPv6 loopback', async () => {
    const { client } = await setup(authServer, {}, '::1');
    const res = await client.accessRequestPap('alice', 'alicepw');
    expect(res.packet.code).toBe(PacketCode.AccessAccept);
    expect(client.address()?.address).toBe('::');
  });
});
