/**
 * The RADIUS request transport (client side): one UDP socket per address family shared by every
 * request, an IdentifierAllocator per destination (address, port), the request encoded once and
 * its identical bytes retransmitted on a schedule (backoff.ts: FreeRADIUS's IRT/MRT/MRC/MRD, or a
 * fixed one), and verify-then-settle: a reply settles a request only if it comes from the address
 * and port the request went to, carries a pending Identifier, an expected code and a valid
 * Response Authenticator (and Message-Authenticator when present or required) for that
 * destination's secret. Anything else is dropped (onDrop) and the request keeps waiting.
 *
 * Identifiers per destination are what RFC 5080 §2.2.1 / RFC 5176 §2.3 allow: a server detects
 * duplicates by (source address, source port, Identifier). RadiusClient (one destination) and
 * DynAuthClient (many) are thin users; neither touches a socket.
 *
 * Sockets are unref'd while nothing is in flight, so an idle endpoint never keeps the process up.
 * Retransmission timers come from the injected Clock.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type Timer } from '../../lib/clock';
import {
  decodePacket,
  verifyResponse,
  type EncodedPacket,
  type RadiusPacket,
  type Secret,
  type VerifyFailure,
} from '../codec';
import type { Dictionary } from '../dictionary';
import { RadiusArgumentError, RadiusClientClosedError } from '../errors';
import { IdentifierAllocator } from '../id-allocator';
import { addressKey, bindUdpSocket, closeSocket, familyOf, type Family } from './socket';

export type DropReason = 'unexpected-source' | 'unknown-id' | VerifyFailure;

export interface DropInfo {
  readonly address: string;
  readonly port: number;
  readonly size: number;
  /** The Identifier, when the datagram was long enough to carry one and its source was known. */
  readonly id?: number;
}

export interface UdpEndpointOptions {
  /** Local address to send from (its family is the only one reachable). */
  readonly bindAddress?: string;
  /** Local port (default: an ephemeral one). Only sensible with one family in use. */
  readonly bindPort?: number;
  /** SO_RCVBUF of each socket. Default 4 MiB. */
  readonly recvBufferSize?: number;
  /** Drop replies without a Message-Authenticator. Default false (FreeRADIUS 3.2.1 sends none). */
  readonly requireMessageAuthenticator?: boolean;
  readonly dictionary?: Dictionary;
  /** Forget a destination's Identifier state after this long without requests. Default 60 s. */
  readonly idleDestinationMs?: number;
  readonly clock?: Clock;
  /** Every dropped datagram (it never settles a request). */
  readonly onDrop?: (reason: DropReason, from: DropInfo) => void;
  /** A socket failed: its in-flight requests were rejected with `err`; the next request reopens it. */
  readonly onSocketError?: (err: Error, family: Family) => void;
}

export interface ExchangeTarget {
  /** IP literal (callers resolve names). */
  readonly address: string;
  readonly port: number;
  readonly secret: Secret;
}

export interface ExchangeOptions {
  /** Delays in ms after each transmission; after the last one the exchange ends without a reply. */
  readonly schedule: readonly number[];
  readonly signal?: AbortSignal;
  /** Called before each transmission (1 = the first). */
  readonly onTransmit?: (attempt: number) => void;
}

export interface ExchangeResult {
  /** The authenticated reply; undefined when the schedule ran out. */
  readonly packet: RadiusPacket | undefined;
  readonly request: EncodedPacket;
  /** Transmissions made (1 = no retransmission). */
  readonly attempts: number;
  /** From the first transmission to the reply (or to giving up). */
  readonly elapsedMs: number;
}

interface Pending {
  readonly request: EncodedPacket;
  readonly secret: Secret;
  readonly family: Family;
  readonly settle: (outcome: { packet: RadiusPacket } | { error: unknown }) => void;
}

interface Destination {
  readonly ids: IdentifierAllocator;
  readonly pending: Map<number, Pending>;
  lastUsed: number;
}

interface Shared {
  readonly socket: Socket;
  readonly family: Family;
  pending: number;
}

