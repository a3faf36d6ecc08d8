/**
 * The production firewall driver: nftables for filtering, NAT and counting, tc HTB for rate
 * limits. Commands go through runner.ts; every value in them comes from values.ts.
 *
 * Table `inet lango_gw`, the driver's own: it is created and replaced atomically (one
 * `nft -f -` transaction: add, delete, define), no other table is ever touched. nftables runs
 * every table's base chains, so accepting here never overrides a drop elsewhere; the driver only
 * drops traffic from and to the LAN interface.
 *
 *   sets  clients       ipv4_addr . ether_addr, counter   who is logged in; counts "in" (upload)
 *         client_ips    ipv4_addr, counter                the same IPs; counts "out" (download)
 *         client_class  ipv4_addr : classid               the client's tc class (1:<slot>)
 *         revoking      ipv4_addr                         blocked while revoke() reads final counters
 *         garden        ipv4_addr (interval)              walled garden, every protocol
 *         garden_svc    ipv4_addr . inet_proto . inet_service (interval)   walled garden, by port
 *
 *   prerouting  (nat, dstnat)   TCP 80 from LAN clients not in `clients` and not to the walled
 *                               garden: `redirect to :portalPort` (the portal on the gateway)
 *   input       (filter)        from the LAN: established, DNS (53 udp/tcp), DHCP (67), ICMP and
 *                               the portal port for everyone; anything else only for `clients`
 *   forward     (filter)        from the LAN (from_lan): revoking -> reject; `clients` (IP and
 *                               MAC must both match) -> counted, tc class set, accept; walled
 *                               garden -> accept; the rest is rejected (TCP reset, ICMP
 *                               admin-prohibited), so apps fail fast instead of hanging.
 *                               To the LAN (to_lan): `client_ips` -> counted, class set, accept;
 *                               replies from the walled garden -> accept; the rest dropped.
 *                               IPv6 from the LAN is not forwarded (no IPv6 sessions yet).
 *   postrouting (nat, srcnat)   LAN -> WAN: masquerade.
 *
 * Each client's counters are the per-element counters of its `clients` and `client_ips`
 * elements, and each is looked up positively in exactly one rule per packet (the other uses are
 * negated lookups, which the kernel does not count), so a packet is counted once. All counters
 * come from one `nft -j list table` call, parsed. A GSO/GRO aggregate counts as one packet;
 * byte counts are exact IP bytes.
 *
 * Rate limits: tc HTB, not nftables limits (measured by bench/gateway-forwarding.ts, one TCP
 * upload through the namespaces; docs/decisions.md). HTB delivers 0.96-1.01x of 2, 20 and 200
 * Mbit/s for short and long transfers alike (0.96 is TCP payload against Ethernet bytes). A
 * per-client `limit rate over ... bytes/second drop` is as close in a long transfer, but its
 * bucket always holds at least one second at the rate (the kernel sizes it (rate + burst) / rate
 * seconds), so a transfer of about a second, a web page, passes at line rate; and it polices:
 * it drops, TCP retransmits. HTB queues, so TCP settles at the rate. Classification costs
 * nothing extra: the forward rule that accepts a client sets `meta priority` (skb->priority) from
 * `client_class`, and HTB takes a priority equal to one of its class ids as the class, without
 * tc filters. Download is shaped on the LAN interface's egress, upload on the WAN interface's
 * egress (after NAT; the priority stays with the packet). Both have root qdisc `htb` handle 1:
 * (default 0: unclassified traffic goes straight through); a client with a limit has class
 * 1:<slot> there with rate = ceil, burst 10 ms at the rate (defaultBurst) unless the limits say,
 * a leaf fq_codel (bfifo sized to 200 ms where the kernel lacks fq_codel), and no class in a
 * direction without a limit. Upload that leaves by another interface than the WAN (a VPN, a
 * second uplink) is not shaped. The driver owns the root qdisc of both interfaces.
 */
import { BaseFirewallDriver, type ClientRecord } from './base';
import {
  normalizeOptions,
  zeroCounters,
  type AllowedClient,
  type ClientCounters,
  type ClientLimits,
  type FirewallOptions,
  type NormalizedClient,
  type NormalizedGardenEntry,
} from './driver';
import { FirewallError } from './errors';
import { createCommandRunner, type CommandRunner } from './runner';
import { ipv4ToInt, nft, Safe, tc, V } from './values';

