/**
 * The nftables driver's pure parts and its commands, against a scripted runner (the real kernel
 * is in tests/integration/gateway-firewall.test.ts): validation before any command, the counter
 * parser past 2^53, the walled garden made disjoint for interval sets, the order of operations.
 */
import { disjointGarden, NftablesFirewallDriver, parseKernelClients } from '../../../src/gateway/firewall/nftables';
import { normalizeGarden } from '../../../src/gateway/firewall/driver';
import type { CommandRunner, FirewallCommand } from '../../../src/gateway/firewall/runner';
import { nft, tc, V } from '../../../src/gateway/firewall/values';
import { expectFirewallError, HOSTILE_CLIENTS } from '../../helpers/firewall-contract';

class ScriptedRunner implements CommandRunner {
  readonly calls: Array<{ command: FirewallCommand; args: readonly string[]; stdin?: string }> = [];
  kernel = '{"nftables": []}';
  async run(command: FirewallCommand, args: readonly string[], stdin?: string): Promise<string> {
    this.calls.push({ command, args, stdin });
    if (command === 'tc' && args.includes('show')) return '[]';
    if (command === 'nft' && args[0] === '-j') return this.kernel;
    return '';
  }
}

const opts = { lanInterface: 'br-lan', wanInterface: 'eth0', portalPort: 8081 };
const client = { ip: '10.88.0.10', mac: '02:4C:47:00:00:0A' };

describe('nftables driver commands', () => {
  it('validates everything before running a command', async () => {
    const runner = new ScriptedRunner();
    const d = new NftablesFirewallDriver({ ...opts, runner });
    await d.setup();
    const n = runner.calls.length;
    for (const [, bad] of HOSTILE_CLIENTS)
      await expectFirewallError(d.allow(bad as typeof client, { uploadBps: 0, downloadBps: 0 }), 'INVALID_VALUE');
    await expectFirewallError(d.setWalledGarden([{ address: '10.0.0.1;' }]), 'INVALID_VALUE');
    expect(runner.calls.length).toBe(n);
    expect(() => new NftablesFirewallDriver({ ...opts, wanInterface: 'eth0 }', runner })).toThrow(/wanInterface/);
    expect(() => new NftablesFirewallDriver({ ...opts, wanInterface: 'br-lan', runner })).toThrow(/differ/);
  });

  it('setup() replaces its own table atomically and touches no other', async () => {
    const runner = new ScriptedRunner();
    await new NftablesFirewallDriver({ ...opts, runner }).setup();
    const script = runner.calls[0]!.stdin!;
    expect(runner.calls[0]!.args).toEqual(['-f', '-']);
    expect(script.startsWith('add table inet lango_gw\ndelete table inet lango_gw\ntable inet lango_gw {')).toBe(true);
    expect(script).not.toMatch(/flush ruleset/);
    expect([...script.matchAll(/^(?:add |delete )?table (\S+ \S+)/gm)].map((m) => m[1])).toEqual([
      'inet lango_gw',
      'inet lango_gw',
      'inet lango_gw',
    ]);
    expect(script).toContain('iifname "br-lan" oifname "eth0" masquerade');
    expect(script).toContain('redirect to :8081');
  });

  it('allow() makes the tc classes before the nft elements; revoke() blocks, reads, then removes', async () => {
    const runner = new ScriptedRunner();
    const d = new NftablesFirewallDriver({ ...opts, runner });
    await d.setup();
    runner.calls.length = 0;
    await d.allow(client, { uploadBps: 2_000_000, downloadBps: 0, burstBytes: 20000 });
    expect(runner.calls.map((c) => c.command)).toEqual(['tc', 'nft']);
    expect(runner.calls[0]!.stdin).toMatch(
      /^class replace dev eth0 parent 1: classid 1:2 htb rate 2000000bit ceil 2000000bit burst 20000b cburst 20000b/,
    );
    expect(runner.calls[0]!.stdin).not.toContain('br-lan');
    expect(runner.calls[1]!.stdin).toContain('add element inet lango_gw clients { 10.88.0.10 . 02:4c:47:00:00:0a }');
    runner.calls.length = 0;
    await d.revoke(client);
    expect(runner.calls.map((c) => `${c.command} ${c.args[0]}`)).toEqual(['nft -f', 'nft -j', 'nft -f', 'tc -batch']);
    expect(runner.calls[0]!.stdin).toContain('add element inet lango_gw revoking { 10.88.0.10 }');
    expect(runner.calls[3]!.stdin).toBe('class del dev eth0 parent 1: classid 1:2\n');
  });
});

