/**
 * `lango gateway` with the nftables driver, for real, in network namespaces
 * (tests/helpers/netns.ts): clients c0, c1 -> gateway namespace (the gateway process, its DNS
 * resolver) -> upstream namespace (FreeRADIUS with the project's configuration, `lango worker`,
 * the "internet": a traffic server, the portal's host, M-Pesa's host). FreeRADIUS and the worker
 * reach PostgreSQL through its Unix socket (a file, the same in every namespace); the Lango API
 * runs in the test process and provisions through the same database. The test is the phone's
 * browser between the client namespace and the portal: the client's own HTTP request is
 * redirected by the gateway's firewall, the test follows that redirect into Lango's portal,
 * buys in with a voucher, and the client posts the portal's login form to the gateway.
 * Without namespaces (not root, no `ip netns`, nft, tc) the test fails saying so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createTestApi, suffix, type TestApi, type TestTenant } from '../helpers/api';
import { startTestFreeRadius, type FreeRadiusHandle } from '../helpers/freeradius';
import { eventually } from '../helpers/wait';
import { createLab, IP, PROGRAMS, requireNetns, UPSTREAM_IP, type LabServer, type NetnsLab } from '../helpers/netns';

jest.setTimeout(240_000);

const CHECKOUT = path.resolve(__dirname, '../..');
const SECRET = `netns-gw-${suffix()}`;
const PORTAL_HOST = '10.99.0.3';
const MPESA_HOST = '10.99.0.4';
const TRAFFIC_PORT = 9000;
const LOGIN_PORT = 8002;

let tdb: TestDatabase;
let api: TestApi;
let t: TestTenant;
let lab: NetnsLab;
let fr: FreeRadiusHandle | undefined;
let tmp: string;
let netnsEtc: string | undefined;
const servers: LabServer[] = [];
const children: ChildProcess[] = [];
let gatewayLog = '';

/** The database over its Unix socket: the same server from inside any namespace. */
function socketUrl(url: string): string {
  const u = new URL(url);
  return `postgres://${u.username}:${u.password}@%2Fvar%2Frun%2Fpostgresql:${u.port || 5432}${u.pathname}`;
}

function start(ns: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', ns, process.execPath, path.join(CHECKOUT, 'bin/lango'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (args[0] === 'gateway') gatewayLog += d.toString();
      if (ready.test(out)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`lango ${args[0]} in ${ns} exited (${code}) before it was ready:\n${out}`)),
    );
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface Fetched {
  status?: number;
  location?: string | null;
  body?: string;
  error?: string;
}
const fetchIn = (ns: string, method: string, url: string, form?: Record<string, string>): Promise<Fetched> =>
  lab.client<Fetched>(ns, ['fetch', method, url, ...(form ? [new URLSearchParams(form).toString()] : [])]);
const connect = async (ns: string, host: string, port: number): Promise<string> =>
  (await lab.client<{ result: string }>(ns, ['connect', host, port, 2000])).result;
/** Download rate (bit/s) of `seconds` of the upstream sending as fast as it can. */
const downloadRate = async (ns: string, seconds: number): Promise<number> => {
  const r = await lab.client<{ bytes: number; ms: number }>(
    ns,
    ['get-for', UPSTREAM_IP, TRAFFIC_PORT, seconds],
    seconds * 1000 + 30_000,
  );
  return (r.bytes * 8) / (r.ms / 1000);
};
const radacct = (username: string) =>
  tdb.db('radacct').where({ tenant_id: t.id, username }).orderBy('radacctid', 'desc').first();

let voucherPlan: any;
let openPlan: any;

