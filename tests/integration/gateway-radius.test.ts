/**
 * The gateway's RADIUS side without FreeRADIUS: a Gateway (memory driver, FakeClock) against the
 * scriptable fake peer as its RADIUS server. What needs a server that misbehaves on purpose:
 * accounting held through an outage, Accounting-On/Off, CHAP from the gateway and from a
 * browser's chap-response, Idle-Timeout and Mikrotik-Total-Limit(+Gigawords) ending sessions.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { FakeClock } from '../helpers/clock';
import { freeTcpPort, pickFreeUdpPort } from '../helpers/ports';
import { eventually } from '../helpers/wait';
import { answer, ignore, startRadiusPeer, type RadiusPeer, type Received } from '../helpers/fakes/radius-peer';
import { createLogger } from '../../src/logger';
import { buildGateway } from '../../src/main';
import { parseGatewayConfig, GatewayConfigError } from '../../src/gateway/config';
import type { Gateway, GatewayDeps } from '../../src/gateway/gateway';
import { inSubnet, macFromArp } from '../../src/gateway/portal';
import { chapResponse, decodeOctal } from '../../src/modules/portal/chap';
import { MemoryFirewallDriver } from '../../src/gateway/firewall';
import {
  attributeValueName,
  getBuffer,
  getNumber,
  getString,
  PacketCode,
  verifyChapPassword,
  type RadiusAttribute,
} from '../../src/radius';

jest.setTimeout(30000);

const SECRET = 'gateway-secret-1';

interface Setup {
  gateway: Gateway;
  driver: MemoryFirewallDriver;
  clock: FakeClock;
  server: RadiusPeer;
  /** When false the server answers nothing (an outage). */
  up: { value: boolean };
}

const running: Setup[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) {
    s.up.value = true;
    await stopGateway(s);
    await s.server.close();
  }
});

/** stop() waits on the gateway's clock (bounded drain): move it along until stop() returns. */
async function stopGateway(s: Setup): Promise<void> {
  let done = false;
  const p = s.gateway.stop().finally(() => {
    done = true;
  });
  while (!done) {
    await s.clock.advance(500);
    await new Promise((r) => setTimeout(r, 20));
  }
  await p;
}

const status = (r: Received): string | undefined =>
  attributeValueName('Acct-Status-Type', getNumber(r.packet!, 'Acct-Status-Type') ?? -1);
const accounting = (s: Setup): Received[] =>
  s.server.received.filter((r) => r.verified && r.packet?.code === PacketCode.AccountingRequest);

async function setup(
  reply: RadiusAttribute[] = [],
  extra: Record<string, unknown> = {},
  deps: Partial<Pick<GatewayDeps, 'resolve4'>> = {},
): Promise<Setup> {
  const up = { value: true };
  const server = await startRadiusPeer({
    secret: SECRET,
    script: (r) => {
      if (!up.value || !r.verified || !r.packet) return ignore;
      const p = r.packet;
      if (p.code === PacketCode.AccountingRequest) return answer(PacketCode.AccountingResponse);
      const chap = getBuffer(p, 'CHAP-Password');
      const ok =
        getString(p, 'User-Name') === 'alice' &&
        (chap
          ? verifyChapPassword(chap, 'alicepw', getBuffer(p, 'CHAP-Challenge') ?? p.authenticator)
          : getString(p, 'User-Password') === 'alicepw');
      return answer(ok ? PacketCode.AccessAccept : PacketCode.AccessReject, ok ? reply : []);
    },
  });
  const portalPort = await freeTcpPort();
  const config = parseGatewayConfig({
    lanInterface: 'br-lan',
    wanInterface: 'wan0',
    lanSubnet: '10.5.50.0/24',
    nasIpAddress: '127.0.0.1',
    nasIdentifier: 'gw-int',
    radius: {
      servers: [{ host: '127.0.0.1', authPort: server.port, acctPort: server.port }],
      secret: SECRET,
      retransmit: [100, 100],
    },
    coa: { host: '127.0.0.1', port: await pickFreeUdpPort() },
    portal: { url: 'http://10.5.50.1:8002/', host: '127.0.0.1', port: portalPort, trustClientHeaders: true },
    driver: 'memory',
    ...extra,
  });
  const clock = new FakeClock(Date.now());
  const driver = new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'wan0', portalPort });
  const gateway = buildGateway(config, {
    logger: createLogger('silent'),
    clock,
    driver,
    accountingRetryMs: 5000,
    stopDrainMs: 2000,
    ...deps,
  });
  await gateway.start();
  const s = { gateway, driver, clock, server, up };
  running.push(s);
  return s;
}

