/**
 * What an Access-Accept (or a CoA) asks of the gateway, read from its attributes: the session's
 * limits (Session-Timeout, Idle-Timeout, Mikrotik-Total-Limit with its Gigawords part,
 * Acct-Interim-Interval) and its rate (Mikrotik-Rate-Limit "rx/tx ...", rx = the client's
 * upload; else WISPr-Bandwidth-Max-Up/Down in bit/s). Unknown or malformed values are ignored,
 * as a NAS does (the Accept still logs the client in).
 */
import { parseRateLimit } from '../modules/plans/rate-limit';
import { getAttributes, getNumber, getString, type RadiusAttribute } from '../radius';
import type { ClientLimits } from './firewall';

export interface SessionPolicy {
  /** Seconds. */
  sessionTimeout?: number;
  idleTimeout?: number;
  interimInterval?: number;
  /** Upload + download bytes. */
  totalLimit?: bigint;
  limits: ClientLimits;
  /** Class attributes to echo in accounting. */
  classes: Buffer[];
}

const TWO_32 = 0x1_0000_0000n;

/** The rate a set of attributes asks for; undefined when it names none. */
export function rateFrom(attrs: readonly RadiusAttribute[]): ClientLimits | undefined {
  const mt = getString(attrs, 'Mikrotik-Rate-Limit');
  const parsed = mt === undefined ? null : parseRateLimit(mt);
  if (parsed) return { uploadBps: parsed.uploadBps, downloadBps: parsed.downloadBps };
  const up = getNumber(attrs, 'WISPr-Bandwidth-Max-Up');
  const down = getNumber(attrs, 'WISPr-Bandwidth-Max-Down');
  if (up === undefined && down === undefined) return undefined;
  return { uploadBps: up ?? 0, downloadBps: down ?? 0 };
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && n > 0 ? n : undefined;
}

export function policyFromReply(attrs: readonly RadiusAttribute[]): SessionPolicy {
  const policy: SessionPolicy = { limits: rateFrom(attrs) ?? { uploadBps: 0, downloadBps: 0 }, classes: [] };
  const st = positive(getNumber(attrs, 'Session-Timeout'));
  if (st !== undefined) policy.sessionTimeout = st;
  const it = positive(getNumber(attrs, 'Idle-Timeout'));
  if (it !== undefined) policy.idleTimeout = it;
  const ii = positive(getNumber(attrs, 'Acct-Interim-Interval'));
  // RFC 2869 5.16: not more often than every 60 s.
  if (ii !== undefined) policy.interimInterval = Math.max(60, ii);
  const low = getNumber(attrs, 'Mikrotik-Total-Limit');
  const high = getNumber(attrs, 'Mikrotik-Total-Limit-Gigawords');
  if (low !== undefined || high !== undefined) {
    const total = BigInt(high ?? 0) * TWO_32 + BigInt(low ?? 0);
    if (total > 0n) policy.totalLimit = total;
  }
  policy.classes = getAttributes(attrs, 'Class').filter((c): c is Buffer => Buffer.isBuffer(c));
  return policy;
}