beforeAll(async () => {
  await requireNetns();
  tdb = await createTestDatabase();
  api = await createTestApi(tdb, undefined, {
    enforcementTargets: { networks: ['10.99.0.0/24'], allowLoopback: true },
  });
  t = await api.newTenant();
  lab = await createLab({ clients: 2 });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lango-gw-netns-'));
  const up = lab.upstream.ns;
  const gw = lab.gateway.ns;
  for (const a of [PORTAL_HOST, MPESA_HOST]) {
    const r = await lab.exec(up, ['ip', 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    if (r.code !== 0) throw new Error(`cannot add ${a}: ${r.stderr}`);
  }
  // The gateway box's resolver (dnsmasq in deploy/gateway; a small DNS server here), used by its
  // clients (DHCP says 10.88.0.1) and by the gateway process itself (/etc/resolv.conf).
  servers.push(
    await lab.serve(gw, PROGRAMS.dnsServer, [
      53,
      `portal.lab.test=${PORTAL_HOST}`,
      `mpesa.lab.test=${MPESA_HOST}`,
      `hotspot.lab.test=${lab.gateway.lanIp}`,
    ]),
    await lab.serve(up, PROGRAMS.trafficServer, [TRAFFIC_PORT]),
    await lab.serve(up, PROGRAMS.httpServer, [80, 'upstream']),
  );
  netnsEtc = `/etc/netns/${gw}`;
  mkdirSync(netnsEtc, { recursive: true });
  writeFileSync(path.join(netnsEtc, 'resolv.conf'), 'nameserver 127.0.0.1\n');

  // FreeRADIUS in the upstream namespace: a wrapper as its binary.
  const wrapper = path.join(tmp, 'freeradius-in-netns');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec ip netns exec ${up} ${process.env.LANGO_FREERADIUS_BIN ?? 'freeradius'} "$@"\n`,
    {
      mode: 0o755,
    },
  );
  fr = await startTestFreeRadius(socketUrl(tdb.radiusUrl), {
    listenAddress: UPSTREAM_IP,
    authPort: 1812,
    acctPort: 1813,
    clientNetworks: ['10.99.0.0/24'],
    binary: wrapper,
  });
  expect(
    (
      await request(api.app)
        .post('/api/v1/nas')
        .set(t.auth)
        .send({ name: 'gateway', address: lab.gateway.wanIp, secret: SECRET, coaPort: 3799 })
    ).status,
  ).toBe(201);
  expect(
    (
      await request(api.app)
        .patch('/api/v1/portal-settings')
        .set(t.auth)
        .send({ hotspotDnsNames: ['hotspot.lab.test'] })
    ).status,
  ).toBe(200);
  voucherPlan = (
    await request(api.app)
      .post('/api/v1/plans')
      .set(t.auth)
      .send({ name: 'Slow hour', durationSeconds: 3600, rateLimit: '1M/1M' })
  ).body;
  openPlan = (
    await request(api.app).post('/api/v1/plans').set(t.auth).send({ name: 'Open day', durationSeconds: 86400 })
  ).body;

  const env = { LANGO_ENV: 'test', LANGO_LOG_LEVEL: 'info' };
  await start(
    up,
    ['worker'],
    { ...env, DATABASE_URL: socketUrl(tdb.appUrl), LANGO_ENFORCEMENT_TARGET_NETWORKS: '10.99.0.0/24' },
    /worker (started|ready)/i,
  );
  const config = path.join(tmp, 'gateway.json');
  writeFileSync(
    config,
    JSON.stringify({
      lanInterface: lab.gateway.lan,
      wanInterface: lab.gateway.wan,
      lanSubnet: '10.88.0.0/16',
      nasIpAddress: lab.gateway.wanIp,
      nasIdentifier: 'gw-netns',
      radius: {
        servers: [{ host: UPSTREAM_IP, authPort: 1812, acctPort: 1813 }],
        secret: SECRET,
        retransmit: [1000, 1000, 1000],
      },
      coa: { host: lab.gateway.wanIp, port: 3799 },
      portal: {
        url: `http://portal.lab.test/portal/${t.slug}`,
        loginUrl: `http://hotspot.lab.test:${LOGIN_PORT}/login`,
        host: '0.0.0.0',
        port: LOGIN_PORT,
      },
      driver: 'nftables',
      walledGarden: ['mpesa.lab.test'],
      checkIntervalMs: 500,
    }),
    { mode: 0o600 },
  );
  await start(gw, ['gateway', '--config', config], env, /gateway started/);
});

