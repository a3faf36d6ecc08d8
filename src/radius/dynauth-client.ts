/**
 * RFC 5176 Dynamic Authorization client (Disconnect-Request / CoA-Request), used by the
 * enforcement worker to act on live sessions at many NAS at once.
 *
 * Why not a pool of RadiusClients: a RadiusClient owns one socket per (host, port, secret).
 * The worker talks to hundreds or thousands of NAS, so a pool would hold as many sockets (and
 * 4 MiB receive buffers, and file descriptors) as there are NAS it touched lately. Here one
 * socket per address family is shared by every request to every NAS, and Identifiers are
 * allocated per destination (address, port), which RFC 5176 §2.3 / RFC 5080 §2.2.1 allow: the
 * NAS detects duplicates by (source address, source port, Identifier). Everything that is
 * protocol comes from the existing pieces: encodeRequest/verifyResponse/decodePacket (codec,
 * Message-Authenticator ordering included), IdentifierAllocator, backoffSchedule.
 *
 * Per request:
 *  - attributes: Message-Authenticator (first), identification (User-Name, Acct-Session-Id,
 *    Framed-IP-Address, NAS-IP-Address, NAS-Identifier), Event-Timestamp, then extra attributes
 *    (CoA only; a Disconnect-Request may carry identification attributes only, RFC 5176 §3);
 *  - the packet is encoded once; every retransmission sends the identical bytes (same Identifier,
 *    Request Authenticator and Event-Timestamp) from the same socket, i.e. the same source port;
 *  - the schedule is RFC 5080 backoff with FreeRADIUS's CoA defaults (irt 2 s, mrt 16 s, mrc 5,
 *    mrd 30 s), jittered per request;
 *  - a reply counts only if it comes from the address and port the request went to, carries a
 *    pending Identifier, has an expected code and a valid Response Authenticator (and a valid
 *    Message-Authenticator when present) for the target's secret. Anything else is dropped,
 *    logged with logger.warn('dynauth reply dropped') and counted; it never settles a request,
 *    so a NAS that answers garbage only ever delays its own requests until their timeout.
 *
 * Results are ack | nak (with Error-Cause) | timeout. send() rejects only for programming
 * errors (bad arguments), an aborted signal (with signal.reason), a local send error, or close().
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isNamedAttribute, type RadiusAttribute } from './attributes';
import { backoffSchedule, type BackoffOptions } from './backoff';
import {
  decodePacket,
  encodeRequest,
  PacketCode,
  verifyResponse,
  type EncodedPacket,
  type RadiusPacket,
  type Secret,
} from './codec';
import { DEFAULT_RECV_BUFFER_SIZE, type DropReason } from './client';
import { attributeValueName, findAttribute, type Dictionary } from './dictionary';
import { RadiusClientClosedError, RadiusCodecError } from './errors';
import { IdentifierAllocator } from './id-allocator';
import { ipv6ToBytes } from './ip';

export interface DynAuthTarget {
  /** NAS address (IP literal or name) and its CoA port (RouterOS: 3799 once `/radius incoming` accepts). */
  readonly host: string;
  readonly port: number;
  /** The NAS's shared secret (the one it expects from our source address). */
  readonly secret: Secret;
}

export type DynAuthKind = 'disconnect' | 'coa';

export interface DynAuthRequest {
  readonly kind: DynAuthKind;
  readonly userName?: string;
  readonly acctSessionId?: string;
  readonly framedIpAddress?: string;
  readonly nasIpAddress?: string;
  readonly nasIdentifier?: string;
  /**
   * Extra attributes, e.g. `{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }` for a CoA. For a
   * Disconnect only identification attributes are accepted (anything else throws).
   */
  readonly attributes?: readonly RadiusAttribute[];
  /** Event-Timestamp in Unix seconds. Default: now. */
  readonly eventTimestamp?: number;
}

export type DynAuthResult =
  | { readonly outcome: 'ack'; readonly rttMs: number; readonly attempts: number }
  | {
      readonly outcome: 'nak';
      readonly errorCause?: number;
      readonly errorCauseName?: string;
      readonly rttMs: number;
      readonly attempts: number;
    }
  | { readonly outcome: 'timeout'; readonly attempts: number; readonly elapsedMs: number };

export type DynAuthSchedule = Pick<BackoffOptions, 'irt' | 'mrt' | 'mrc' | 'mrd'>;

