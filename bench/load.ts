/**
 * The load generator: the project's RadiusClient with a fixed number of requests in flight.
 * Identical for both servers: the same requests in the same order, only host/port differ.
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PacketCode, RadiusClient, RadiusTimeoutError, type RadiusAttribute } from '../src/radius';
import { password, username } from './db';

export interface Latency {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PhaseResult {
  name: string;
  requests: number;
  concurrency: number;
  wallMs: number;
  /** Answered requests of the expected kind per second of wall time. */
  perSecond: number;
  ok: number;
  /** Access-Reject (for auth: every reject is an error here). */
  rejects: number;
  timeouts: number;
  /** Anything else: unexpected reply code, socket error. */
  errors: number;
  /** Requests that needed more than one transmission (a datagram was lost somewhere). */
  retransmitted: number;
  latencyMs: Latency;
  /** First reply-message / error texts seen, for the report. */
  samples: string[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(values: number[]): Latency {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    min: s[0] ?? NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

export interface Target {
  host: string;
  authPort: number;
  acctPort: number;
  secret: string;
}

/** Timeouts as radclient -t 5 -r 3: three transmissions, 5 s apart. */
const SCHEDULE = [5000, 5000, 5000];

function client(t: Target, port: number): RadiusClient {
  return new RadiusClient({
    host: t.host,
    port,
    secret: t.secret,
    retransmit: SCHEDULE,
    recvBufferSize: 4 * 1024 * 1024,
  });
}

/** The attributes a MikroTik hotspot sends with a login (apart from User-Name/User-Password). */
export function authExtras(i: number): RadiusAttribute[] {
  return [
    { name: 'NAS-IP-Address', value: '127.0.0.1' },
    { name: 'NAS-Identifier', value: 'bench-router' },
    { name: 'NAS-Port-Type', value: 'Wireless-802.11' },
    { name: 'Service-Type', value: 'Login-User' },
    { name: 'Calling-Station-Id', value: mac(i) },
    { name: 'Called-Station-Id', value: 'hotspot1' },
  ];
}

export function mac(i: number): string {
  const n = i % 1000;
  return `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0').toUpperCase()}:${(n & 255).toString(16).padStart(2, '0').toUpperCase()}`;
}

type Outcome = 'ok' | 'reject' | 'timeout' | 'error';

async function run(
  name: string,
  n: number,
  concurrency: number,
  send: (i: number) => Promise<{ outcome: Outcome; rttMs: number; attempts: number; note?: string }>,
): Promise<PhaseResult> {
  const rtts: number[] = [];
  const counts = { ok: 0, reject: 0, timeout: 0, error: 0 };
  let retransmitted = 0;
  const samples: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const r = await send(i);
      counts[r.outcome]++;
      if (r.attempts > 1) retransmitted++;
      if (r.outcome === 'ok') rtts.push(r.rttMs);
      if (r.note && samples.length < 3 && !samples.includes(r.note)) samples.push(r.note);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const wallMs = performance.now() - t0;
  return {
    name,
    requests: n,
    concurrency,
    wallMs,
    perSecond: counts.ok / (wallMs / 1000),
    ok: counts.ok,
    rejects: counts.reject,
    timeouts: counts.timeout,
    errors: counts.error,
    retransmitted,
    latencyMs: summarize(rtts),
    samples,
  };
}

function failure(err: unknown): { outcome: Outcome; rttMs: number; attempts: number; note: string } {
  if (err instanceof RadiusTimeoutError)
    return { outcome: 'timeout', rttMs: err.elapsedMs, attempts: err.attempts, note: 'timeout' };
  return { outcome: 'error', rttMs: 0, attempts: 1, note: String((err as Error)?.message ?? err) };
}

function replyMessage(attrs: readonly RadiusAttribute[]): string {
  const m = attrs.find((a) => 'name' in a && a.name === 'Reply-Message');
  return m && 'value' in m ? String(m.value) : '';
}

/** PAP over the 1,000 users, round robin; every reply must be an Access-Accept. */
export async function authPhase(
  t: Target,
  name: string,
  n: number,
  concurrency: number,
  offset = 0,
): Promise<PhaseResult> {
  const c = client(t, t.authPort);
  try {
    return await run(name, n, concurrency, async (i) => {
      const k = i + offset;
      try {
        const r = await c.accessRequestPap(username(k), password(k), authExtras(k));
        if (r.packet.code === PacketCode.AccessAccept) return { outcome: 'ok', rttMs: r.rttMs, attempts: r.attempts };
        if (r.packet.code === PacketCode.AccessReject) {
          return {
            outcome: 'reject',
            rttMs: r.rttMs,
            attempts: r.attempts,
            note: `reject ${username(k)}: ${replyMessage(r.packet.attributes)}`,
          };
        }
        return { outcome: 'error', rttMs: r.rttMs, attempts: r.attempts, note: `reply code ${r.packet.code}` };
      } catch (err) {
        return failure(err);
      }
    });
  } finally {
    await c.close();
  }
}

export type AcctKind = 'Start' | 'Interim-Update' | 'Stop';

/** The accounting packet of session `i` (user i % 1000) as a MikroTik hotspot sends it. */
export function acctAttributes(kind: AcctKind, tag: string, i: number): RadiusAttribute[] {
  const attrs: RadiusAttribute[] = [
    { name: 'Acct-Status-Type', value: kind },
    { name: 'User-Name', value: username(i) },
    { name: 'Acct-Session-Id', value: `${tag}${i.toString(16).padStart(8, '0')}` },
    { name: 'NAS-IP-Address', value: '127.0.0.1' },
    { name: 'NAS-Identifier', value: 'bench-router' },
    { name: 'NAS-Port', value: 15728640 + (i % 4096) },
    { name: 'NAS-Port-Id', value: 'bridge-hotspot' },
    { name: 'NAS-Port-Type', value: 'Wireless-802.11' },
    { name: 'Service-Type', value: 'Login-User' },
    { name: 'Acct-Authentic', value: 'RADIUS' },
    { name: 'Calling-Station-Id', value: mac(i) },
    { name: 'Called-Station-Id', value: 'hotspot1' },
    { name: 'Framed-IP-Address', value: `10.5.${(i >> 8) & 255}.${i & 255 || 1}` },
    { name: 'Acct-Delay-Time', value: 0 },
  ];
  if (kind !== 'Start') {
    const stop = kind === 'Stop';
    attrs.push(
      { name: 'Acct-Session-Time', value: stop ? 600 : 300 },
      { name: 'Acct-Input-Octets', value: stop ? 2_000_000 : 1_000_000 },
      { name: 'Acct-Output-Octets', value: stop ? 8_000_000 : 4_000_000 },
      { name: 'Acct-Input-Gigawords', value: 0 },
      { name: 'Acct-Output-Gigawords', value: 0 },
      { name: 'Acct-Input-Packets', value: stop ? 2000 : 1000 },
      { name: 'Acct-Output-Packets', value: stop ? 8000 : 4000 },
    );
    if (stop) attrs.push({ name: 'Acct-Terminate-Cause', value: 'User-Request' });
  }
  return attrs;
}

export async function acctPhase(
  t: Target,
  kind: AcctKind,
  tag: string,
  n: number,
  concurrency: number,
): Promise<PhaseResult> {
  const c = client(t, t.acctPort);
  try {
    return await run(`acct ${kind}`, n, concurrency, async (i) => {
      try {
        const r = await c.accounting(acctAttributes(kind, tag, i));
        if (r.packet.code === PacketCode.AccountingResponse)
          return { outcome: 'ok', rttMs: r.rttMs, attempts: r.attempts };
        return { outcome: 'error', rttMs: r.rttMs, attempts: r.attempts, note: `reply code ${r.packet.code}` };
      } catch (err) {
        return failure(err);
      }
    });
  } finally {
    await c.close();
  }
}

/**
 * Wait until the server answers an Access-Request (Lango admits 127.0.0.1 as a dynamic client:
 * the first packets are dropped while it is looked up, and at most one new client per second).
 * Returns the reply attribute names of the Accept.
 */
export async function waitUntilAnswering(t: Target, timeoutMs = 20000): Promise<string[]> {
  // The same packet is retransmitted (not a new one with another id): the server treats the
  // copies as duplicates of one request instead of "conflicting packets".
  const c = new RadiusClient({
    host: t.host,
    port: t.authPort,
    secret: t.secret,
    retransmit: [250, 250, 250, 250, 250, 250, 250, 250],
  });
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const r = await c.accessRequestPap(username(0), password(0), authExtras(0));
        if (r.packet.code !== PacketCode.AccessAccept) {
          throw new Error(
            `warm-up login of ${username(0)} got code ${r.packet.code}: ${replyMessage(r.packet.attributes)}`,
          );
        }
        return r.packet.attributes.map((a) => ('name' in a ? a.name : `type-${a.type}`));
      } catch (err) {
        if (!(err instanceof RadiusTimeoutError) || Date.now() > until) throw err;
      }
    }
  } finally {
    await c.close();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The Node loopback UDP floor: an echo server in a child process, one datagram at a time       */
/* ------------------------------------------------------------------------------------------ */

export interface FloorResult {
  requests: number;
  perSecond: number;
  latencyUs: Latency;
}

export async function udpFloor(n: number): Promise<FloorResult> {
  const child = fork(path.join(__dirname, 'udp-echo.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number((m as { port: number }).port)));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`udp-echo exited with ${code}`)));
    });
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const payload = Buffer.alloc(64, 1);
    const rtts: number[] = [];
    let pending: (() => void) | undefined;
    sock.on('message', () => pending?.());
    const once = (): Promise<number> =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        pending = () => resolve(performance.now() - t0);
        sock.send(payload, port, '127.0.0.1');
      });
    for (let i = 0; i < 500; i++) await once(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < n; i++) rtts.push((await once()) * 1000);
    const wall = performance.now() - t0;
    sock.close();
    return { requests: n, perSecond: n / (wall / 1000), latencyUs: summarize(rtts) };
  } finally {
    child.kill();
  }
}
