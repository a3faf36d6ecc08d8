/**
 * The semantics every firewall driver shares, as one suite: the memory driver runs it in
 * tests/unit (traffic reported with addTraffic), the nftables driver in network namespaces in
 * tests/integration (traffic really sent). Each test starts from setup().
 */
import type { FirewallClient, FirewallDriver } from '../../src/gateway/firewall/driver';
import { FirewallError } from '../../src/gateway/firewall/errors';

export interface ContractSubject {
  driver: FirewallDriver;
  /** Two clients on the LAN (the first two of the lab). */
  a: FirewallClient;
  b: FirewallClient;
  /** Makes `a` send about `bytes` upstream through the driver (upload). */
  upload(client: FirewallClient, bytes: number): Promise<void>;
}

export async function expectFirewallError(p: Promise<unknown>, code: string): Promise<FirewallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FirewallError);
  expect((err as FirewallError).code).toBe(code);
  return err as FirewallError;
}

/** Hostile or malformed values, as a RADIUS reply or a DHCP lease could carry them. */
export const HOSTILE_CLIENTS: ReadonlyArray<[string, unknown]> = [
  ['nft syntax in the MAC', { ip: '10.88.0.10', mac: 'aa:bb:cc:dd:ee:ff }; flush ruleset; #' }],
  ['a newline in the MAC', { ip: '10.88.0.10', mac: 'aa:bb:cc:dd:ee:ff\nflush ruleset' }],
  ['nft syntax in the IP', { ip: '10.88.0.10 } ; flush ruleset', mac: 'aa:bb:cc:dd:ee:ff' }],
  ['a CIDR as the client IP', { ip: '10.88.0.0/16', mac: 'aa:bb:cc:dd:ee:ff' }],
  ['an octet above 255', { ip: '10.88.0.256', mac: 'aa:bb:cc:dd:ee:ff' }],
  ['a leading zero', { ip: '10.88.0.010', mac: 'aa:bb:cc:dd:ee:ff' }],
  ['an IPv6 address', { ip: '2001:db8::1', mac: 'aa:bb:cc:dd:ee:ff' }],
  ['a mixed MAC separator', { ip: '10.88.0.10', mac: 'aa:bb-cc:dd:ee:ff' }],
  ['no MAC', { ip: '10.88.0.10' }],
  ['a number as IP', { ip: 167772170, mac: 'aa:bb:cc:dd:ee:ff' }],
];

export const HOSTILE_LIMITS: ReadonlyArray<[string, unknown]> = [
  ['a string rate', { uploadBps: '1000000 } ; flush ruleset', downloadBps: 1000000 }],
  ['a negative rate', { uploadBps: -1, downloadBps: 1000000 }],
  ['a fractional rate', { uploadBps: 1.5, downloadBps: 1000000 }],
  ['a rate above 100 Gbit/s', { uploadBps: 1e12, downloadBps: 1000000 }],
  ['NaN', { uploadBps: Number.NaN, downloadBps: 1000000 }],
  ['a zero burst', { uploadBps: 1000000, downloadBps: 1000000, burstBytes: 0 }],
  ['a string burst', { uploadBps: 1000000, downloadBps: 1000000, burstBytes: '10k' }],
];

export const HOSTILE_GARDENS: ReadonlyArray<[string, unknown]> = [
  ['nft syntax in an address', [{ address: '10.0.0.1 }; flush ruleset' }]],
  ['a host name', [{ address: 'portal.example.com' }]],
  ['a prefix above 32', [{ address: '10.0.0.0/33' }]],
  ['port 0', [{ address: '10.0.0.1', ports: [0] }]],
  ['port 65536', [{ address: '10.0.0.1', ports: [65536] }]],
  ['a reversed range', [{ address: '10.0.0.1', ports: [[90, 80]] }]],
  ['an unknown protocol', [{ address: '10.0.0.1', protocol: 'icmp', ports: [1] }]],
  ['a protocol without ports', [{ address: '10.0.0.1', protocol: 'tcp' }]],
  ['empty ports', [{ address: '10.0.0.1', ports: [] }]],
  ['not a list', { address: '10.0.0.1' }],
];

const LIMITS = { uploadBps: 0, downloadBps: 0 };

/**
 * `validation: false` leaves out the hostile-value cases (one per value): the validation is the
 * same code for every driver (driver.ts, values.ts); the nftables integration test checks once
 * that they leave the kernel's ruleset unchanged.
 */