/** FreeRADIUS `home_server { type = coa; coa { irt = 2; mrt = 16; mrc = 5; mrd = 30 } }`. */
export const DEFAULT_DYNAUTH_SCHEDULE: DynAuthSchedule = Object.freeze({ irt: 2, mrt: 16, mrc: 5, mrd: 30 });

/** The subset of a pino logger used here. */
export interface DynAuthLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DynAuthClientOptions {
  /** SO_RCVBUF of the shared sockets. Default 4 MiB (capped by net.core.rmem_max). */
  readonly recvBufferSize?: number;
  /** Local address to send from (its family decides which targets are reachable). */
  readonly bindAddress?: string;
  /** Retransmission schedule in seconds (RFC 5080). Default DEFAULT_DYNAUTH_SCHEDULE. */
  readonly schedule?: DynAuthSchedule;
  readonly logger?: DynAuthLogger;
  /** Drop replies without a Message-Authenticator. Default false (RouterOS and FreeRADIUS 3.2.1 send none). */
  readonly requireMessageAuthenticator?: boolean;
  /** Forget a destination's Identifier state after this long without requests. Default 60 s. */
  readonly idleDestinationMs?: number;
  readonly dictionary?: Dictionary;
  /** Called for every dropped datagram, after it is logged. */
  readonly onDrop?: (reason: DropReason, from: { address: string; port: number }) => void;
}

export interface DynAuthSendOptions {
  readonly signal?: AbortSignal;
}

export interface DynAuthStats {
  requests: number;
  transmissions: number;
  acks: number;
  naks: number;
  timeouts: number;
  dropped: number;
}

/** NAS identification (RFC 5176 §3). */
const NAS_IDENTIFICATION = ['nas-ip-address', 'nas-identifier', 'nas-ipv6-address'];
/** Session identification (RFC 5176 §3); Vendor-Specific may identify a session too. */
const SESSION_IDENTIFICATION = [
  'user-name',
  'nas-port',
  'framed-ip-address',
  'called-station-id',
  'calling-station-id',
  'acct-session-id',
  'acct-multi-session-id',
  'nas-port-id',
  'chargeable-user-identity',
  'framed-interface-id',
  'framed-ipv6-prefix',
];
/** Allowed in a Disconnect-Request besides identification. */
const DISCONNECT_EXTRAS = ['event-timestamp', 'message-authenticator', 'proxy-state'];

const TYPE_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['nas-ip-address', 4],
  ['nas-identifier', 32],
  ['nas-ipv6-address', 95],
  ['user-name', 1],
  ['nas-port', 5],
  ['framed-ip-address', 8],
  ['called-station-id', 30],
  ['calling-station-id', 31],
  ['acct-session-id', 44],
  ['acct-multi-session-id', 50],
  ['nas-port-id', 87],
  ['chargeable-user-identity', 89],
  ['framed-interface-id', 96],
  ['framed-ipv6-prefix', 97],
  ['event-timestamp', 55],
  ['message-authenticator', 80],
  ['proxy-state', 33],
]);

/** Lower-case standard attribute name of a (named or raw) attribute, undefined for VSAs/unknowns. */
function standardName(attr: RadiusAttribute, dictionary: Dictionary | undefined): string | undefined {
  if (isNamedAttribute(attr)) {
    const def = findAttribute(attr.name, dictionary);
    return def && def.vendor === undefined ? def.name.toLowerCase() : undefined;
  }
  if (attr.vendor !== undefined) return undefined;
  for (const [name, type] of TYPE_BY_NAME) if (type === attr.type) return name;
  return undefined;
}

