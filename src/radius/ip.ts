/** IPv4/IPv6 text <-> bytes for ipaddr, ipv6addr and ipv6prefix attributes. */
import { isIPv4, isIPv6 } from 'node:net';
import { RadiusCodecError } from './errors';

export function ipv4ToBytes(text: string): Buffer {
  if (!isIPv4(text)) throw new RadiusCodecError('INVALID_VALUE', `not an IPv4 address: ${text}`);
  return Buffer.from(text.split('.').map((part) => Number(part)));
}

export function bytesToIpv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/** Parse any valid IPv6 text form (incl. `::` and an embedded IPv4 tail) into 16 bytes. */
export function ipv6ToBytes(text: string): Buffer {
  const bare = text.split('%')[0] ?? '';
  if (!isIPv6(text)) throw new RadiusCodecError('INVALID_VALUE', `not an IPv6 address: ${text}`);
  let head = bare;
  let tail = '';
  const dbl = bare.indexOf('::');
  if (dbl >= 0) {
    head = bare.slice(0, dbl);
    tail = bare.slice(dbl + 2);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = ipv4ToBytes(piece);
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = dbl >= 0 ? [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 canonical text: lower case, longest run (>= 2) of zero groups compressed. */
export function bytesToIpv6(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** `2001:db8::/64` -> Reserved(0) PrefixLength Prefix (only the octets the length needs, RFC 3162 §2.3). */
export function ipv6PrefixToBytes(text: string): Buffer {
  const [addr, lenText, extra] = text.split('/');
  const len = Number(lenText);
  if (addr === undefined || extra !== undefined || !Number.isInteger(len) || len < 0 || len > 128) {
    throw new RadiusCodecError('INVALID_VALUE', `not an IPv6 prefix: ${text}`);
  }
  const bytes = ipv6ToBytes(addr).subarray(0, Math.ceil(len / 8));
  return Buffer.concat([Buffer.from([0, len]), bytes]);
}

export function bytesToIpv6Prefix(bytes: Uint8Array): string | undefined {
  const len = bytes[1];
  if (bytes.length < 2 || bytes.length > 18 || len === undefined || len > 128) return undefined;
  if (bytes.length - 2 < Math.ceil(len / 8)) return undefined;
  const full = Buffer.alloc(16);
  full.set(bytes.subarray(2, 2 + Math.ceil(len / 8)));
  return `${bytesToIpv6(full)}/${len}`;
}