afterAll(async () => {
  for (const c of children.reverse()) await stop(c);
  for (const s of servers) await s.stop();
  await fr?.stop();
  if (lab) await lab.destroy();
  if (netnsEtc) rmSync(netnsEtc, { recursive: true, force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  await api?.close();
  await tdb?.drop();
});

describe('lango gateway (nftables) between client and upstream namespaces', () => {
  const c0 = () => lab.clients[0]!;
  const c1 = () => lab.clients[1]!;
  let code: string;
  let slowRate = 0;

  it('before login: upstream blocked; DNS at the gateway and the walled garden (portal, M-Pesa by name) pass', async () => {
    expect(await connect(c0().ns, UPSTREAM_IP, TRAFFIC_PORT)).not.toBe('connected');
    expect(await lab.ping(c0().ns, UPSTREAM_IP)).toBe(false);
    expect(await lab.client(c0().ns, ['dns', lab.gateway.lanIp, 'mpesa.lab.test'])).toEqual({
      addresses: [MPESA_HOST],
    });
    expect(await connect(c0().ns, MPESA_HOST, TRAFFIC_PORT)).toBe('connected');
    const portalHost = await fetchIn(c0().ns, 'GET', `http://${PORTAL_HOST}/`);
    expect(JSON.parse(portalHost.body ?? '{}')).toMatchObject({ server: 'upstream' }); // reached, not redirected
  });

  it("the client's web request is redirected to Lango's portal; the portal's login form posted to the gateway logs it in (CHAP)", async () => {
    const redirected = await fetchIn(c0().ns, 'GET', `http://${UPSTREAM_IP}/news?today=1`);
    expect(redirected.status).toBe(302);
    const to = new URL(redirected.location!);
    expect(to.host).toBe('portal.lab.test');
    expect(Object.fromEntries(to.searchParams)).toMatchObject({
      'link-login-only': `http://hotspot.lab.test:${LOGIN_PORT}/login`,
      'link-orig': `http://${UPSTREAM_IP}/news?today=1`,
      mac: c0().mac, // from the gateway's ARP table
      ip: c0().ip,
    });
    // The browser, at the portal: the router's parameters, then a voucher.
    const batch = await request(api.app)
      .post('/api/v1/voucher-batches')
      .set(t.auth)
      .send({ planId: voucherPlan.id, quantity: 1 });
    code = batch.body.codes[0];
    const browser = request.agent(api.app);
    const landing = await browser.get(`${to.pathname}${to.search}`);
    expect(landing.status).toBe(303);
    const home = await browser.get(landing.headers.location!);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(home.text)![1]!;
    const loginPage = await browser.post(`${to.pathname}/voucher`).type('form').send({ code, _csrf: csrf });
    expect(loginPage.status).toBe(200);
    const action = /<form id="login" method="post" action="([^"]+)"/.exec(loginPage.text)![1]!;
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(loginPage.text)![1]!;
    expect(action).toBe(`http://hotspot.lab.test:${LOGIN_PORT}/login`);
    // The phone posts the form where it says, resolving the name through the gateway's DNS.
    const dns = await lab.client<{ addresses: string[] }>(c0().ns, ['dns', lab.gateway.lanIp, 'hotspot.lab.test']);
    const posted = await fetchIn(c0().ns, 'POST', action.replace('hotspot.lab.test', dns.addresses[0]!), {
      username: field('username'),
      password: field('password'),
      dst: field('dst'),
      popup: 'false',
    });
    expect(posted.status).toBe(200);
    expect(posted.body).toContain('You are logged in');
    const row = await eventually(() => radacct(code), 'the Start');
    expect(row).toMatchObject({ nasipaddress: lab.gateway.wanIp, framedipaddress: c0().ip, acctstoptime: null });
    expect(row.callingstationid.toLowerCase()).toBe(c0().mac.toLowerCase());
    expect(await connect(c0().ns, UPSTREAM_IP, TRAFFIC_PORT)).toBe('connected');
    expect(await lab.ping(c0().ns, UPSTREAM_IP)).toBe(true);
    expect(await connect(c1().ns, UPSTREAM_IP, TRAFFIC_PORT)).not.toBe('connected'); // the other client is still out
  });

  it('traffic is shaped as the reply says: the 1 Mbit/s voucher against a plan without a limit', async () => {
    const s = await request(api.app)
      .post('/api/v1/subscribers')
      .set(t.auth)
      .send({ username: `open-${suffix()}`, password: 'pw-open-1', planId: openPlan.id });
    expect(s.status).toBe(201);
    // Its subscription ends in 25 s: FreeRADIUS's Session-Timeout says so.
    await tdb
      .db('subscriptions')
      .where({ subscriber_id: s.body.id })
      .update({ ends_at: new Date(Date.now() + 25_000) });
    const login = await fetchIn(c1().ns, 'POST', `http://${lab.gateway.lanIp}:${LOGIN_PORT}/login`, {
      username: s.body.username,
      password: 'pw-open-1',
    });
    expect(login.status).toBe(200);
    const [slow, open] = [await downloadRate(c0().ns, 3), await downloadRate(c1().ns, 2)];
    slowRate = slow;
    expect(slow).toBeLessThan(1_600_000); // 1 Mbit/s and some slack for the measurement
    expect(open).toBeGreaterThan(4 * slow);

    // Session-Timeout passes: blocked again, the Stop says why.
    const stop = await eventually(
      async () => {
        const r = await radacct(s.body.username);
        return r?.acctstoptime ? r : undefined;
      },
      'the Session-Timeout Stop',
      60_000,
    );
    expect(stop.acctterminatecause).toBe('Session-Timeout');
    expect(await connect(c1().ns, UPSTREAM_IP, TRAFFIC_PORT)).not.toBe('connected');
    expect(Number(stop.acctoutputoctets)).toBeGreaterThan(0);
  });

  it("Lango's enforcement disconnects the session: blocked again, radacct has the Stop with the real counters", async () => {
    expect(slowRate).toBeGreaterThan(0);
    const row = await radacct(code);
    const queued = await request(api.app).post(`/api/v1/sessions/${row.radacctid}/disconnect`).set(t.auth).send({});
    expect(queued.status).toBe(202);
    const done = await eventually(
      async () => {
        const a = (await request(api.app).get(`/api/v1/enforcement-actions/${queued.body.id}`).set(t.auth)).body;
        return ['pending', 'sending'].includes(a.status) ? undefined : a;
      },
      'the Disconnect to settle',
      60_000,
    );
    expect(done).toMatchObject({ kind: 'disconnect', status: 'ack' });
    const closed = await eventually(async () => {
      const r = await radacct(code);
      return r?.acctstoptime ? r : undefined;
    }, 'the Stop');
    expect(closed.acctterminatecause).toBe('Admin-Reset');
    expect(Number(closed.acctoutputoctets)).toBeGreaterThan(100_000); // the 3 s download, counted by nftables
    expect(await connect(c0().ns, UPSTREAM_IP, TRAFFIC_PORT)).not.toBe('connected');
    expect(gatewayLog).not.toContain(SECRET);
  });
});
