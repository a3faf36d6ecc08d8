/**
 * The development firewall driver: the nftables driver's semantics without kernel state. Same
 * validation, same errors (NOT_SET_UP, IP_IN_USE, NOT_ALLOWED, INVALID_VALUE), same idempotence,
 * counters that only move when tests (or a simulator) report traffic with addTraffic(), and
 * decide(), which answers what the nftables rules would do with a packet.
 */
import { BaseFirewallDriver, type ClientRecord } from './base';
import {
  normalizeClient,
  normalizeOptions,
  zeroCounters,
  type AllowedClient,
  type ClientCounters,
  type ClientLimits,
  type FirewallClient,
  type FirewallOptions,
  type NormalizedClient,
  type NormalizedGardenEntry,
} from './driver';
import { FirewallError } from './errors';
import { ipv4ToInt, V } from './values';

interface Entry extends ClientRecord {
  counters: ClientCounters;
}

export interface TrafficSample {
  bytesIn?: bigint | number;
  bytesOut?: bigint | number;
  packetsIn?: bigint | number;
  packetsOut?: bigint | number;
}

export interface PacketQuestion {
  srcIp: string;
  srcMac: string;
  dstIp: string;
  protocol: 'tcp' | 'udp' | 'icmp';
  dstPort?: number;
  /** Addressed to the gateway itself (its LAN address), not forwarded. */
  toGateway?: boolean;
}

/** accept: delivered to the gateway; forward: passed on; redirect: TCP 80 sent to the portal port; reject. */
export type PacketVerdict = 'accept' | 'forward' | 'redirect' | 'reject';

/** Always open on the gateway to clients not logged in (as in the nftables driver's lan_input). */
export const GATEWAY_SERVICES: ReadonlyArray<{ protocol: 'tcp' | 'udp'; port: number }> = [
  { protocol: 'udp', port: 53 },
  { protocol: 'tcp', port: 53 },
  { protocol: 'udp', port: 67 },
];

function inGarden(
  garden: readonly NormalizedGardenEntry[],
  dstIp: string,
  protocol: string,
  port: number | undefined,
): boolean {
  const dst = ipv4ToInt(dstIp);
  return garden.some((g) => {
    const size = 2 ** (32 - g.prefix);
    const net = ipv4ToInt(g.network);
    if (dst < net || dst >= net + size) return false;
    if (g.protocols.length === 0) return true;
    return (
      port !== undefined && g.protocols.includes(protocol as 'tcp') && g.ports.some(([a, b]) => port >= a && port <= b)
    );
  });
}

const big = (v: bigint | number | undefined): bigint => {
  if (v === undefined) return 0n;
  const b = BigInt(v);
  if (b < 0n) throw new FirewallError('INVALID_VALUE', 'traffic cannot be negative', { field: 'traffic' });
  return b;
};

export class MemoryFirewallDriver extends BaseFirewallDriver<Entry> {
  readonly kind = 'memory' as const;
  private garden: NormalizedGardenEntry[] = [];
  private readonly portalPort: number;

  constructor(opts: FirewallOptions) {
    super();
    this.portalPort = normalizeOptions(opts).portalPort.value;
  }

  protected async doSetup(): Promise<void> {
    this.garden = [];
  }

  protected async doTeardown(): Promise<void> {
    this.garden = [];
  }

  protected async doAllow(c: NormalizedClient, limits: ClientLimits, cur: Entry | undefined): Promise<Entry> {
    return { mac: c.mac, limits, counters: cur?.counters ?? zeroCounters() };
  }

  protected async doRevoke(_c: NormalizedClient, cur: Entry): Promise<ClientCounters> {
    return { ...cur.counters };
  }

  protected async doList(): Promise<AllowedClient[]> {
    return [...this.clients].map(([ip, e]) => ({
      ip,
      mac: e.mac,
      limits: { ...e.limits },
      counters: { ...e.counters },
    }));
  }

  protected async doSetWalledGarden(entries: NormalizedGardenEntry[]): Promise<void> {
    this.garden = entries;
  }

  /** Reports traffic of a client, as the kernel would count it; false (nothing counted) when it is not allowed. */
  addTraffic(client: FirewallClient, sample: TrafficSample): boolean {
    const c = normalizeClient(client);
    const e = this.isReady ? this.record(c) : undefined;
    const add = {
      bytesIn: big(sample.bytesIn),
      bytesOut: big(sample.bytesOut),
      packetsIn: big(sample.packetsIn),
      packetsOut: big(sample.packetsOut),
    };
    if (!e) return false;
    e.counters.bytesIn += add.bytesIn;
    e.counters.bytesOut += add.bytesOut;
    e.counters.packetsIn += add.packetsIn;
    e.counters.packetsOut += add.packetsOut;
    return true;
  }

  /** What the nftables rules do with a packet from the LAN (before setup: everything passes, no rules). */
  decide(p: PacketQuestion): PacketVerdict {
    const src = normalizeClient({ ip: p.srcIp, mac: p.srcMac });
    const dstIp = V.ipv4(p.dstIp, 'dstIp').raw;
    if (!this.isReady) return p.toGateway ? 'accept' : 'forward';
    const allowed = this.record(src) !== undefined;
    const garden = inGarden(this.garden, dstIp, p.protocol, p.dstPort);
    if (!allowed && p.protocol === 'tcp' && p.dstPort === 80 && !garden) return 'redirect';
    if (p.toGateway) {
      if (allowed || p.protocol === 'icmp') return 'accept';
      if (p.protocol === 'tcp' && p.dstPort === this.portalPort) return 'accept';
      return GATEWAY_SERVICES.some((s) => s.protocol === p.protocol && s.port === p.dstPort) ? 'accept' : 'reject';
    }
    return allowed || garden ? 'forward' : 'reject';
  }
}
