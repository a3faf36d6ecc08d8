/** The memory firewall driver: the shared driver contract, decide() and addTraffic(). */
import { MemoryFirewallDriver } from '../../../src/gateway/firewall/memory';
import { expectFirewallError, firewallDriverContract } from '../../helpers/firewall-contract';

const a = { ip: '10.88.0.10', mac: '02:4C:47:00:00:0A' };
const b = { ip: '10.88.0.11', mac: '02:4C:47:00:00:0B' };
const driver = new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'eth0', portalPort: 8081 });

firewallDriverContract(() => ({
  driver,
  a,
  b,
  upload: async (client, bytes) => {
    expect(driver.addTraffic(client, { bytesIn: bytes, packetsIn: Math.ceil(bytes / 1448) })).toBe(true);
  },
}));

describe('memory driver', () => {
  beforeEach(() => driver.setup());

  it('counts traffic of allowed clients only, as bigints past 2^32', async () => {
    expect(driver.addTraffic(a, { bytesIn: 100 })).toBe(false);
    await driver.allow(a, { uploadBps: 0, downloadBps: 0 });
    driver.addTraffic(a, { bytesIn: 2n ** 32n + 5n, bytesOut: 7, packetsIn: 3, packetsOut: 1 });
    driver.addTraffic(a, { bytesOut: 2n ** 33n });
    expect(await driver.counters(a)).toEqual({
      bytesIn: 2n ** 32n + 5n,
      bytesOut: 2n ** 33n + 7n,
      packetsIn: 3n,
      packetsOut: 1n,
    });
    expect(driver.addTraffic(b, { bytesIn: 1 })).toBe(false);
    expect(() => driver.addTraffic(a, { bytesIn: -1 })).toThrow(/negative/);
  });

  it('decides like the nftables rules: redirect, garden, gateway services, MAC binding', async () => {
    const q = (over: Partial<Parameters<typeof driver.decide>[0]>) =>
      driver.decide({ srcIp: a.ip, srcMac: a.mac, dstIp: '10.99.0.2', protocol: 'tcp', dstPort: 443, ...over });
    await driver.setWalledGarden([
      { address: '10.99.0.0/24', protocol: 'tcp', ports: [[9000, 9100]] },
      { address: '10.77.0.5' },
    ]);
    expect(q({})).toBe('reject');
    expect(q({ dstPort: 80 })).toBe('redirect');
    expect(q({ dstPort: 9050 })).toBe('forward');
    expect(q({ protocol: 'udp', dstPort: 9050 })).toBe('reject');
    expect(q({ dstIp: '10.77.0.5', protocol: 'icmp', dstPort: undefined })).toBe('forward');
    expect(q({ dstIp: '10.77.0.5', dstPort: 80 })).toBe('forward');
    expect(q({ dstIp: '10.88.0.1', toGateway: true, protocol: 'udp', dstPort: 53 })).toBe('accept');
    expect(q({ dstIp: '10.88.0.1', toGateway: true, dstPort: 8081 })).toBe('accept');
    expect(q({ dstIp: '10.88.0.1', toGateway: true, dstPort: 22 })).toBe('reject');
    await driver.allow(a, { uploadBps: 0, downloadBps: 0 });
    expect(q({})).toBe('forward');
    expect(q({ dstPort: 80 })).toBe('forward');
    expect(q({ dstIp: '10.88.0.1', toGateway: true, dstPort: 22 })).toBe('accept');
    expect(q({ srcMac: b.mac })).toBe('reject');
    expect(q({ srcMac: b.mac, dstPort: 80 })).toBe('redirect');
    await driver.revoke(a);
    expect(q({})).toBe('reject');
  });

  it('refuses a bad configuration', () => {
    expect(
      () =>
        new MemoryFirewallDriver({ lanInterface: 'br-lan"; flush ruleset', wanInterface: 'eth0', portalPort: 8081 }),
    ).toThrow(/lanInterface/);
    expect(() => new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'eth0', portalPort: 0 })).toThrow(
      /portalPort/,
    );
    expect(() => new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'eth0', portalPort: 53 })).toThrow(
      /portalPort/,
    );
    expect(() => new MemoryFirewallDriver({ lanInterface: 'eth0', wanInterface: 'eth0', portalPort: 8081 })).toThrow(
      /differ/,
    );
  });

  it('is not set up before setup()', async () => {
    const fresh = new MemoryFirewallDriver({ lanInterface: 'br-lan', wanInterface: 'eth0', portalPort: 8081 });
    await expectFirewallError(fresh.counters(a), 'NOT_SET_UP');
  });
});