describe('parseKernelClients', () => {
  it('reads counters exactly, also above 2^53', () => {
    const text = JSON.stringify({
      nftables: [
        {
          set: {
            name: 'clients',
            elem: [
              { elem: { val: { concat: ['10.88.0.10', '02:4c:47:00:00:0a'] }, counter: { packets: 7, bytes: 1 } } },
            ],
          },
        },
        { set: { name: 'client_ips', elem: [{ elem: { val: '10.88.0.10', counter: { packets: 3, bytes: 2 } } }] } },
        { set: { name: 'garden' } },
      ],
    })
      .replace('"bytes":1', '"bytes": 18446744073709551615')
      .replace('"bytes":2', '"bytes": 9007199254740993');
    expect([...parseKernelClients(text).values()]).toEqual([
      {
        ip: '10.88.0.10',
        mac: '02:4c:47:00:00:0a',
        counters: { bytesIn: 18446744073709551615n, packetsIn: 7n, bytesOut: 9007199254740993n, packetsOut: 3n },
      },
    ]);
  });
});

describe('disjointGarden', () => {
  const text = (entries: Parameters<typeof normalizeGarden>[0]) => {
    const g = disjointGarden(normalizeGarden(entries));
    return { any: g.any.map((s) => s.nft), svc: g.svc.map((s) => s.nft) };
  };

  it('keeps outermost networks and clears host bits', () => {
    expect(
      text([
        { address: '10.1.2.3' },
        { address: '10.0.0.9/8' },
        { address: '192.168.1.0/24' },
        { address: '192.168.1.0/24' },
      ]).any,
    ).toEqual(['10.0.0.0/8', '192.168.1.0/24']);
  });

  it('merges port ranges and removes what an enclosing network already opens', () => {
    expect(
      text([
        { address: '10.99.0.0/24', protocol: 'tcp', ports: [9100] },
        { address: '10.99.0.2', protocol: 'tcp', ports: [[9000, 9100], 9101, 443] },
        { address: '10.99.0.2', ports: [53] },
        { address: '10.5.0.0/16' },
        { address: '10.5.1.1', ports: [80] },
      ]),
    ).toEqual({
      any: ['10.5.0.0/16'],
      svc: [
        '10.99.0.0/24 . tcp . 9100',
        '10.99.0.2 . tcp . 53',
        '10.99.0.2 . tcp . 443',
        '10.99.0.2 . tcp . 9000-9099',
        '10.99.0.2 . tcp . 9101',
        '10.99.0.2 . udp . 53',
      ],
    });
  });
});

describe('values', () => {
  it('interpolates only validated values', () => {
    expect(nft`add element inet t s { ${[V.ipv4('10.0.0.1', 'ip'), V.ipv4('10.0.0.2', 'ip')]} }`).toBe(
      'add element inet t s { 10.0.0.1, 10.0.0.2 }',
    );
    expect(nft`iifname ${V.iface('br-lan', 'lan')}`).toBe('iifname "br-lan"');
    expect(tc`qdisc del dev ${V.iface('br-lan', 'lan')} root`).toBe('qdisc del dev br-lan root');
    expect(() => nft`add element inet t s { ${'10.0.0.1 } ; flush ruleset' as never} }`).toThrow(/validated/);
    expect(() => tc`class del dev ${{ raw: 'x; reboot', nft: 'x' } as never}`).toThrow(/validated/);
  });

  it('accepts exactly the forms it documents', () => {
    expect(V.mac('AA-BB-CC-DD-EE-0F', 'm').raw).toBe('aa:bb:cc:dd:ee:0f');
    expect(V.cidr4('10.1.2.3/16', 'c').network.nft).toBe('10.1.0.0/16');
    expect(V.cidr4('10.1.2.3', 'c').network.nft).toBe('10.1.2.3');
    expect(V.classid(1, 0x1a).raw).toBe('1:1a');
    for (const bad of ['1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4\n', '01.2.3.4', '1.2.3.4/24'])
      expect(() => V.ipv4(bad, 'ip')).toThrow(/IPv4/);
    for (const bad of ['', 'a'.repeat(16), 'eth0"', 'eth 0', 'eth0;', '-eth0', 'eth0}'])
      expect(() => V.iface(bad, 'iface')).toThrow(/interface/);
    for (const bad of [0, 65536, 1.5, '80', Number.NaN]) expect(() => V.port(bad, 'port')).toThrow(/integer/);
  });
});