export const NFT_TABLE = 'lango_gw';
const T = `inet ${NFT_TABLE}`;
const HTB_MAJOR = 1;
const FIRST_SLOT = 2;
/** 0xffff is reserved by tc; 0xfffe is the probe class of setup(). */
const PROBE_SLOT = 0xfffe;
const LAST_SLOT = 0xfffd;
const NO_LIMITS: ClientLimits = { uploadBps: 0, downloadBps: 0 };
const HTB_QUANTUM = 65536; // one GSO packet per round; classes never borrow, so it only sets the DRR step

export interface NftablesOptions extends FirewallOptions {
  /** Default: nft/tc/ip on this machine (createCommandRunner()). */
  runner?: CommandRunner;
}

/**
 * 10 ms at the rate, at least two full-size frames. tc's own default is rate/HZ + MTU, and with
 * high-resolution timers HZ reads as 10^9 here: about one MTU at any rate, so HTB must wake up
 * for every packet (one TCP stream through a 40 Gbit/s class ran at half the unshaped speed).
 */
export function defaultBurst(rateBps: number): number {
  return Math.max(3028, Math.ceil((rateBps / 8) * 0.01));
}

interface ClientState extends ClientRecord {
  slot: number;
}

type Direction = 'up' | 'down';

export class NftablesFirewallDriver extends BaseFirewallDriver<ClientState> {
  readonly kind = 'nftables' as const;
  private readonly lan: Safe;
  private readonly wan: Safe;
  private readonly portalPort: Safe;
  private readonly runner: CommandRunner;
  private readonly freeSlots: number[] = [];
  private nextSlot = FIRST_SLOT;
  /** The leaf qdisc of client classes, probed once by the first setup(). */
  private leaf: 'fq_codel' | 'bfifo' | undefined;

  constructor(opts: NftablesOptions) {
    super();
    ({ lan: this.lan, wan: this.wan, portalPort: this.portalPort } = normalizeOptions(opts));
    this.runner = opts.runner ?? createCommandRunner();
  }

  protected async doSetup(): Promise<void> {
    await this.runner.run('nft', ['-f', '-'], this.freshTable());
    // A fresh HTB root on both interfaces: a crashed run's classes must not survive (replacing
    // an HTB with an HTB keeps its classes, so ours is deleted first).
    const ours = await this.ownRootQdiscs();
    await this.tcBatch([
      ...ours.map((dev) => tc`qdisc del dev ${dev} root`),
      ...[this.lan, this.wan].map((dev) => tc`qdisc replace dev ${dev} root handle ${V.qdiscHandle(HTB_MAJOR)} htb`),
    ]);
    this.leaf ??= (await this.probeFqCodel()) ? 'fq_codel' : 'bfifo';
    this.freeSlots.length = 0;
    this.nextSlot = FIRST_SLOT;
  }

  protected async doTeardown(): Promise<void> {
    await this.runner.run('nft', ['-f', '-'], `add table ${T}\ndelete table ${T}\n`);
    await this.tcBatch((await this.ownRootQdiscs()).map((dev) => tc`qdisc del dev ${dev} root`));
  }

  /** tc classes first (a class id without a class would leave the client unshaped for a moment), then the sets. */
  protected async doAllow(
    c: NormalizedClient,
    limits: ClientLimits,
    cur: ClientState | undefined,
  ): Promise<ClientState> {
    const slot = cur?.slot ?? this.takeSlot();
    try {
      await this.tcBatch(this.classLines(slot, cur?.limits ?? NO_LIMITS, limits));
      if (!cur) {
        const ip = V.ipv4(c.ip, 'client.ip');
        const mac = V.mac(c.mac, 'client.mac');
        const cls = V.classid(HTB_MAJOR, slot);
        await this.runner.run(
          'nft',
          ['-f', '-'],
          [
            nft`add element inet lango_gw client_class { ${ip} : ${cls} }`,
            nft`add element inet lango_gw client_ips { ${ip} }`,
            nft`add element inet lango_gw clients { ${ip} . ${mac} }`,
            '',
          ].join('\n'),
        );
      }
    } catch (err) {
      if (!cur) {
        // Leave nothing half-made for an IP that was not allowed before.
        await this.tcBatch(this.classLines(slot, limits, NO_LIMITS), true).catch(() => undefined);
        this.freeSlots.push(slot);
      }
      throw err;
    }
    return { mac: c.mac, slot, limits };
  }

