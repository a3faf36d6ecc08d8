/**
 * IP networks: the one parser for the CIDR lists of the configuration (the FreeRADIUS dynamic
 * client networks, the enforcement target networks) and the one matcher that decides whether
 * Lango may send a packet to an address (CoA/Disconnect, the RouterOS API fallback).
 *
 * NAS addresses, CoA ports and API ports are written by tenants; without this check the worker
 * would send UDP and open TCP connections wherever a tenant points it (the metadata service,
 * the database, anything on the operator's internal network).
 */
import net from 'node:net';

export interface Network {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

/**
 * Parses "10.0.0.0/8" or "fd00::/8" (IPv4 in dotted-quad form only). `singleHost: false` is the
 * dynamic-client rule: FreeRADIUS refuses a single address (/32, /128) for `dynamic_clients`.
 */
export function parseNetwork(cidr: string, opts: { singleHost?: boolean } = {}): Network {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr.trim());
  const address = m?.[1] ?? '';
  const prefix = Number(m?.[2]);
  const family = net.isIPv4(address) && /^\d+(\.\d+){3}$/.test(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
  if (!m || family === null) throw new NetworkError(`"${cidr}" is not a CIDR network such as 10.0.0.0/8 or fd00::/8`);
  const max = family === 'ipv4' ? 32 : 128;
  if (prefix > max) throw new NetworkError(`"${cidr}": prefix length must be at most ${max}`);
  if (prefix === max && opts.singleHost === false) {
    throw new NetworkError(
      `"${cidr}" is a single address: FreeRADIUS refuses /${max} for dynamic clients; use a wider network (e.g. /${max - 1}) and add the NAS to the nas table`,
    );
  }
  return { address, prefix, family };
}

export function isNetwork(cidr: string): boolean {
  try {
    parseNetwork(cidr);
    return true;
  } catch (err) {
    if (err instanceof NetworkError) return false;
    throw err;
  }
}

/** A FreeRADIUS dynamic-client network (no single hosts), as clients.conf writes it. */
export function parseClientNetwork(cidr: string): string {
  const n = parseNetwork(cidr, { singleHost: false });
  return `${n.address}/${n.prefix}`;
}

/**
 * Where Lango may send CoA/Disconnect and RouterOS API requests: addresses inside `networks`,
 * never unspecified, broadcast, multicast or link-local ones (169.254.169.254 is the cloud
 * metadata service), and loopback only when `allowLoopback` (development and tests, whose NAS
 * simulators listen on 127.0.0.x; never in production) and the networks include it.
 */
export interface TargetPolicy {
  readonly networks: readonly string[];
  readonly allowLoopback: boolean;
}

const SPECIAL: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['255.255.255.255', 32, 'ipv4', 'broadcast'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['ff00::', 8, 'ipv6', 'multicast'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['fe80::', 10, 'ipv6', 'link-local'],
];
const LOOPBACK: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
];

function blockList(entries: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6', ...unknown[]]>): net.BlockList {
  const list = new net.BlockList();
  for (const [address, prefix, family] of entries) list.addSubnet(address, prefix, family);
  return list;
}

/**
 * The policy, compiled once. net.BlockList matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1)
 * against IPv4 rules, so the mapped form is no way around a rule.
 */
export class TargetGuard {
  private readonly allowed: net.BlockList;
  private readonly special = SPECIAL.map(([address, prefix, family, label]) => ({
    list: blockList([[address, prefix, family]]),
    label,
  }));
  private readonly loopback = blockList(LOOPBACK);

  constructor(private readonly policy: TargetPolicy) {
    this.allowed = blockList(
      policy.networks.map((cidr) => {
        const n = parseNetwork(cidr);
        return [n.address, n.prefix, n.family] as const;
      }),
    );
  }

  /** Why `address` must not be contacted, or null when it may be. */
  refusal(address: string): string | null {
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    if (family === null) return 'not an IP address';
    for (const s of this.special) if (s.list.check(address, family)) return `${s.label} address`;
    if (!this.policy.allowLoopback && this.loopback.check(address, family))
      return 'loopback address (refused in production)';
    return this.allowed.check(address, family) ? null : 'outside the enforcement target networks';
  }
}