/** Build the attribute list of a request (Message-Authenticator is added first by the codec). */
export function buildDynAuthAttributes(req: DynAuthRequest, dictionary?: Dictionary): RadiusAttribute[] {
  if (req.kind !== 'disconnect' && req.kind !== 'coa') {
    throw new RadiusCodecError('INVALID_ARGUMENT', `unknown dynauth kind ${String(req.kind)}`);
  }
  const attrs: RadiusAttribute[] = [];
  if (req.userName !== undefined) attrs.push({ name: 'User-Name', value: req.userName });
  if (req.acctSessionId !== undefined) attrs.push({ name: 'Acct-Session-Id', value: req.acctSessionId });
  if (req.framedIpAddress !== undefined) attrs.push({ name: 'Framed-IP-Address', value: req.framedIpAddress });
  if (req.nasIpAddress !== undefined) attrs.push({ name: 'NAS-IP-Address', value: req.nasIpAddress });
  if (req.nasIdentifier !== undefined) attrs.push({ name: 'NAS-Identifier', value: req.nasIdentifier });
  const extra = req.attributes ?? [];
  const names = extra.map((a) => standardName(a, dictionary));
  if (names.includes('event-timestamp') || names.includes('message-authenticator')) {
    throw new RadiusCodecError('INVALID_ARGUMENT', 'Event-Timestamp and Message-Authenticator are added by the client');
  }
  if (req.kind === 'disconnect') {
    extra.forEach((a, i) => {
      const n = names[i];
      const vsa = !isNamedAttribute(a) ? a.vendor !== undefined || a.type === 26 : n === undefined;
      const ok = n !== undefined && (SESSION_IDENTIFICATION.includes(n) || NAS_IDENTIFICATION.includes(n) || DISCONNECT_EXTRAS.includes(n));
      if (!ok && !vsa) {
        const label = isNamedAttribute(a) ? a.name : `attribute ${a.type}`;
        throw new RadiusCodecError('INVALID_ARGUMENT', `${label} is not an identification attribute; Disconnect-Request carries identification only`);
      }
    });
  }
  const hasSessionId =
    req.userName !== undefined ||
    req.acctSessionId !== undefined ||
    req.framedIpAddress !== undefined ||
    names.some((n) => n !== undefined && SESSION_IDENTIFICATION.includes(n));
  if (!hasSessionId) {
    throw new RadiusCodecError('INVALID_ARGUMENT', 'a dynauth request needs session identification (User-Name, Acct-Session-Id or Framed-IP-Address)');
  }
  const ts = req.eventTimestamp ?? Math.floor(Date.now() / 1000);
  attrs.push({ name: 'Event-Timestamp', value: ts });
  attrs.push(...extra);
  return attrs;
}

type Family = 4 | 6;

interface Pending {
  readonly request: EncodedPacket;
  readonly secret: Secret;
  readonly family: Family;
  readonly settle: (outcome: { packet: RadiusPacket } | { error: unknown }) => void;
}

interface Destination {
  readonly key: string;
  readonly ids: IdentifierAllocator;
  readonly pending: Map<number, Pending>;
  lastUsed: number;
}

interface Shared {
  readonly socket: Socket;
  readonly family: Family;
  pending: number;
}

/** Stable text for an address as the socket reports it (IPv6 by its bytes, IPv4-mapped unwrapped). */
function addressKey(address: string): string {
  const bare = address.split('%')[0] ?? address;
  if (bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4) return bare.slice(7);
  return isIP(bare) === 6 ? ipv6ToBytes(bare).toString('hex') : bare;
}

export class DynAuthClient {
  private readonly sockets = new Map<Family, Promise<Shared>>();
  private readonly destinations = new Map<string, Destination>();
  private readonly schedule: DynAuthSchedule;
  private readonly idleMs: number;
  private lastSweep = 0;
  private closed = false;
  private readonly counters: DynAuthStats = { requests: 0, transmissions: 0, acks: 0, naks: 0, timeouts: 0, dropped: 0 };

  constructor(private readonly opts: DynAuthClientOptions = {}) {
    this.schedule = opts.schedule ?? DEFAULT_DYNAUTH_SCHEDULE;
    backoffSchedule(this.schedule); // validate now rather than on the first send
    this.idleMs = opts.idleDestinationMs ?? 60_000;
    if (opts.bindAddress !== undefined && isIP(opts.bindAddress) === 0) {
      throw new RadiusCodecError('INVALID_ARGUMENT', `bindAddress must be an IP address, got ${opts.bindAddress}`);
    }
  }

  /** Counters since construction (a copy). */
  stats(): DynAuthStats {
    return { ...this.counters };
  }

  /** Requests awaiting a reply, over all destinations. */
  get inFlight(): number {
    let n = 0;
    for (const d of this.destinations.values()) n += d.pending.size;
    return n;
  }

  /** Local address of the shared socket of a family, once it exists. */
  async address(family: Family = 4): Promise<{ address: string; port: number } | undefined> {
    const shared = this.sockets.get(family);
    if (!shared) return undefined;
    const a = (await shared).socket.address();
    return { address: a.address, port: a.port };
  }