  /** Blocked first, so the counters read next are final; then removed. */
  protected async doRevoke(c: NormalizedClient, cur: ClientState): Promise<ClientCounters> {
    const ip = V.ipv4(c.ip, 'client.ip');
    const mac = V.mac(c.mac, 'client.mac');
    await this.runner.run('nft', ['-f', '-'], nft`add element inet lango_gw revoking { ${ip} }\n`);
    const final = (await this.readKernel()).get(c.ip)?.counters ?? zeroCounters();
    await this.runner.run(
      'nft',
      ['-f', '-'],
      [
        nft`delete element inet lango_gw clients { ${ip} . ${mac} }`,
        nft`delete element inet lango_gw client_ips { ${ip} }`,
        nft`delete element inet lango_gw client_class { ${ip} }`,
        nft`delete element inet lango_gw revoking { ${ip} }`,
        '',
      ].join('\n'),
    );
    await this.tcBatch(this.classLines(cur.slot, cur.limits, NO_LIMITS));
    this.freeSlots.push(cur.slot);
    return final;
  }

  /** From the kernel: what is really let through, with the limits this instance set. */
  protected async doList(): Promise<AllowedClient[]> {
    return [...(await this.readKernel()).values()].map((k) => {
      const mine = this.record(k);
      return { ...k, limits: mine ? { ...mine.limits } : null };
    });
  }

  protected async doSetWalledGarden(entries: NormalizedGardenEntry[]): Promise<void> {
    const { any, svc } = disjointGarden(entries);
    const lines = ['flush set inet lango_gw garden', 'flush set inet lango_gw garden_svc'];
    if (any.length > 0) lines.push(nft`add element inet lango_gw garden { ${any} }`);
    if (svc.length > 0) lines.push(nft`add element inet lango_gw garden_svc { ${svc} }`);
    await this.runner.run('nft', ['-f', '-'], `${lines.join('\n')}\n`);
  }

  /** tc lines that take a slot's classes from `from` limits to `to` limits. */
  private classLines(slot: number, from: ClientLimits, to: ClientLimits): string[] {
    const lines: string[] = [];
    const cls = V.classid(HTB_MAJOR, slot);
    for (const dir of ['down', 'up'] as Direction[]) {
      const dev = dir === 'down' ? this.lan : this.wan;
      const before = dir === 'down' ? from.downloadBps : from.uploadBps;
      const after = dir === 'down' ? to.downloadBps : to.uploadBps;
      if (after > 0) {
        const rate = V.uint(after, 1, Number.MAX_SAFE_INTEGER, 'rate');
        const burst = V.uint(to.burstBytes ?? defaultBurst(after), 1, Number.MAX_SAFE_INTEGER, 'burst');
        const burstText = tc` burst ${burst}b cburst ${burst}b`;
        lines.push(
          tc`class replace dev ${dev} parent ${V.qdiscHandle(HTB_MAJOR)} classid ${cls} htb rate ${rate}bit ceil ${rate}bit` +
            burstText +
            ` quantum ${HTB_QUANTUM}`,
        );
        lines.push(tc`qdisc replace dev ${dev} parent ${cls} handle ${V.qdiscHandle(slot)} ` + this.leafQdisc(after));
      } else if (before > 0) {
        lines.push(tc`class del dev ${dev} parent ${V.qdiscHandle(HTB_MAJOR)} classid ${cls}`);
      }
    }
    return lines;
  }

  private leafQdisc(rateBps: number): string {
    if (this.leaf === 'fq_codel') return 'fq_codel';
    // 200 ms at the rate, at least two 64 KiB GSO packets (a smaller FIFO drops every one).
    const limit = V.uint(Math.max(131072, Math.ceil((rateBps / 8) * 0.2)), 1, Number.MAX_SAFE_INTEGER, 'bfifo limit');
    return tc`bfifo limit ${limit}`;
  }

  private async tcBatch(lines: string[], force = false): Promise<void> {
    if (lines.length === 0) return;
    await this.runner.run('tc', force ? ['-force', '-batch', '-'] : ['-batch', '-'], `${lines.join('\n')}\n`);
  }

