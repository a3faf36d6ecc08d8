/**
 * The firewall driver of `lango gateway` (the local NAS): what the gateway asks of the box's
 * packet filter. Two implementations: `nftables` (production, src/gateway/firewall/nftables.ts)
 * and `memory` (development and unit tests, no kernel state, src/gateway/firewall/memory.ts).
 *
 * Direction convention (one for the whole gateway, the RADIUS one, RFC 2866 5.3/5.4):
 *   in  = from the client = upload   -> Acct-Input-Octets / Acct-Input-Packets (+ Gigawords)
 *   out = to the client   = download -> Acct-Output-Octets / Acct-Output-Packets
 * RouterOS's manual says both this and "output is user upload" (reference/protocols.md 2.3);
 * MikroTik's rate-limit "rx/tx" is upload/download from the router's side, i.e. the same as ours
 * (src/services/rate-limit.ts). Rates are bits per second, like Mikrotik-Rate-Limit and
 * WISPr-Bandwidth-Max-Up/Down.
 *
 * A client is identified by its IPv4 address; the MAC is part of the authorisation (a packet
 * from the right IP with another MAC is not let through). One IP is one session: allowing an IP
 * that is allowed for another MAC is refused (IP_IN_USE), so the gateway stops the old session
 * (with its counters) first.
 *
 * All methods may be called concurrently; drivers serialise them. setup() puts the firewall in
 * its initial state (nothing allowed, empty walled garden) whatever was there before, so a
 * restart after a crash converges: it is the NAS-reboot case, the gateway then sends
 * Accounting-On. teardown() removes everything the driver made. Both are idempotent.
 */
import { FirewallError } from './errors';
import { Safe, V } from './values';

export interface FirewallClient {
  /** MAC address, any of aa:bb:cc:dd:ee:ff / AA-BB-CC-DD-EE-FF; reported lower case with colons. */
  mac: string;
  /** IPv4 address (dotted quad). */
  ip: string;
}

export interface ClientLimits {
  /** Upload (from the client, "in") in bits per second; 0 = not limited. */
  uploadBps: number;
  /** Download (to the client, "out") in bits per second; 0 = not limited. */
  downloadBps: number;
  /** Token bucket depth in bytes for both directions (how much may pass at line rate after an
   *  idle moment); absent: 10 ms at the rate (at least two full frames). */
  burstBytes?: number;
}

/** Counters since allow(). Bigints: they pass 2^32 (RADIUS carries them as Gigawords + Octets).
 *  Bytes are IP packet bytes (headers included, link layer excluded), counted as the gateway
 *  forwards them; traffic between the client and the gateway itself (DNS, portal) is not counted. */
export interface ClientCounters {
  bytesIn: bigint;
  bytesOut: bigint;
  packetsIn: bigint;
  packetsOut: bigint;
}

export interface AllowedClient extends FirewallClient {
  /** null: the kernel has this client but this driver instance did not put it there. */
  limits: ClientLimits | null;
  counters: ClientCounters;
}

/**
 * Reachable before login. `address`: an IPv4 address or CIDR network. Without `ports`, every
 * protocol and port to that address; with `ports` (single ports or [from, to] ranges), only
 * those, for `protocol` (default: both tcp and udp).
 */
export interface WalledGardenEntry {
  address: string;
  protocol?: 'tcp' | 'udp';
  ports?: ReadonlyArray<number | readonly [number, number]>;
}

export interface FirewallDriver {
  readonly kind: 'nftables' | 'memory';
  /** Initial state: nothing allowed, empty walled garden; replaces whatever the driver left. */
  setup(): Promise<void>;
  /** Removes everything the driver made (tables, qdiscs). Safe to call when nothing is there. */
  teardown(): Promise<void>;
  /** Lets the client through with these limits. Again for an allowed client: new limits, counters kept. */
  allow(client: FirewallClient, limits: ClientLimits): Promise<void>;
  /** Changes the limits of an allowed client live (CoA); NOT_ALLOWED when it is not allowed. */
  updateLimits(client: FirewallClient, limits: ClientLimits): Promise<void>;
  /** Blocks the client again and returns its final counters (null: it was not allowed). */
  revoke(client: FirewallClient): Promise<ClientCounters | null>;
  /** null when the client is not allowed. */
  counters(client: FirewallClient): Promise<ClientCounters | null>;
  /** Every allowed client with its counters, read at once (interim accounting for all sessions). */
  listAllowed(): Promise<AllowedClient[]>;
  /** Replaces the walled garden. DNS, DHCP and the portal port on the gateway are always reachable. */
  setWalledGarden(entries: readonly WalledGardenEntry[]): Promise<void>;
}

/** The configuration every driver takes (the gateway's config maps onto it). */
export interface FirewallOptions {
  /** The interface the hotspot clients are on (a bridge such as br-lan on a real box). */
  lanInterface: string;
  /** The uplink: masquerade and upload shaping happen here. */
  wanInterface: string;
  /** Local TCP port of the captive portal; TCP 80 of clients not logged in is redirected to it. */
  portalPort: number;
}