/** Check a schedule: a non-empty list of positive, finite delays. */
export function validSchedule(schedule: readonly number[]): readonly number[] {
  if (schedule.length === 0 || schedule.some((d) => !(d > 0) || !Number.isFinite(d))) {
    throw new RadiusArgumentError('retransmit schedule must be a non-empty list of positive delays');
  }
  return schedule;
}

export class UdpEndpoint {
  private readonly sockets = new Map<Family, Promise<Shared>>();
  private readonly open = new Map<Family, Shared>();
  private readonly destinations = new Map<string, Destination>();
  private readonly clock: Clock;
  private readonly idleMs: number;
  private readonly bindFamily: Family | undefined;
  private lastSweep = 0;
  private closed = false;

  constructor(private readonly opts: UdpEndpointOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.idleMs = opts.idleDestinationMs ?? 60_000;
    if (opts.bindAddress !== undefined) {
      this.bindFamily = familyOf(opts.bindAddress);
      if (this.bindFamily === undefined)
        throw new RadiusArgumentError(`bindAddress must be an IP address, got ${opts.bindAddress}`);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests awaiting a reply, over all destinations. */
  get inFlight(): number {
    let n = 0;
    for (const d of this.destinations.values()) n += d.pending.size;
    return n;
  }

  /** Local address of a family's socket once it is open. */
  address(family: Family = 4): { address: string; port: number } | undefined {
    const shared = this.open.get(family);
    if (!shared) return undefined;
    const a = shared.socket.address();
    return { address: a.address, port: a.port };
  }

  /** Actual SO_RCVBUF of a family's socket (Linux reports double the requested size). */
  recvBufferSize(family: Family = 4): number | undefined {
    return this.open.get(family)?.socket.getRecvBufferSize();
  }

  /** The family a destination address is reached with; throws RadiusArgumentError if unreachable. */
  familyFor(address: string): Family {
    const family = familyOf(address);
    if (family === undefined) throw new RadiusArgumentError(`not an IP address: ${address}`);
    if (this.bindFamily !== undefined && this.bindFamily !== family) {
      throw new RadiusArgumentError(
        `cannot reach IPv${family} ${address} from bindAddress ${this.opts.bindAddress ?? ''}`,
      );
    }
    return family;
  }

  /** Open (once) the socket of a family. */
  async start(family: Family): Promise<void> {
    await this.socketFor(family);
  }

  private socketFor(family: Family): Promise<Shared> {
    if (this.closed) return Promise.reject(new RadiusClientClosedError());
    let p = this.sockets.get(family);
    if (!p) {
      p = this.openSocket(family);
      this.sockets.set(family, p);
      p.catch(() => {
        if (this.sockets.get(family) === p) this.sockets.delete(family);
      });
    }
    return p;
  }

  private async openSocket(family: Family): Promise<Shared> {
    const socket = await bindUdpSocket({
      family,
      ...(this.opts.bindAddress !== undefined ? { address: this.opts.bindAddress } : {}),
      ...(this.opts.bindPort !== undefined ? { port: this.opts.bindPort } : {}),
      ...(this.opts.recvBufferSize !== undefined ? { recvBufferSize: this.opts.recvBufferSize } : {}),
    });
    const shared: Shared = { socket, family, pending: 0 };
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: Error) => this.onSocketError(shared, err));
    socket.unref();
    if (this.closed) {
      await closeSocket(socket);
      throw new RadiusClientClosedError();
    }
    this.open.set(family, shared);
    return shared;
  }

  private onSocketError(shared: Shared, err: Error): void {
    this.opts.onSocketError?.(err, shared.family);
    this.sockets.delete(shared.family);
    if (this.open.get(shared.family) === shared) this.open.delete(shared.family);
    for (const dest of this.destinations.values()) {
      for (const p of [...dest.pending.values()]) if (p.family === shared.family) p.settle({ error: err });
    }
    void closeSocket(shared.socket);
  }

