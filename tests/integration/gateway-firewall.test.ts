/**
 * The nftables firewall driver for real: a client namespace (two of them) -> gateway namespace ->
 * upstream namespace on veth pairs (tests/helpers/netns.ts), the driver's nft and tc commands
 * run inside the gateway namespace. Without namespaces (not root, no `ip netns`, no nft) every
 * test here fails with a message saying so.
 */
import type { FirewallClient } from '../../src/gateway/firewall/driver';
import { NFT_TABLE, NftablesFirewallDriver } from '../../src/gateway/firewall/nftables';
import { createCommandRunner } from '../../src/gateway/firewall/runner';
import { expectFirewallError, firewallDriverContract, HOSTILE_CLIENTS } from '../helpers/firewall-contract';
import { createLab, PROGRAMS, requireNetns, type LabServer, type NetnsLab } from '../helpers/netns';

jest.setTimeout(120_000);

const PORTAL_PORT = 8081;
const TRAFFIC_PORT = 9000;
const GARDEN_PORT = 9100;
const GATEWAY_SERVICE_PORT = 9200;

let lab: NetnsLab;
let driver: NftablesFirewallDriver;
const servers: LabServer[] = [];
let c0: FirewallClient & { ns: string };
let c1: FirewallClient & { ns: string };

const up = (): string => lab.upstream.ip;
const unmapped = (addr: string): string => addr.replace(/^::ffff:/, '');

interface ConnectAnswer {
  result: string;
}
interface HttpAnswer {
  status?: number;
  body?: string;
  error?: string;
}
interface PutAnswer {
  sent: number;
  server: { bytes: number; ms: number; peer: string };
  error?: string;
}
interface GetAnswer {
  bytes: number;
  ms: number;
  error?: string;
}

const connect = (c: { ns: string }, host: string, port: number): Promise<ConnectAnswer> =>
  lab.client<ConnectAnswer>(c.ns, ['connect', host, port, 2000]);
const httpGet = async (
  c: { ns: string },
  host: string,
): Promise<{ server?: string; peer?: string; error?: string }> => {
  const r = await lab.client<HttpAnswer>(c.ns, ['http', host, 80]);
  return r.body ? (JSON.parse(r.body) as { server: string; peer: string }) : { error: r.error };
};
const put = (c: { ns: string }, bytes: number): Promise<PutAnswer> =>
  lab.client<PutAnswer>(c.ns, ['put', up(), TRAFFIC_PORT, bytes], 60_000);
const get = (c: { ns: string }, bytes: number): Promise<GetAnswer> =>
  lab.client<GetAnswer>(c.ns, ['get', up(), TRAFFIC_PORT, bytes], 60_000);
const nftRuleset = async (): Promise<Array<Record<string, { table?: string; name?: string; family?: string }>>> => {
  const r = await lab.exec(lab.gateway.ns, ['nft', '-j', 'list', 'ruleset']);
  return (
    JSON.parse(r.stdout) as { nftables: Array<Record<string, { table?: string; name?: string; family?: string }>> }
  ).nftables;
};
const tcJson = async (
  what: 'qdisc' | 'class',
  dev: string,
): Promise<Array<{ kind?: string; handle?: string; root?: boolean; class?: string }>> => {
  const r = await lab.exec(lab.gateway.ns, ['tc', '-j', what, 'show', 'dev', dev]);
  return JSON.parse(r.stdout || '[]');
};
/** Bits per second measured at the receiving end. */
const rate = (bytes: number, ms: number): number => (bytes * 8) / (ms / 1000);

beforeAll(async () => {
  await requireNetns();
  lab = await createLab({ clients: 2 });
  [c0, c1] = lab.clients.map((c) => ({ ns: c.ns, ip: c.ip, mac: c.mac })) as [typeof c0, typeof c1];
  driver = new NftablesFirewallDriver({
    lanInterface: lab.gateway.lan,
    wanInterface: lab.gateway.wan,
    portalPort: PORTAL_PORT,
    runner: createCommandRunner({ netns: lab.gateway.ns }),
  });
  servers.push(
    await lab.serve(lab.upstream.ns, PROGRAMS.trafficServer, [TRAFFIC_PORT]),
    await lab.serve(lab.upstream.ns, PROGRAMS.trafficServer, [GARDEN_PORT]),
    await lab.serve(lab.upstream.ns, PROGRAMS.httpServer, [80, 'upstream']),
    await lab.serve(lab.gateway.ns, PROGRAMS.httpServer, [PORTAL_PORT, 'portal']),
    await lab.serve(lab.gateway.ns, PROGRAMS.udpEcho, [53]),
    await lab.serve(lab.gateway.ns, PROGRAMS.trafficServer, [GATEWAY_SERVICE_PORT]),
  );
});