  /** Send a Disconnect-Request or CoA-Request and wait for ACK, NAK or the end of the schedule. */
  async send(target: DynAuthTarget, req: DynAuthRequest, options: DynAuthSendOptions = {}): Promise<DynAuthResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.closed) throw new RadiusClientClosedError();
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new RadiusCodecError('INVALID_ARGUMENT', `bad port ${target.port}`);
    }
    const attributes = buildDynAuthAttributes(req, this.opts.dictionary);
    const code = req.kind === 'disconnect' ? PacketCode.DisconnectRequest : PacketCode.CoARequest;
    const delays = backoffSchedule(this.schedule);
    const { address, family } = await this.resolve(target.host);
    const shared = await this.socketFor(family);
    signal?.throwIfAborted();
    if (this.closed) throw new RadiusClientClosedError();
    const dest = this.destination(address, target.port);
    const id = await dest.ids.acquire(signal);
    if (this.closed) {
      dest.ids.release(id);
      throw new RadiusClientClosedError();
    }
    let request: EncodedPacket;
    try {
      request = encodeRequest({
        code,
        identifier: id,
        secret: target.secret,
        attributes,
        addMessageAuthenticator: true,
        ...(this.opts.dictionary ? { dictionary: this.opts.dictionary } : {}),
      });
    } catch (err) {
      dest.ids.release(id);
      throw err;
    }
    this.counters.requests++;
    const { packet, attempts, rttMs, elapsedMs } = await this.transmit(shared, dest, address, target, request, delays, signal);
    if (!packet) {
      this.counters.timeouts++;
      return { outcome: 'timeout', attempts, elapsedMs };
    }
    if (packet.code === PacketCode.DisconnectAck || packet.code === PacketCode.CoAAck) {
      this.counters.acks++;
      return { outcome: 'ack', rttMs, attempts };
    }
    this.counters.naks++;
    const cause = packet.attributes.find((a) => isNamedAttribute(a) && a.name === 'Error-Cause');
    const errorCause = cause && isNamedAttribute(cause) && typeof cause.value === 'number' ? cause.value : undefined;
    if (errorCause === undefined) return { outcome: 'nak', rttMs, attempts };
    const errorCauseName = attributeValueName('Error-Cause', errorCause, this.opts.dictionary);
    return errorCauseName === undefined
      ? { outcome: 'nak', errorCause, rttMs, attempts }
      : { outcome: 'nak', errorCause, errorCauseName, rttMs, attempts };
  }

  disconnect(target: DynAuthTarget, req: Omit<DynAuthRequest, 'kind'>, options?: DynAuthSendOptions): Promise<DynAuthResult> {
    return this.send(target, { ...req, kind: 'disconnect' }, options);
  }

  coa(target: DynAuthTarget, req: Omit<DynAuthRequest, 'kind'>, options?: DynAuthSendOptions): Promise<DynAuthResult> {
    return this.send(target, { ...req, kind: 'coa' }, options);
  }

  private async resolve(host: string): Promise<{ address: string; family: Family }> {
    const bindFamily = this.opts.bindAddress === undefined ? undefined : isIP(this.opts.bindAddress) === 6 ? 6 : 4;
    const literal = isIP(host);
    if (literal !== 0) {
      const family: Family = literal === 6 ? 6 : 4;
      if (bindFamily !== undefined && bindFamily !== family) {
        throw new RadiusCodecError('INVALID_ARGUMENT', `cannot reach IPv${family} ${host} from bindAddress ${this.opts.bindAddress ?? ''}`);
      }
      return { address: host, family };
    }
    const r = await lookup(host, bindFamily ? { family: bindFamily } : {});
    return { address: r.address, family: r.family === 6 ? 6 : 4 };
  }

  private socketFor(family: Family): Promise<Shared> {
    let p = this.sockets.get(family);
    if (!p) {
      p = this.openSocket(family);
      this.sockets.set(family, p);
      p.catch(() => this.sockets.delete(family));
    }
    return p;
  }

  private async openSocket(family: Family): Promise<Shared> {
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ port: 0, ...(this.opts.bindAddress ? { address: this.opts.bindAddress } : {}) }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(this.opts.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE);
    } catch {
      // Not fatal: only bursts of replies may overflow the kernel's default buffer.
    }
    const shared: Shared = { socket, family, pending: 0 };
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: Error) => this.onSocketError(shared, err));
    socket.unref();
    if (this.closed) {
      socket.close();
      throw new RadiusClientClosedError();
    }
    return shared;
  }

  private onSocketError(shared: Shared, err: Error): void {
    this.opts.logger?.warn({ err, family: shared.family }, 'dynauth socket error');
    this.sockets.delete(shared.family);
    for (const dest of this.destinations.values()) {
      for (const p of [...dest.pending.values()]) if (p.family === shared.family) p.settle({ error: err });
    }
    try {
      shared.socket.close();
    } catch {
      // already closed
    }
  }

  private destination(address: string, port: number): Destination {
    const now = Date.now();
    if (now - this.lastSweep > Math.min(this.idleMs, 10_000)) {
      this.lastSweep = now;
      for (const [key, d] of this.destinations) {
        if (d.pending.size === 0 && d.ids.inUse === 0 && d.ids.waiting === 0 && now - d.lastUsed > this.idleMs) {
          this.destinations.delete(key);
        }
      }
    }
    const key = `${addressKey(address)}|${port}`;
    let dest = this.destinations.get(key);
    if (!dest) {
      dest = { key, ids: new IdentifierAllocator(), pending: new Map(), lastUsed: now };
      this.destinations.set(key, dest);
    }
    dest.lastUsed = now;
    return dest;
  }

  private drop(reason: DropReason, rinfo: RemoteInfo, extra: object = {}): void {
    this.counters.dropped++;
    this.opts.logger?.warn({ reason, from: `${rinfo.address}:${rinfo.port}`, bytes: rinfo.size, ...extra }, 'dynauth reply dropped');
    this.opts.onDrop?.(reason, { address: rinfo.address, port: rinfo.port });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const dest = this.destinations.get(`${addressKey(rinfo.address)}|${rinfo.port}`);
    if (!dest) {
      this.drop('unexpected-source', rinfo);
      return;
    }
    const id = msg[1];
    if (msg.length < 20 || id === undefined) {
      this.drop('malformed', rinfo);
      return;
    }
    const pending = dest.pending.get(id);
    if (!pending) {
      this.drop('unknown-id', rinfo, { id });
      return;
    }
    const check = verifyResponse(msg, pending.request, pending.secret, {
      requireMessageAuthenticator: this.opts.requireMessageAuthenticator ?? false,
    });
    if (!check.ok) {
      this.drop(check.reason, rinfo, { id });
      return;
    }
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg, this.opts.dictionary ? { dictionary: this.opts.dictionary } : {});
    } catch {
      this.drop('malformed', rinfo, { id });
      return;
    }
    pending.settle({ packet });
  }

  private transmit(
    shared: Shared,
    dest: Destination,
    address: string,
    target: DynAuthTarget,
    request: EncodedPacket,
    delays: readonly number[],
    signal: AbortSignal | undefined,
  ): Promise<{ packet?: RadiusPacket; attempts: number; rttMs: number; elapsedMs: number }> {
    return new Promise((resolve, reject) => {
      const id = request.identifier;
      const startedAt = performance.now();
      let attempts = 0;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onAbort = (): void => settle({ error: signal?.reason });
      const finish = (): number => {
        done = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        dest.pending.delete(id);
        dest.ids.release(id);
        dest.lastUsed = Date.now();
        shared.pending--;
        if (shared.pending === 0) shared.socket.unref();
        return performance.now() - startedAt;
      };
      const settle = (outcome: { packet: RadiusPacket } | { error: unknown }): void => {
        if (done) return;
        const ms = finish();
        if ('packet' in outcome) resolve({ packet: outcome.packet, attempts, rttMs: ms, elapsedMs: Math.round(ms) });
        else reject(outcome.error);
      };
      const giveUp = (): void => {
        if (done) return;
        const ms = finish();
        resolve({ attempts, rttMs: ms, elapsedMs: Math.round(ms) });
      };
      const sendOnce = (): void => {
        attempts++;
        this.counters.transmissions++;
        if (attempts > 1) this.opts.logger?.debug({ id, to: `${address}:${target.port}`, attempt: attempts }, 'dynauth retransmit');
        try {
          shared.socket.send(request.buffer, target.port, address, (err) => {
            if (err) settle({ error: err });
          });
        } catch (err) {
          settle({ error: err });
          return;
        }
        timer = setTimeout(() => {
          if (attempts < delays.length) sendOnce();
          else giveUp();
        }, delays[attempts - 1] ?? 0);
      };
      dest.pending.set(id, { request, secret: target.secret, family: shared.family, settle });
      shared.pending++;
      shared.socket.ref();
      signal?.addEventListener('abort', onAbort, { once: true });
      sendOnce();
    });
  }

  /** Reject everything in flight with RadiusClientClosedError and close the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new RadiusClientClosedError();
    for (const dest of this.destinations.values()) {
      dest.ids.rejectWaiters(err);
      for (const p of [...dest.pending.values()]) p.settle({ error: err });
    }
    this.destinations.clear();
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(
      sockets.map(async (p) => {
        const shared = await p.catch(() => undefined);
        if (shared) await new Promise<void>((resolve) => shared.socket.close(() => resolve()));
      }),
    );
  }
}