  private takeSlot(): number {
    const s = this.freeSlots.pop() ?? this.nextSlot++;
    if (s > LAST_SLOT) {
      this.nextSlot--;
      throw new FirewallError('INVALID_VALUE', `at most ${LAST_SLOT - FIRST_SLOT + 1} clients at once`, {
        field: 'client',
      });
    }
    return s;
  }

  /** The LAN/WAN interfaces whose root qdisc is an HTB with our handle (ours, or a crashed run's). */
  private async ownRootQdiscs(): Promise<Safe[]> {
    const list = JSON.parse((await this.runner.run('tc', ['-j', 'qdisc', 'show'])) || '[]') as Array<{
      kind?: string;
      handle?: string;
      root?: boolean;
      dev?: string;
    }>;
    const handle = V.qdiscHandle(HTB_MAJOR).raw;
    return [this.lan, this.wan].filter((dev) =>
      list.some((q) => q.dev === dev.raw && q.root === true && q.kind === 'htb' && q.handle === handle),
    );
  }

  /** fq_codel is a module many kernels have and some (minimal VMs) do not. */
  private async probeFqCodel(): Promise<boolean> {
    const dev = this.lan;
    const cls = V.classid(HTB_MAJOR, PROBE_SLOT);
    await this.tcBatch([tc`class replace dev ${dev} parent ${V.qdiscHandle(HTB_MAJOR)} classid ${cls} htb rate 1gbit`]);
    try {
      await this.tcBatch([tc`qdisc replace dev ${dev} parent ${cls} handle ${V.qdiscHandle(PROBE_SLOT)} fq_codel`]);
      return true;
    } catch {
      return false;
    } finally {
      await this.tcBatch([tc`class del dev ${dev} parent ${V.qdiscHandle(HTB_MAJOR)} classid ${cls}`]);
    }
  }

  private freshTable(): string {
    const { lan, wan, portalPort } = this;
    return (
      `add table ${T}\ndelete table ${T}\n` +
      nft`table inet lango_gw {
  set clients { type ipv4_addr . ether_addr; counter; }
  set client_ips { type ipv4_addr; counter; }
  map client_class { type ipv4_addr : classid; }
  set revoking { type ipv4_addr; }
  set garden { type ipv4_addr; flags interval; }
  set garden_svc { type ipv4_addr . inet_proto . inet_service; flags interval; }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname ${lan} tcp dport 80 ip saddr . ether saddr != @clients ip daddr != @garden ip daddr . meta l4proto . th dport != @garden_svc redirect to :${portalPort}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname ${lan} jump lan_input
  }
  chain lan_input {
    ct state established,related accept
    udp dport { 53, 67 } accept
    tcp dport { 53, ${portalPort} } accept
    meta l4proto { icmp, ipv6-icmp } accept
    meta nfproto ipv6 reject with icmpx admin-prohibited
    ip saddr . ether saddr != @clients reject with icmpx admin-prohibited
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname ${lan} jump from_lan
    oifname ${lan} jump to_lan
  }
  chain from_lan {
    ip saddr @revoking reject with icmpx admin-prohibited
    ip saddr . ether saddr @clients meta priority set ip saddr map @client_class accept
    ip daddr @garden accept
    ip daddr . meta l4proto . th dport @garden_svc accept
    meta l4proto tcp reject with tcp reset
    reject with icmpx admin-prohibited
  }
  chain to_lan {
    ip daddr @revoking drop
    ip daddr @client_ips meta priority set ip daddr map @client_class accept
    ct state established,related ip saddr @garden accept
    ct state established,related ip saddr . meta l4proto . th sport @garden_svc accept
    drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    iifname ${lan} oifname ${wan} masquerade
  }
}
`
    );
  }

  /** Every client in the kernel with its counters: one `nft -j list table` call. */
  private async readKernel(): Promise<Map<string, { ip: string; mac: string; counters: ClientCounters }>> {
    const text = await this.runner.run('nft', ['-j', 'list', 'table', 'inet', NFT_TABLE]);
    return parseKernelClients(text);
  }
}

interface NftCounter {
  packets: string;
  bytes: string;
}
interface NftElem {
  elem?: { val: unknown; counter?: NftCounter };
}