/** The largest rate accepted (100 Gbit/s); beyond it the value is surely a mistake. */
export const MAX_RATE_BPS = 100_000_000_000;
export const MAX_BURST_BYTES = 1_000_000_000;

/** The options as Safe values; the same checks for every driver, so a configuration that works with memory works with nftables. */
export function normalizeOptions(opts: FirewallOptions): { lan: Safe; wan: Safe; portalPort: Safe } {
  const lan = V.iface(opts.lanInterface, 'lanInterface');
  const wan = V.iface(opts.wanInterface, 'wanInterface');
  if (lan.raw === wan.raw)
    throw new FirewallError('INVALID_VALUE', 'lanInterface and wanInterface must differ', { field: 'wanInterface' });
  const portalPort = V.port(opts.portalPort, 'portalPort');
  if (portalPort.value === 53)
    throw new FirewallError('INVALID_VALUE', 'portalPort cannot be 53 (DNS on the gateway)', { field: 'portalPort' });
  return { lan, wan, portalPort };
}

export interface NormalizedClient {
  mac: string;
  ip: string;
}

export function normalizeClient(client: FirewallClient): NormalizedClient {
  if (typeof client !== 'object' || client === null)
    throw new FirewallError('INVALID_VALUE', 'client must be an object', { field: 'client' });
  return { mac: V.mac(client.mac, 'client.mac').raw, ip: V.ipv4(client.ip, 'client.ip').raw };
}

export function normalizeLimits(limits: ClientLimits): ClientLimits {
  if (typeof limits !== 'object' || limits === null)
    throw new FirewallError('INVALID_VALUE', 'limits must be an object', { field: 'limits' });
  const out: ClientLimits = {
    uploadBps: V.uint(limits.uploadBps, 0, MAX_RATE_BPS, 'limits.uploadBps').value,
    downloadBps: V.uint(limits.downloadBps, 0, MAX_RATE_BPS, 'limits.downloadBps').value,
  };
  if (limits.burstBytes !== undefined)
    out.burstBytes = V.uint(limits.burstBytes, 1, MAX_BURST_BYTES, 'limits.burstBytes').value;
  return out;
}

export interface NormalizedGardenEntry {
  /** Network address and prefix length, host bits cleared. */
  network: string;
  prefix: number;
  /** Empty: every protocol. */
  protocols: Array<'tcp' | 'udp'>;
  /** Inclusive ranges; empty with protocols empty. */
  ports: Array<[number, number]>;
}

export const MAX_GARDEN_ENTRIES = 4096;

export function normalizeGarden(entries: readonly WalledGardenEntry[]): NormalizedGardenEntry[] {
  if (!Array.isArray(entries))
    throw new FirewallError('INVALID_VALUE', 'walled garden must be a list', { field: 'walledGarden' });
  if (entries.length > MAX_GARDEN_ENTRIES)
    throw new FirewallError('INVALID_VALUE', `at most ${MAX_GARDEN_ENTRIES} walled garden entries`, {
      field: 'walledGarden',
    });
  return entries.map((e, i) => {
    const field = `walledGarden[${i}]`;
    if (typeof e !== 'object' || e === null)
      throw new FirewallError('INVALID_VALUE', 'walled garden entry must be an object', { field });
    const { network, prefix } = V.cidr4(e.address, `${field}.address`);
    if (e.ports === undefined) {
      if (e.protocol !== undefined)
        throw new FirewallError('INVALID_VALUE', 'a protocol needs ports', { field: `${field}.protocol` });
      return { network: network.raw, prefix, protocols: [], ports: [] };
    }
    const list: unknown = e.ports;
    if (!Array.isArray(list) || list.length === 0 || list.length > 64) {
      throw new FirewallError('INVALID_VALUE', 'ports must be a list of 1..64 ports or [from, to] ranges', {
        field: `${field}.ports`,
      });
    }
    const ports = (list as unknown[]).map((p, j): [number, number] => {
      const f = `${field}.ports[${j}]`;
      if (Array.isArray(p)) {
        const from = V.port(p[0], f).value;
        const to = V.port(p[1], f).value;
        if (p.length !== 2 || to < from)
          throw new FirewallError('INVALID_VALUE', 'a port range is [from, to] with from <= to', { field: f });
        return [from, to];
      }
      const one = V.port(p, f).value;
      return [one, one];
    });
    const protocols =
      e.protocol === undefined
        ? (['tcp', 'udp'] as const)
        : [V.protocol(e.protocol, `${field}.protocol`).raw as 'tcp' | 'udp'];
    return { network: network.raw, prefix, protocols: [...protocols], ports };
  });
}

export function zeroCounters(): ClientCounters {
  return { bytesIn: 0n, bytesOut: 0n, packetsIn: 0n, packetsOut: 0n };
}