  private destination(address: string, port: number): Destination {
    const now = this.clock.now();
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
      dest = { ids: new IdentifierAllocator(), pending: new Map(), lastUsed: now };
      this.destinations.set(key, dest);
    }
    dest.lastUsed = now;
    return dest;
  }

  private drop(reason: DropReason, rinfo: RemoteInfo, id?: number): void {
    this.opts.onDrop?.(reason, {
      address: rinfo.address,
      port: rinfo.port,
      size: rinfo.size,
      ...(id === undefined ? {} : { id }),
    });
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
      this.drop('unknown-id', rinfo, id);
      return;
    }
    const check = verifyResponse(msg, pending.request, pending.secret, {
      requireMessageAuthenticator: this.opts.requireMessageAuthenticator ?? false,
    });
    if (!check.ok) {
      this.drop(check.reason, rinfo, id);
      return;
    }
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg, this.opts.dictionary ? { dictionary: this.opts.dictionary } : {});
    } catch {
      this.drop('malformed', rinfo, id);
      return;
    }
    pending.settle({ packet });
  }

  /**
   * Send a request built by `encode(identifier)` and wait for its authenticated reply or the end
   * of the schedule. Rejects only on abort (signal.reason), a local send/socket error, close()
   * (RadiusClientClosedError), or an argument/encoding error (the Identifier is released).
   */
  async exchange(
    target: ExchangeTarget,
    encode: (identifier: number) => EncodedPacket,
    opts: ExchangeOptions,
  ): Promise<ExchangeResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const schedule = validSchedule(opts.schedule);
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new RadiusArgumentError(`bad port ${target.port}`);
    }
    const family = this.familyFor(target.address);
    const shared = await this.socketFor(family);
    signal?.throwIfAborted();
    if (this.closed) throw new RadiusClientClosedError();
    const dest = this.destination(target.address, target.port);
    const id = await dest.ids.acquire(signal);
    if (this.closed) {
      dest.ids.release(id);
      throw new RadiusClientClosedError();
    }
    let request: EncodedPacket;
    try {
      request = encode(id);
    } catch (err) {
      dest.ids.release(id);
      throw err;
    }
    return this.transmit(shared, dest, target, request, schedule, opts);
  }

  private transmit(
    shared: Shared,
    dest: Destination,
    target: ExchangeTarget,
    request: EncodedPacket,
    schedule: readonly number[],
    opts: ExchangeOptions,
  ): Promise<ExchangeResult> {
    const { signal } = opts;
    return new Promise<ExchangeResult>((resolve, reject) => {
      const id = request.identifier;
      const startedAt = performance.now();
      let attempts = 0;
      let timer: Timer | undefined;
      let done = false;
      const onAbort = (): void => settle({ error: signal?.reason });
      const finish = (): number => {
        done = true;
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        dest.pending.delete(id);
        dest.ids.release(id);
        dest.lastUsed = this.clock.now();
        shared.pending--;
        if (shared.pending === 0 && !this.closed) shared.socket.unref();
        return performance.now() - startedAt;
      };
      const settle = (outcome: { packet: RadiusPacket } | { error: unknown }): void => {
        if (done) return;
        const ms = finish();
        if ('packet' in outcome) resolve({ packet: outcome.packet, request, attempts, elapsedMs: ms });
        else reject(outcome.error);
      };
      const giveUp = (): void => {
        if (done) return;
        const ms = finish();
        resolve({ packet: undefined, request, attempts, elapsedMs: ms });
      };
      const sendOnce = (): void => {
        attempts++;
        opts.onTransmit?.(attempts);
        try {
          shared.socket.send(request.buffer, target.port, target.address, (err) => {
            if (err) settle({ error: err });
          });
        } catch (err) {
          settle({ error: err });
          return;
        }
        timer = this.clock.setTimer(schedule[attempts - 1] ?? 0, () => {
          if (attempts < schedule.length) sendOnce();
          else giveUp();
        });
      };
      dest.pending.set(id, { request, secret: target.secret, family: shared.family, settle });
      shared.pending++;
      shared.socket.ref();
      signal?.addEventListener('abort', onAbort, { once: true });
      sendOnce();
    });
  }

  /** Reject everything queued or in flight with RadiusClientClosedError and close the sockets. */
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
    this.open.clear();
    await Promise.all(
      sockets.map(async (p) => {
        const shared = await p.catch(() => undefined);
        if (shared) await closeSocket(shared.socket);
      }),
    );
  }
}
