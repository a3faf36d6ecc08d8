/**
 * MikroTik rate-limit strings ("rx[/tx] [burst-rx[/burst-tx] [thr-rx[/thr-tx] [time-rx[/time-tx]
 * [priority] [min-rx[/min-tx]]]]]"); rx is the client's upload, tx its download. We validate
 * the grammar and derive WISPr-Bandwidth-Max-Up/Down (bits per second) from the first pair for
 * NAS that do not speak MikroTik.
 */
const RATE = /^(\d+)([kKmMgG]?)$/;

export function parseRate(s: string): number | null {
  const m = RATE.exec(s);
  if (!m) return null;
  const mult = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 }[m[2] as '' | 'k'] ?? 1;
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : null;
}

function pair(s: string, parse: (x: string) => number | null): [number, number] | null {
  const parts = s.split('/');
  if (parts.length > 2) return null;
  const a = parse(parts[0]!);
  const b = parts.length === 2 ? parse(parts[1]!) : a;
  return a === null || b === null ? null : [a, b];
}

export interface RateLimit {
  uploadBps: number;
  downloadBps: number;
}

export function parseRateLimit(s: string): RateLimit | null {
  if (s.length > 128) return null;
  const parts = s.trim().split(/\s+/);
  if (parts.length === 0 || parts.length > 6) return null;
  const base = pair(parts[0]!, parseRate);
  if (!base) return null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (i === 4) {
      if (!/^[1-8]$/.test(p)) return null;
    } else if (i === 3) {
      if (!pair(p, (x) => (/^\d+$/.test(x) ? Number(x) : null))) return null;
    } else if (!pair(p, parseRate)) return null;
  }
  return { uploadBps: base[0], downloadBps: base[1] };
}
