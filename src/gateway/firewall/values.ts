/**
 * The only way a value reaches an nft script or a tc/ip command line: a validator turns it into
 * a Safe token, and the `nft` / `tc` templates accept nothing else (the type says so and the
 * template checks it again at run time, for callers that are not TypeScript). Values come from
 * RADIUS replies, DHCP leases and configuration, so every one is hostile until it has passed
 * a strict pattern: an IPv4 address, a MAC, an interface name, an integer in range. None of the
 * accepted forms contains a quote, brace, semicolon, space or newline.
 */
import { FirewallError } from './errors';

const MINT = Symbol('firewall-safe-value');

export class Safe {
  /** Only the validators of this module can make one (MINT is not exported). */
  constructor(
    key: typeof MINT,
    /** For command arguments and tc batch lines. */
    readonly raw: string,
    /** As written in an nft script (interface names quoted). */
    readonly nft: string = raw,
    /** Numbers: the value. */
    readonly value: number = Number.NaN,
  ) {
    if (key !== MINT) throw new Error('Safe values come from the validators in values.ts');
  }
}

function invalid(field: string, what: string, value: unknown): never {
  const shown =
    typeof value === 'string' ? JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value) : String(value);
  throw new FirewallError('INVALID_VALUE', `${field} must be ${what}, got ${shown}`, { field });
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const MAC = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/;
/** Linux allows almost anything in 15 bytes; we allow what real interface names use. */
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A validated dotted quad as an unsigned integer. */
export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export const V = {
  iface(value: unknown, field: string): Safe {
    if (typeof value !== 'string' || !IFACE.test(value))
      invalid(field, 'an interface name (letters, digits, _ . -, at most 15)', value);
    return new Safe(MINT, value, `"${value}"`);
  },

  netns(value: unknown, field: string): Safe {
    if (typeof value !== 'string' || !NETNS.test(value)) invalid(field, 'a network namespace name', value);
    return new Safe(MINT, value);
  },

  ipv4(value: unknown, field: string): Safe {
    if (typeof value !== 'string' || !IPV4.test(value)) invalid(field, 'an IPv4 address', value);
    return new Safe(MINT, value);
  },

  /** An address or network; host bits are cleared (nft refuses them). */
  cidr4(value: unknown, field: string): { network: Safe; prefix: number } {
    if (typeof value !== 'string') invalid(field, 'an IPv4 address or CIDR network', value);
    const [addr, len, extra] = value.split('/');
    if (addr === undefined || extra !== undefined || !IPV4.test(addr))
      invalid(field, 'an IPv4 address or CIDR network', value);
    const prefix =
      len === undefined
        ? 32
        : /^(3[0-2]|[12]?[0-9])$/.test(len)
          ? Number(len)
          : invalid(field, 'an IPv4 address or CIDR network', value);
    const size = 2 ** (32 - prefix);
    const network = intToIpv4(Math.floor(ipv4ToInt(addr) / size) * size);
    return { network: new Safe(MINT, network, prefix === 32 ? network : `${network}/${prefix}`), prefix };
  },

  /** Lower case with colons, the form nft prints. */
  mac(value: unknown, field: string): Safe {
    if (typeof value !== 'string' || !MAC.test(value)) invalid(field, 'a MAC address (aa:bb:cc:dd:ee:ff)', value);
    return new Safe(MINT, value.toLowerCase().replace(/-/g, ':'));
  },

  uint(value: unknown, min: number, max: number, field: string): Safe {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
      invalid(field, `an integer from ${min} to ${max}`, value);
    return new Safe(MINT, String(value), String(value), value);
  },

  port(value: unknown, field: string): Safe {
    return V.uint(value, 1, 65535, field);
  },

  protocol(value: unknown, field: string): Safe {
    if (value !== 'tcp' && value !== 'udp') invalid(field, 'tcp or udp', value);
    return new Safe(MINT, value);
  },

  /** A tc class id major:minor (hex, as tc and nft write them). */
  classid(major: number, minor: number): Safe {
    V.uint(major, 1, 0xfffe, 'classid major');
    V.uint(minor, 1, 0xfffe, 'classid minor');
    const text = `${major.toString(16)}:${minor.toString(16)}`;
    return new Safe(MINT, text);
  },

  /** An nft concatenation "a . b . c" of validated parts. */
  concat(parts: readonly Safe[]): Safe {
    for (const p of parts) if (!(p instanceof Safe)) throw new Error('only validated values may be concatenated');
    return new Safe(MINT, parts.map((p) => p.raw).join(' . '), parts.map((p) => p.nft).join(' . '));
  },

  /** An nft range "from-to" of two validated numbers. */
  range(from: Safe, to: Safe): Safe {
    if (!(from instanceof Safe) || !(to instanceof Safe) || !(from.value <= to.value))
      throw new Error('a range needs two validated numbers, from <= to');
    return new Safe(MINT, `${from.raw}-${to.raw}`);
  },

  /** A tc handle "major:" for a qdisc. */
  qdiscHandle(major: number): Safe {
    V.uint(major, 1, 0xfffe, 'qdisc handle');
    return new Safe(MINT, `${major.toString(16)}:`);
  },
};

type Piece = Safe | readonly Safe[];

function render(
  strings: TemplateStringsArray,
  values: readonly Piece[],
  pick: (s: Safe) => string,
  sep: string,
): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const list = Array.isArray(v) ? v : [v];
    for (const s of list)
      if (!(s instanceof Safe))
        throw new Error('only validated values (values.ts) may be interpolated into firewall commands');
    out += list.map(pick).join(sep) + (strings[i + 1] ?? '');
  });
  return out;
}

/** An nft script fragment: `nft\`add element inet t s { ${ips} }\`` (lists are joined with ", "). */
export function nft(strings: TemplateStringsArray, ...values: Piece[]): string {
  return render(strings, values, (s) => s.nft, ', ');
}

/** A tc batch line (lists are joined with spaces). */
export function tc(strings: TemplateStringsArray, ...values: Piece[]): string {
  return render(strings, values, (s) => s.raw, ' ');
}