/** Parses `nft -j list table inet lango_gw`. Counters are read as strings: JSON numbers above 2^53 would lose digits. */
export function parseKernelClients(text: string): Map<string, { ip: string; mac: string; counters: ClientCounters }> {
  const doc = JSON.parse(text.replace(/"(packets|bytes)":\s*(\d+)/g, '"$1": "$2"')) as {
    nftables?: Array<{ set?: { name: string; elem?: NftElem[] } }>;
  };
  const sets = new Map<string, NftElem[]>();
  for (const o of doc.nftables ?? []) if (o.set) sets.set(o.set.name, o.set.elem ?? []);
  const down = new Map<string, NftCounter | undefined>();
  for (const e of sets.get('client_ips') ?? [])
    if (typeof e.elem?.val === 'string') down.set(e.elem.val, e.elem.counter);
  const out = new Map<string, { ip: string; mac: string; counters: ClientCounters }>();
  for (const e of sets.get('clients') ?? []) {
    const val = e.elem?.val as { concat?: unknown[] } | undefined;
    const [ip, mac] = val?.concat ?? [];
    if (typeof ip !== 'string' || typeof mac !== 'string') continue;
    const up = e.elem?.counter;
    const dn = down.get(ip);
    out.set(ip, {
      ip,
      mac,
      counters: {
        bytesIn: BigInt(up?.bytes ?? 0),
        packetsIn: BigInt(up?.packets ?? 0),
        bytesOut: BigInt(dn?.bytes ?? 0),
        packetsOut: BigInt(dn?.packets ?? 0),
      },
    });
  }
  return out;
}

/**
 * nft refuses overlapping elements in an interval set ("conflicting intervals", "File exists"),
 * and walled-garden lists overlap (a /24 and a host in it). Networks either nest or are
 * disjoint, so: keep only outermost networks for `garden`; for `garden_svc`, per protocol, merge
 * each network's port ranges and take away what an enclosing network (or `garden`) already opens.
 */
export function disjointGarden(entries: readonly NormalizedGardenEntry[]): { any: Safe[]; svc: Safe[] } {
  const contains = (a: NormalizedGardenEntry, b: NormalizedGardenEntry): boolean =>
    a.prefix <= b.prefix && sameNet(a.network, b.network, a.prefix);
  const anyNets = entries.filter((e) => e.protocols.length === 0);
  const outer = anyNets.filter(
    (e, i) => !anyNets.some((o, j) => j !== i && contains(o, e) && (o.prefix < e.prefix || j < i)),
  );
  const any = outer.map((e) => V.cidr4(`${e.network}/${e.prefix}`, 'walledGarden').network);

  const svc: Safe[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const byNet = new Map<string, { e: NormalizedGardenEntry; ranges: Array<[number, number]> }>();
    for (const e of entries) {
      if (!e.protocols.includes(proto) || outer.some((o) => contains(o, e))) continue;
      const key = `${e.network}/${e.prefix}`;
      const cur = byNet.get(key) ?? { e, ranges: [] };
      cur.ranges.push(...e.ports);
      byNet.set(key, cur);
    }
    const nets = [...byNet.values()].map((n) => ({ e: n.e, ranges: mergeRanges(n.ranges) }));
    for (const n of nets) {
      let ranges = n.ranges;
      for (const o of nets)
        if (o !== n && o.e.prefix < n.e.prefix && contains(o.e, n.e)) ranges = subtractRanges(ranges, o.ranges);
      const net = V.cidr4(`${n.e.network}/${n.e.prefix}`, 'walledGarden').network;
      const p = V.protocol(proto, 'walledGarden.protocol');
      for (const [a, b] of ranges) {
        const from = V.port(a, 'walledGarden.ports');
        const to = V.port(b, 'walledGarden.ports');
        svc.push(V.concat([net, p, a === b ? from : V.range(from, to)]));
      }
    }
  }
  return { any, svc };
}

function sameNet(a: string, b: string, prefix: number): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(ipv4ToInt(a) / size) === Math.floor(ipv4ToInt(b) / size);
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function subtractRanges(ranges: Array<[number, number]>, minus: Array<[number, number]>): Array<[number, number]> {
  let out = ranges;
  for (const [c, d] of minus) {
    out = out.flatMap(([a, b]): Array<[number, number]> => {
      if (d < a || c > b) return [[a, b]];
      const keep: Array<[number, number]> = [];
      if (a < c) keep.push([a, c - 1]);
      if (d < b) keep.push([d + 1, b]);
      return keep;
    });
  }
  return out;
}