export function firewallDriverContract(get: () => ContractSubject, opts: { validation?: boolean } = {}): void {
  describe('driver contract', () => {
    beforeEach(async () => {
      await get().driver.setup();
    });

    it('allow() again for the same client changes the limits and keeps the counters', async () => {
      const { driver, a, upload } = get();
      await driver.allow(a, LIMITS);
      await upload(a, 200_000);
      const before = await driver.counters(a);
      expect(before!.bytesIn).toBeGreaterThanOrEqual(200_000n);
      await driver.allow(a, { uploadBps: 5_000_000, downloadBps: 9_000_000 });
      const list = await driver.listAllowed();
      expect(list).toHaveLength(1);
      expect(list[0]!.limits).toEqual({ uploadBps: 5_000_000, downloadBps: 9_000_000 });
      expect((await driver.counters(a))!.bytesIn).toBeGreaterThanOrEqual(before!.bytesIn);
    });

    it('refuses an IP that is allowed for another MAC (IP_IN_USE) and keeps the first session', async () => {
      const { driver, a } = get();
      await driver.allow(a, LIMITS);
      await expectFirewallError(driver.allow({ ip: a.ip, mac: '02:00:00:00:00:99' }, LIMITS), 'IP_IN_USE');
      const list = await driver.listAllowed();
      expect(list.map((c) => [c.ip, c.mac])).toEqual([[a.ip, a.mac.toLowerCase()]]);
      expect(await driver.counters({ ip: a.ip, mac: '02:00:00:00:00:99' })).toBeNull();
    });

    it('normalises MACs: upper case with dashes in, lower case with colons out', async () => {
      const { driver, a } = get();
      const dashed = { ip: a.ip, mac: a.mac.toUpperCase().replace(/:/g, '-') };
      await driver.allow(dashed, LIMITS);
      expect((await driver.listAllowed()).map((c) => c.mac)).toEqual([a.mac.toLowerCase()]);
      expect(await driver.counters({ ip: a.ip, mac: a.mac.toLowerCase() })).not.toBeNull();
      expect(await driver.revoke({ ip: a.ip, mac: a.mac.toLowerCase() })).not.toBeNull();
    });

    it('updateLimits() needs an allowed client (NOT_ALLOWED) and changes its limits', async () => {
      const { driver, a, b } = get();
      await expectFirewallError(driver.updateLimits(a, LIMITS), 'NOT_ALLOWED');
      await driver.allow(a, { uploadBps: 1_000_000, downloadBps: 2_000_000 });
      await driver.updateLimits(a, { uploadBps: 3_000_000, downloadBps: 0, burstBytes: 30_000 });
      expect((await driver.listAllowed())[0]!.limits).toEqual({
        uploadBps: 3_000_000,
        downloadBps: 0,
        burstBytes: 30_000,
      });
      await expectFirewallError(driver.updateLimits({ ip: a.ip, mac: b.mac }, LIMITS), 'NOT_ALLOWED');
    });

    it('revoke() returns the final counters once, then null', async () => {
      const { driver, a, b, upload } = get();
      await driver.allow(a, LIMITS);
      await upload(a, 100_000);
      const final = await driver.revoke(a);
      expect(final!.bytesIn).toBeGreaterThanOrEqual(100_000n);
      expect(await driver.revoke(a)).toBeNull();
      expect(await driver.revoke(b)).toBeNull();
      expect(await driver.counters(a)).toBeNull();
      expect(await driver.listAllowed()).toEqual([]);
    });

    it('allows many clients at once (concurrent calls are serialised)', async () => {
      const { driver } = get();
      const many = Array.from({ length: 24 }, (_, i) => ({
        ip: `10.88.7.${i + 1}`,
        mac: `02:00:00:00:07:${(i + 1).toString(16).padStart(2, '0')}`,
      }));
      await Promise.all(
        many.map((c, i) => driver.allow(c, { uploadBps: i % 2 ? 1_000_000 : 0, downloadBps: 2_000_000 })),
      );
      const list = await driver.listAllowed();
      expect(list.map((c) => c.ip).sort()).toEqual(many.map((c) => c.ip).sort());
      await Promise.all(many.slice(0, 12).map((c) => driver.revoke(c)));
      expect(await driver.listAllowed()).toHaveLength(12);
    });

    it('setup() starts again from nothing; after teardown() every call but setup() is NOT_SET_UP', async () => {
      const { driver, a } = get();
      await driver.allow(a, LIMITS);
      await driver.setWalledGarden([{ address: '10.99.0.0/24' }]);
      await driver.setup();
      expect(await driver.listAllowed()).toEqual([]);
      await driver.teardown();
      await driver.teardown();
      await expectFirewallError(driver.allow(a, LIMITS), 'NOT_SET_UP');
      await expectFirewallError(driver.listAllowed(), 'NOT_SET_UP');
      await expectFirewallError(driver.setWalledGarden([]), 'NOT_SET_UP');
      await driver.setup();
      expect(await driver.listAllowed()).toEqual([]);
    });

    if (opts.validation !== false) {
      it.each(HOSTILE_CLIENTS)('refuses %s (INVALID_VALUE) and changes nothing', async (_name, client) => {
        const { driver, a } = get();
        await driver.allow(a, LIMITS);
        const before = await driver.listAllowed();
        const err = await expectFirewallError(driver.allow(client as FirewallClient, LIMITS), 'INVALID_VALUE');
        expect(err.details.field).toMatch(/^client/);
        await expectFirewallError(driver.revoke(client as FirewallClient), 'INVALID_VALUE');
        expect(await driver.listAllowed()).toEqual(before);
      });

      it.each(HOSTILE_LIMITS)('refuses limits with %s (INVALID_VALUE) and changes nothing', async (_name, limits) => {
        const { driver, a, b } = get();
        await driver.allow(a, { uploadBps: 1_000_000, downloadBps: 1_000_000 });
        const before = await driver.listAllowed();
        await expectFirewallError(driver.updateLimits(a, limits as typeof LIMITS), 'INVALID_VALUE');
        await expectFirewallError(driver.allow(b, limits as typeof LIMITS), 'INVALID_VALUE');
        expect(await driver.listAllowed()).toEqual(before);
      });

      it.each(HOSTILE_GARDENS)('refuses a walled garden with %s (INVALID_VALUE)', async (_name, garden) => {
        const { driver } = get();
        await expectFirewallError(driver.setWalledGarden(garden as []), 'INVALID_VALUE');
      });
    }
  });
}