afterAll(async () => {
  if (driver) await driver.teardown().catch(() => undefined);
  for (const s of servers) await s.stop();
  if (lab) await lab.destroy();
});

describe('nftables driver in network namespaces', () => {
  beforeEach(async () => {
    await driver.setup();
  });

  it('before login: TCP and ping to the upstream fail, HTTP lands on the portal, DNS and the walled garden work', async () => {
    await driver.setWalledGarden([{ address: up(), protocol: 'tcp', ports: [GARDEN_PORT] }]);
    expect((await connect(c0, up(), TRAFFIC_PORT)).result).not.toBe('connected');
    expect(await lab.ping(c0.ns, up())).toBe(false);
    expect((await httpGet(c0, up())).server).toBe('portal');
    expect(await lab.client(c0.ns, ['udp', lab.gateway.lanIp, 53, 2000])).toEqual({ reply: true });
    expect((await connect(c0, up(), GARDEN_PORT)).result).toBe('connected');
    // The gateway itself: the portal port and DNS only (its other services are for logged-in clients).
    expect((await connect(c0, lab.gateway.lanIp, PORTAL_PORT)).result).toBe('connected');
    expect((await connect(c0, lab.gateway.lanIp, GATEWAY_SERVICE_PORT)).result).not.toBe('connected');
    expect(await driver.counters(c0)).toBeNull();
  });

  it('after allow(): traffic passes, NAT hides the client, the other client and a spoofed MAC stay blocked', async () => {
    await driver.allow(c0, { uploadBps: 0, downloadBps: 0 });
    expect((await connect(c0, up(), TRAFFIC_PORT)).result).toBe('connected');
    expect(await lab.ping(c0.ns, up())).toBe(true);
    const seen = await httpGet(c0, up());
    expect(seen.server).toBe('upstream');
    expect(unmapped(seen.peer!)).toBe(lab.gateway.wanIp);
    expect(unmapped((await put(c0, 10_000)).server.peer)).toBe(lab.gateway.wanIp);
    expect((await connect(c0, lab.gateway.lanIp, GATEWAY_SERVICE_PORT)).result).toBe('connected');

    expect((await connect(c1, up(), TRAFFIC_PORT)).result).not.toBe('connected');
    expect((await httpGet(c1, up())).server).toBe('portal');
    // c1's IP allowed for another MAC: c1's packets carry its own MAC, so still nothing passes.
    await driver.allow({ ip: c1.ip, mac: '02:00:00:00:00:99' }, { uploadBps: 0, downloadBps: 0 });
    expect((await connect(c1, up(), TRAFFIC_PORT)).result).not.toBe('connected');
    expect((await httpGet(c1, up())).server).toBe('portal');
  });

  it('counters grow by the bytes actually sent and received, each packet counted once', async () => {
    await driver.allow(c0, { uploadBps: 0, downloadBps: 0 });
    const sent = await put(c0, 3_000_000);
    expect(sent.server.bytes).toBe(3_000_000);
    const got = await get(c0, 5_000_000);
    expect(got.bytes).toBe(5_000_000);
    const n = (await driver.counters(c0))!;
    // IP bytes: the payload plus TCP/IP headers of both transfers (data one way, ACKs the other).
    const overhead = 0.06 * (3_000_000 + 5_000_000) + 16_384;
    expect(Number(n.bytesIn)).toBeGreaterThanOrEqual(3_000_000);
    expect(Number(n.bytesIn)).toBeLessThanOrEqual(3_000_000 + overhead);
    expect(Number(n.bytesOut)).toBeGreaterThanOrEqual(5_000_000);
    expect(Number(n.bytesOut)).toBeLessThanOrEqual(5_000_000 + overhead);
    expect(n.packetsIn).toBeGreaterThan(0n);
    expect(n.packetsOut).toBeGreaterThan(0n);
    expect(typeof n.bytesIn).toBe('bigint');
    // Traffic to the gateway itself (DNS, its other services) is not forwarded, so not counted.
    expect(await lab.client(c0.ns, ['udp', lab.gateway.lanIp, 53, 2000])).toEqual({ reply: true });
    expect(
      (await lab.client<PutAnswer>(c0.ns, ['put', lab.gateway.lanIp, GATEWAY_SERVICE_PORT, 200_000])).server.bytes,
    ).toBe(200_000);
    expect(await driver.counters(c0)).toEqual(n);
    const [listed] = await driver.listAllowed();
    expect(listed).toEqual({
      ip: c0.ip,
      mac: c0.mac.toLowerCase(),
      limits: { uploadBps: 0, downloadBps: 0 },
      counters: n,
    });
  });

  it('shapes upload and download to the configured rates, and updateLimits() changes them live', async () => {
    // A behavioural check of shaping (0.5x..1.5x), not a performance assertion: unshaped veth
    // traffic runs at Gbit/s, a broken class at ~0.
    const within = (measured: number, limit: number): void => {
      expect(measured).toBeGreaterThan(0.5 * limit);
      expect(measured).toBeLessThan(1.5 * limit);
    };
    const seconds = 2;
    await driver.allow(c0, { uploadBps: 3_000_000, downloadBps: 8_000_000 });
    const u1 = await put(c0, (3_000_000 / 8) * seconds);
    within(rate(u1.server.bytes, u1.server.ms), 3_000_000);
    const d1 = await get(c0, (8_000_000 / 8) * seconds);
    within(rate(d1.bytes, d1.ms), 8_000_000);

    await driver.updateLimits(c0, { uploadBps: 12_000_000, downloadBps: 2_000_000 });
    const u2 = await put(c0, (12_000_000 / 8) * seconds);
    within(rate(u2.server.bytes, u2.server.ms), 12_000_000);
    const d2 = await get(c0, (2_000_000 / 8) * seconds);
    within(rate(d2.bytes, d2.ms), 2_000_000);

    // No limit in a direction: no class, full speed (far above every limit used here).
    await driver.updateLimits(c0, { uploadBps: 0, downloadBps: 2_000_000 });
    const u3 = await put(c0, 20_000_000);
    expect(rate(u3.server.bytes, u3.server.ms)).toBeGreaterThan(1.5 * 12_000_000);
  });

  it('revoke() blocks again (also a connection in progress) and returns the final counters', async () => {
    await driver.allow(c0, { uploadBps: 8_000_000, downloadBps: 0 });
    await put(c0, 500_000);
    // An upload that would take a minute at 8 Mbit/s, cut by the revoke.
    const running = put(c0, 60_000_000);
    await new Promise((r) => setTimeout(r, 1500));
    const final = await driver.revoke(c0);
    const cut = await running;
    expect(cut.error ?? 'completed').not.toBe('completed');
    expect(Number(final!.bytesIn)).toBeGreaterThan(500_000);
    expect(await driver.counters(c0)).toBeNull();
    expect(await driver.listAllowed()).toEqual([]);
    expect((await connect(c0, up(), TRAFFIC_PORT)).result).not.toBe('connected');
    expect(await lab.ping(c0.ns, up())).toBe(false);
    expect((await httpGet(c0, up())).server).toBe('portal');
    expect(await tcJson('class', lab.gateway.wan)).toEqual([]);
    expect(await driver.revoke(c0)).toBeNull();
  });

  it('walled garden: overlapping entries, port ranges, any-protocol hosts, replaced as a whole', async () => {
    await driver.setWalledGarden([
      { address: '10.99.0.0/24', protocol: 'tcp', ports: [GARDEN_PORT] },
      { address: up(), protocol: 'tcp', ports: [[TRAFFIC_PORT, GARDEN_PORT]] },
    ]);
    expect((await connect(c0, up(), TRAFFIC_PORT)).result).toBe('connected');
    expect((await connect(c0, up(), GARDEN_PORT)).result).toBe('connected');
    expect(await lab.ping(c0.ns, up())).toBe(false);

    await driver.setWalledGarden([{ address: '10.99.0.0/28' }, { address: up() }]);
    expect(await lab.ping(c0.ns, up())).toBe(true);
    expect((await httpGet(c0, up())).server).toBe('upstream'); // port 80 to the garden is not redirected

    await driver.setWalledGarden([]);
    expect((await connect(c0, up(), GARDEN_PORT)).result).not.toBe('connected');
    expect((await httpGet(c0, up())).server).toBe('portal');
  });

  it('setup() twice, a restarted driver and teardown() twice leave no duplicates, no leftovers, other tables untouched', async () => {
    const g = lab.gateway.ns;
    await lab.exec(g, ['nft', '-f', '-'], {
      input: 'table inet someone_else {\n chain c { type filter hook forward priority 10; counter; }\n}\n',
    });
    const ours = (rs: Awaited<ReturnType<typeof nftRuleset>>): string[] =>
      rs
        .filter((o) => Object.values(o)[0]?.table === NFT_TABLE || (o.table && o.table.name === NFT_TABLE))
        .map((o) => JSON.stringify(Object.values(o)[0], (k, v) => (k === 'handle' ? undefined : v)));
    const once = ours(await nftRuleset());
    expect(once.filter((o) => o.includes('"hook"')).length).toBe(4); // prerouting, input, forward, postrouting

    await driver.allow(c0, { uploadBps: 2_000_000, downloadBps: 2_000_000 });
    await driver.setup();
    await driver.setup();
    expect(ours(await nftRuleset())).toEqual(once);
    expect(await tcJson('class', lab.gateway.lan)).toEqual([]);
    expect((await tcJson('qdisc', lab.gateway.lan)).filter((q) => q.root)).toHaveLength(1);

    // A crash: another driver instance (a restarted gateway) finds the first one's state and converges.
    await driver.allow(c0, { uploadBps: 2_000_000, downloadBps: 2_000_000 });
    const restarted = new NftablesFirewallDriver({
      lanInterface: lab.gateway.lan,
      wanInterface: lab.gateway.wan,
      portalPort: PORTAL_PORT,
      runner: createCommandRunner({ netns: g }),
    });
    await restarted.setup();
    expect(ours(await nftRuleset())).toEqual(once);
    expect(await restarted.listAllowed()).toEqual([]);
    expect(await tcJson('class', lab.gateway.wan)).toEqual([]);
    expect((await connect(c0, up(), TRAFFIC_PORT)).result).not.toBe('connected');

    await restarted.teardown();
    await driver.teardown();
    const after = await nftRuleset();
    expect(after.some((o) => o.table?.name === NFT_TABLE)).toBe(false);
    expect(after.some((o) => o.table?.name === 'someone_else')).toBe(true);
    expect(after.some((o) => o.rule?.table === 'someone_else')).toBe(true);
    for (const dev of [lab.gateway.lan, lab.gateway.wan])
      expect((await tcJson('qdisc', dev)).some((q) => q.kind === 'htb')).toBe(false);
    await lab.exec(g, ['nft', 'delete', 'table', 'inet', 'someone_else']);
  });

  it('hostile values never reach nft: the ruleset is unchanged', async () => {
    const before = await nftRuleset();
    for (const [, client] of HOSTILE_CLIENTS)
      await expectFirewallError(
        driver.allow(client as FirewallClient, { uploadBps: 0, downloadBps: 0 }),
        'INVALID_VALUE',
      );
    await expectFirewallError(
      driver.allow(c0, { uploadBps: '1 } ; flush ruleset' as unknown as number, downloadBps: 0 }),
      'INVALID_VALUE',
    );
    await expectFirewallError(driver.setWalledGarden([{ address: '0.0.0.0/0 } ; flush ruleset' }]), 'INVALID_VALUE');
    expect(await nftRuleset()).toEqual(before);
  });
});

describe('nftables driver', () => {
  firewallDriverContract(
    () => ({
      driver,
      a: c0,
      b: c1,
      upload: async (client, bytes) => {
        const c = lab.clients.find((x) => x.ip === client.ip)!;
        await put(c, bytes);
      },
    }),
    { validation: false },
  );
});