const client = { ip: '10.5.50.20', mac: '02:00:00:00:00:20' };

function login(s: Setup, body: Record<string, string>) {
  return request(`http://127.0.0.1:${s.gateway.portal.port}`)
    .post('/login')
    .set('Accept', 'application/json')
    .set('X-Client-IP', client.ip)
    .set('X-Client-MAC', client.mac)
    .type('form')
    .send(body);
}

async function advance(s: Setup, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) await s.clock.advance(1000);
}

describe('gateway RADIUS side', () => {
  it('sends Accounting-On at start and Accounting-Off after the Stops at a clean stop', async () => {
    const s = await setup();
    await eventually(async () => accounting(s).some((r) => status(r) === 'Accounting-On'), 'Accounting-On');
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    await eventually(async () => accounting(s).some((r) => status(r) === 'Start'), 'Start');
    running.splice(running.indexOf(s), 1);
    await stopGateway(s);
    await s.server.close();
    const seen = accounting(s).map(status);
    expect(seen).toEqual(['Accounting-On', 'Start', 'Stop', 'Accounting-Off']);
    const stop = accounting(s)[2]!.packet!;
    expect(attributeValueName('Acct-Terminate-Cause', getNumber(stop, 'Acct-Terminate-Cause') ?? -1)).toBe(
      'NAS-Request',
    );
  });

  it('the Access-Request carries PAP, Message-Authenticator and the gateway identity', async () => {
    const s = await setup();
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    const req = s.server.received.find((r) => r.packet?.code === PacketCode.AccessRequest)!;
    const p = req.packet!;
    expect(getBuffer(p, 'Message-Authenticator')).toHaveLength(16);
    expect(getString(p, 'User-Password')).toBe('alicepw');
    expect(getString(p, 'NAS-Identifier')).toBe('gw-int');
    expect(getString(p, 'NAS-IP-Address')).toBe('127.0.0.1');
    expect(getString(p, 'Calling-Station-Id')).toBe(client.mac);
    expect(getString(p, 'Framed-IP-Address')).toBe(client.ip);
    expect(getString(p, 'Called-Station-Id')).toBe('gw-int');
    expect(attributeValueName('NAS-Port-Type', getNumber(p, 'NAS-Port-Type') ?? -1)).toBe('Wireless-802.11');
  });

  it('CHAP: hashed by the gateway (passwordMethod chap) and from a browser chap-response', async () => {
    const s = await setup([], {
      portal: {
        url: 'http://10.5.50.1:8002/',
        host: '127.0.0.1',
        port: await freeTcpPort(),
        trustClientHeaders: true,
        passwordMethod: 'chap',
      },
    });
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    expect(
      getBuffer(s.server.received.find((r) => r.packet?.code === PacketCode.AccessRequest)!.packet!, 'CHAP-Password'),
    ).toHaveLength(17);
    await request(`http://127.0.0.1:${s.gateway.portal.port}`)
      .post('/logout')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    const form = await request(`http://127.0.0.1:${s.gateway.portal.port}`)
      .get('/login')
      .set('Accept', 'application/json')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    const { chapId, chapChallenge } = form.body as { chapId: number; chapChallenge: string };
    const response = createHash('md5')
      .update(Buffer.from([chapId]))
      .update('alicepw')
      .update(Buffer.from(chapChallenge, 'hex'))
      .digest('hex');
    const res = await login(s, { username: 'alice', 'chap-response': response });
    expect(res.status).toBe(200);
    const wrong = createHash('md5')
      .update(Buffer.from([chapId]))
      .update('nope')
      .digest('hex');
    expect((await login(s, { username: 'alice', 'chap-response': wrong })).status).toBe(400); // the challenge was used up
  });

  it('accounting survives a RADIUS outage: held, retried round after round, delivered with Acct-Delay-Time', async () => {
    const s = await setup([{ name: 'Acct-Interim-Interval', value: 60 }]);
    await eventually(async () => accounting(s).some((r) => status(r) === 'Accounting-On'), 'Accounting-On');
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    await eventually(async () => accounting(s).some((r) => status(r) === 'Start'), 'Start');
    s.up.value = false;
    s.driver.addTraffic(client, { bytesIn: 700, bytesOut: 900 });
    await advance(s, 60); // interim due: sent, not answered
    await eventually(
      async () =>
        s.gateway.radius.pendingAccounting === 1 &&
        accounting(s).filter((r) => status(r) === 'Interim-Update').length >= 2,
      'the interim retransmitted',
    );
    const retryArmed = async () => s.clock.timers().some((ms) => ms > 1000 && ms <= 5000); // not the walled garden refresh
    await eventually(retryArmed, 'the retry wait');
    const before = accounting(s).length;
    await s.clock.advance(5000); // the next round, still down
    await eventually(async () => accounting(s).length >= before + 2, 'another round');
    await eventually(retryArmed, 'the next retry wait');
    s.up.value = true;
    await s.clock.advance(5000);
    await eventually(async () => s.gateway.radius.pendingAccounting === 0, 'the queue drained');
    const interims = accounting(s).filter((r) => status(r) === 'Interim-Update');
    const last = interims.at(-1)!.packet!;
    expect(getNumber(last, 'Acct-Output-Octets')).toBe(900);
    expect(getNumber(last, 'Acct-Delay-Time')).toBeGreaterThanOrEqual(10);
  });

  it('Idle-Timeout: no traffic for that long ends the session with cause Idle-Timeout', async () => {
    const s = await setup([{ name: 'Idle-Timeout', value: 30 }]);
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    await advance(s, 20);
    s.driver.addTraffic(client, { bytesIn: 10 });
    await advance(s, 20);
    expect(s.gateway.sessions.byAddress(client.ip)).toBeDefined(); // traffic at 20 s restarted the idle clock
    await advance(s, 12);
    expect(s.gateway.sessions.byAddress(client.ip)).toBeUndefined();
    const stop = await eventually(async () => accounting(s).find((r) => status(r) === 'Stop'), 'Stop');
    expect(attributeValueName('Acct-Terminate-Cause', getNumber(stop.packet!, 'Acct-Terminate-Cause') ?? -1)).toBe(
      'Idle-Timeout',
    );
  });

  it('Mikrotik-Total-Limit with Gigawords: the session ends when upload + download reach it', async () => {
    const s = await setup([
      { name: 'Mikrotik-Total-Limit', value: 1000 },
      { name: 'Mikrotik-Total-Limit-Gigawords', value: 1 },
    ]);
    expect((await login(s, { username: 'alice', password: 'alicepw' })).status).toBe(200);
    s.driver.addTraffic(client, { bytesIn: 2 ** 31, bytesOut: 2 ** 31 }); // 4 GiB: below 4 GiB + 1000
    await advance(s, 2);
    expect(s.gateway.sessions.byAddress(client.ip)).toBeDefined();
    s.driver.addTraffic(client, { bytesOut: 1000 });
    await advance(s, 2);
    expect(s.gateway.sessions.byAddress(client.ip)).toBeUndefined();
    const stop = (await eventually(async () => accounting(s).find((r) => status(r) === 'Stop'), 'Stop')).packet!;
    expect(getNumber(stop, 'Acct-Output-Gigawords')).toBe(0);
    expect(getNumber(stop, 'Acct-Input-Octets')).toBe(2 ** 31);
    expect(attributeValueName('Acct-Terminate-Cause', getNumber(stop, 'Acct-Terminate-Cause') ?? -1)).toBe(
      'Session-Timeout',
    );
  });

  it('no server answering the login is a 503, nothing is allowed', async () => {
    const s = await setup();
    s.up.value = false;
    const res = await login(s, { username: 'alice', password: 'alicepw' });
    expect([res.status, res.body.error]).toEqual([503, 'RADIUS_UNAVAILABLE']);
    expect(await s.driver.listAllowed()).toEqual([]);
  });

  it('a bad config file is refused naming the field', () => {
    expect(() => parseGatewayConfig({ driver: 'memory' })).toThrow(GatewayConfigError);
    expect(() =>
      parseGatewayConfig({
        lanInterface: 'br-lan',
        wanInterface: 'wan0',
        lanSubnet: '10.5.50.0/24',
        nasIpAddress: '10.5.50.1',
        nasIdentifier: 'gw',
        radius: { servers: [{ host: '127.0.0.1' }], secret: 'short' },
        portal: { url: 'http://10.5.50.1/' },
        driver: 'memory',
      }),
    ).toThrow(/radius\/secret/);
  });

  it("a client's redirected web request goes to the portal with a MikroTik's parameters; the portal's CHAP login lands here", async () => {
    const s = await setup([], {
      portal: {
        url: 'https://portal.example.test/portal/bytebill?lang=en',
        host: '127.0.0.1',
        port: await freeTcpPort(),
        trustClientHeaders: true,
      },
    });
    const base = `http://127.0.0.1:${s.gateway.portal.port}`;
    // What the firewall sends to the login endpoint: a request for another host.
    const redirected = await request(base)
      .get('/news/today?x=1')
      .set('Host', 'news.example.org')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    expect(redirected.status).toBe(302);
    const to = new URL(redirected.headers.location!);
    expect(`${to.origin}${to.pathname}`).toBe('https://portal.example.test/portal/bytebill');
    const q = Object.fromEntries(to.searchParams);
    expect(q).toMatchObject({
      lang: 'en',
      'link-login-only': `${base}/login`,
      'link-orig': 'http://news.example.org/news/today?x=1',
      mac: client.mac.toUpperCase(),
      ip: client.ip,
    });
    expect(decodeOctal(q['chap-id']!)).toHaveLength(1);
    expect(decodeOctal(q['chap-challenge']!)).toHaveLength(16);
    // The gateway's own address, not logged in: the portal too (RFC 8910's URI points here).
    const own = await request(base).get('/login').set('X-Client-IP', client.ip).set('X-Client-MAC', client.mac);
    expect(own.status).toBe(302);
    expect(own.headers.location).toContain('https://portal.example.test/portal/bytebill?');
    const latest = Object.fromEntries(new URL(own.headers.location!).searchParams);
    // The portal's page posts the CHAP response as `password` (src/http/portal/pages.ts loginBody).
    const wrongChallenge = chapResponse(q['chap-id']!, 'alicepw', q['chap-challenge']!);
    const stale = await login(s, { username: 'alice', password: wrongChallenge });
    expect(stale.status).toBe(401); // the first challenge was replaced by the second redirect's
    // The second challenge was used up by that attempt: a fresh redirect, then the real login.
    const again = await request(base)
      .get('/')
      .set('Host', 'example.org')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    const p = Object.fromEntries(new URL(again.headers.location!).searchParams);
    expect(p['chap-challenge']).not.toBe(latest['chap-challenge']);
    const page = await request(base)
      .post('/login')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac)
      .type('form')
      .send({
        username: 'alice',
        password: chapResponse(p['chap-id']!, 'alicepw', p['chap-challenge']!),
        dst: p['link-orig'],
        popup: 'false',
      });
    expect(page.status).toBe(200);
    expect(page.text).toContain('You are logged in');
    expect(page.text).toContain('href="http://example.org/"');
    const req = s.server.received.filter((r) => r.packet?.code === PacketCode.AccessRequest).at(-1)!.packet!;
    expect(getBuffer(req, 'CHAP-Password')).toBeDefined();
    expect(getString(req, 'User-Password')).toBeUndefined();
    // Logged in: the status page, no more redirects.
    const status = await request(base)
      .get('/')
      .set('Host', 'example.org')
      .set('X-Client-IP', client.ip)
      .set('X-Client-MAC', client.mac);
    expect(status.status).toBe(200);
  });

  it('lanSubnet: a device outside the LAN subnet is neither redirected nor logged in', async () => {
    const s = await setup();
    const outside = { 'X-Client-IP': '192.168.7.20', 'X-Client-MAC': '02:00:00:00:07:20' };
    const r = await request(`http://127.0.0.1:${s.gateway.portal.port}`)
      .get('/')
      .set('Host', 'example.org')
      .set(outside);
    expect(r.status).toBe(403);
    const res = await request(`http://127.0.0.1:${s.gateway.portal.port}`)
      .post('/login')
      .set('Accept', 'application/json')
      .set(outside)
      .type('form')
      .send({ username: 'alice', password: 'alicepw' });
    expect([res.status, res.body.message]).toEqual([400, 'this device is not on the hotspot network']);
    expect(s.server.received.some((x) => x.packet?.code === PacketCode.AccessRequest)).toBe(false);
    expect(inSubnet('10.5.50.255', '10.5.50.0/24')).toBe(true);
    expect(inSubnet('10.5.51.0', '10.5.50.0/24')).toBe(false);
    expect(inSubnet('10.5.51.0', '10.5.50.0/23')).toBe(true);
  });

  it("the MAC of a client comes from the kernel's ARP table format; incomplete entries are no answer", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lango-arp-'));
    try {
      const file = path.join(dir, 'arp');
      await writeFile(
        file,
        'IP address       HW type     Flags       HW address            Mask     Device\n' +
          '10.5.50.20       0x1         0x2         02:AB:cd:00:00:20     *        br-lan\n' +
          '10.5.50.21       0x1         0x0         00:00:00:00:00:00     *        br-lan\n' +
          '10.5.50.2        0x1         0x2         02:00:00:00:00:02     *        br-lan\n',
      );
      expect(await macFromArp('10.5.50.20', file)).toBe('02:ab:cd:00:00:20');
      expect(await macFromArp('10.5.50.2', file)).toBe('02:00:00:00:00:02');
      expect(await macFromArp('10.5.50.21', file)).toBeUndefined();
      expect(await macFromArp('10.5.50.22', file)).toBeUndefined();
      expect(await macFromArp('10.5.50.20', path.join(dir, 'missing'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('walled garden by name: resolved at start, refreshed by TTL, a failed lookup keeps the last addresses', async () => {
    const answers = new Map<string, Array<{ address: string; ttl: number }> | Error>([
      ['pay.example.test', [{ address: '203.0.113.7', ttl: 60 }]],
      ['portal.example.test', [{ address: '198.51.100.5', ttl: 3600 }]],
    ]);
    const asked: string[] = [];
    const resolve4 = async (name: string) => {
      asked.push(name);
      const a = answers.get(name);
      if (a instanceof Error || a === undefined) throw a ?? new Error('ENOTFOUND');
      return a;
    };
    const s = await setup(
      [],
      {
        walledGarden: ['pay.example.test', '196.201.214.0/24'],
        walledGardenRefreshSeconds: 600,
        portal: {
          url: 'https://portal.example.test/portal/x',
          host: '127.0.0.1',
          port: await freeTcpPort(),
          trustClientHeaders: true,
        },
      },
      { resolve4 },
    );
    const passes = (dstIp: string) =>
      s.driver.decide({ srcIp: client.ip, srcMac: client.mac, dstIp, protocol: 'tcp', dstPort: 443 }) === 'forward';
    expect(new Set(asked)).toEqual(new Set(['pay.example.test', 'portal.example.test']));
    expect([passes('203.0.113.7'), passes('198.51.100.5'), passes('196.201.214.77'), passes('203.0.113.8')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    // The TTL (60 s) is shorter than the refresh (600 s): the next round comes after 60 s.
    answers.set('pay.example.test', [{ address: '203.0.113.8', ttl: 60 }]);
    await s.clock.advance(59_000);
    expect(passes('203.0.113.8')).toBe(false);
    await s.clock.advance(1000);
    await eventually(async () => passes('203.0.113.8'), 'the new address');
    expect(passes('203.0.113.7')).toBe(false); // the set is replaced as a whole
    // DNS fails: the last addresses stay.
    answers.set('pay.example.test', new Error('SERVFAIL'));
    const before = asked.length;
    await s.clock.advance(60_000);
    await eventually(async () => asked.length > before, 'another round');
    expect(passes('203.0.113.8')).toBe(true);
    expect(passes('198.51.100.5')).toBe(true);
    // Hostile names never get that far: the config refuses them.
    expect(() =>
      parseGatewayConfig({
        lanInterface: 'br-lan',
        wanInterface: 'wan0',
        lanSubnet: '10.5.50.0/24',
        nasIpAddress: '10.5.50.1',
        nasIdentifier: 'gw',
        radius: { servers: [{ host: '127.0.0.1' }], secret: 'long-enough-secret' },
        portal: { url: 'http://10.5.50.1/' },
        driver: 'memory',
        walledGarden: ['pay.example.test; flush ruleset'],
      }),
    ).toThrow(/walledGarden\/0/);
  });
});
