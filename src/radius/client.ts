/**
 * RADIUS client over UDP (node:dgram): one socket, many requests in flight, identifier
 * allocation per socket, retransmission of the identical bytes on a schedule, and replies
 * authenticated against their request before they resolve anything.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RadiusAttribute } from './attributes';
import { fixedSchedule } from './backoff';
import { chapAttributes, type ChapOptions } from './chap';
import {
  decodePacket,
  encodeRequest,
  PacketCode,
  verifyResponse,
  type EncodedPacket,
  type RadiusPacket,
  type Secret,
  type VerifyFailure,
} from './codec';
import type { Dictionary } from './dictionary';
import { RadiusClientClosedError, RadiusCodecError, RadiusTimeoutError } from './errors';
import { IdentifierAllocator } from './id-allocator';
import { ipv6ToBytes } from './ip';
import { mschapv2Attributes, verifyMschapv2Success, type MschapV2Options } from './mschapv2';

export type DropReason = 'unexpected-source' | 'unknown-id' | VerifyFailure;

export interface RadiusClientOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: Secret;
  readonly bindAddress?: string;
  readonly bindPort?: number;
  /** Wait per transmission when no `retransmit` schedule is given. Default 3000 ms. */
  readonly timeoutMs?: number;
  /** Retransmissions when no `retransmit` schedule is given. Default 2. */
  readonly retries?: number;
  /** Delays in ms after each transmission (see backoffSchedule); overrides timeoutMs/retries. */
  readonly retransmit?: readonly number[];
  /** SO_RCVBUF set after bind. Default 4 MiB (the kernel caps it at net.core.rmem_max). */
  readonly recvBufferSize?: number;
  /** Default: from the host literal, else whatever DNS returns first. */
  readonly family?: 4 | 6;
  /** Drop replies without a Message-Authenticator. Default false (FreeRADIUS 3.2.1 sends none). */
  readonly requireMessageAuthenticator?: boolean;
  readonly dictionary?: Dictionary;
  /** Called for every reply that is dropped (it never resolves a request). */
  readonly onDrop?: (reason: DropReason, rinfo: RemoteInfo) => void;
}

export interface SendOptions {
  readonly signal?: AbortSignal;
  /** Per-request schedule (ms after each transmission); default the client's. */
  readonly retransmit?: readonly number[];
  readonly addMessageAuthenticator?: boolean;
  /** Access-Request/Status-Server: explicit Request Authenticator (e.g. a CHAP challenge). */
  readonly authenticator?: Buffer;
}

export interface RadiusResponse {
  readonly packet: RadiusPacket;
  /** From the first transmission to the accepted reply. */
  readonly rttMs: number;
  /** Transmissions made (1 = no retransmission). */
  readonly attempts: number;
  readonly request: EncodedPacket;
}

export interface MschapV2Response extends RadiusResponse {
  /** The Access-Accept carried an MS-CHAP2-Success matching our exchange. */
  readonly mschapv2Verified: boolean;
}

export const DEFAULT_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

interface Started {
  readonly socket: Socket;
  readonly address: string;
  readonly family: 4 | 6;
}

interface Pending {
  readonly request: EncodedPacket;
  readonly settle: (outcome: { packet: RadiusPacket } | { error: unknown }) => void;
}

function normalizeAddress(address: string): Buffer | string {
  const bare = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return isIP(bare) === 6 ? ipv6ToBytes(bare) : bare;
}

function sameAddress(a: string, b: string): boolean {
  const x = normalizeAddress(a);
  const y = normalizeAddress(b);
  return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y;
}

function validSchedule(schedule: readonly number[]): readonly number[] {
  if (schedule.length === 0 || schedule.some((d) => !(d > 0) || !Number.isFinite(d))) {
    throw new RadiusCodecError('INVALID_ARGUMENT', 'retransmit schedule must be a non-empty list of positive delays');
  }
  return schedule;
}

export class RadiusClient {
  private readonly ids = new IdentifierAllocator();
  private readonly pending = new Map<number, Pending>();
  private readonly schedule: readonly number[];
  private starting: Promise<Started> | undefined;
  private started: Started | undefined;
  private closed = false;

  constructor(private readonly opts: RadiusClientOptions) {
    this.schedule = validSchedule(opts.retransmit ?? fixedSchedule(opts.timeoutMs ?? 3000, opts.retries ?? 2));
  }

  /** Requests currently awaiting a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Local address after the first send (or start()). */
  address(): { address: string; port: number } | undefined {
    const a = this.started?.socket.address();
    return a ? { address: a.address, port: a.port } : undefined;
  }

  /** Actual SO_RCVBUF after start (Linux reports double the requested size, capped by rmem_max). */
  recvBufferSize(): number | undefined {
    return this.started?.socket.getRecvBufferSize();
  }

  /** Resolve the server, create and bind the socket. Called by send(); idempotent. */
  async start(): Promise<void> {
    await this.ensureStarted();
  }

  private ensureStarted(): Promise<Started> {
    if (this.closed) return Promise.reject(new RadiusClientClosedError());
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<Started> {
    const { host, family } = this.opts;
    const literal = isIP(host);
    const resolved =
      literal !== 0 ? { address: host, family: literal } : await lookup(host, family ? { family } : {});
    const fam: 4 | 6 = resolved.family === 6 ? 6 : 4;
    const socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ port: this.opts.bindPort ?? 0, ...(this.opts.bindAddress ? { address: this.opts.bindAddress } : {}) }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(this.opts.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE);
    } catch {
      // Not fatal: the kernel default buffer still works, only bursts may overflow it.
    }
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: Error) => this.failAll(err));
    const started: Started = { socket, address: resolved.address, family: fam };
    if (this.closed) {
      socket.close();
      throw new RadiusClientClosedError();
    }
    this.started = started;
    this.updateRef();
    return started;
  }

  private drop(reason: DropReason, rinfo: RemoteInfo): void {
    this.opts.onDrop?.(reason, rinfo);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const started = this.started;
    if (!started || rinfo.port !== this.opts.port || !sameAddress(rinfo.address, started.address)) {
      this.drop('unexpected-source', rinfo);
      return;
    }
    const id = msg[1];
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (msg.length < 20 || !pending) {
      this.drop(msg.length < 20 ? 'malformed' : 'unknown-id', rinfo);
      return;
    }
    const check = verifyResponse(msg, pending.request, this.opts.secret, {
      requireMessageAuthenticator: this.opts.requireMessageAuthenticator ?? false,
    });
    if (!check.ok) {
      this.drop(check.reason, rinfo);
      return;
    }
    let packet: RadiusPacket;
    try {
      packet = decodePacket(msg, this.opts.dictionary ? { dictionary: this.opts.dictionary } : {});
    } catch {
      this.drop('malformed', rinfo);
      return;
    }
    pending.settle({ packet });
  }

  private failAll(error: unknown): void {
    for (const p of [...this.pending.values()]) p.settle({ error });
  }

  /** Keep the process alive only while requests are in flight. */
  private updateRef(): void {
    const socket = this.started?.socket;
    if (!socket || this.closed) return;
    if (this.pending.size > 0) socket.ref();
    else socket.unref();
  }

  /** Send a request and resolve with the first authenticated reply. */
  async send(code: number, attributes: readonly RadiusAttribute[], opts: SendOptions = {}): Promise<RadiusResponse> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const schedule = validSchedule(opts.retransmit ?? this.schedule);
    const started = await this.ensureStarted();
    signal?.throwIfAborted();
    const id = await this.ids.acquire(signal);
    if (this.closed) {
      this.ids.release(id);
      throw new RadiusClientClosedError();
    }
    let request: EncodedPacket;
    try {
      request = encodeRequest({
        code,
        identifier: id,
        secret: this.opts.secret,
        attributes,
        ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
        ...(opts.addMessageAuthenticator !== undefined ? { addMessageAuthenticator: opts.addMessageAuthenticator } : {}),
        ...(this.opts.dictionary ? { dictionary: this.opts.dictionary } : {}),
      });
    } catch (err) {
      this.ids.release(id);
      throw err;
    }
    return this.transmit(started, request, schedule, signal);
  }

  private transmit(
    started: Started,
    request: EncodedPacket,
    schedule: readonly number[],
    signal: AbortSignal | undefined,
  ): Promise<RadiusResponse> {
    return new Promise<RadiusResponse>((resolve, reject) => {
      const id = request.identifier;
      const startedAt = performance.now();
      let attempts = 0;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onAbort = (): void => settle({ error: signal?.reason });
      const settle = (outcome: { packet: RadiusPacket } | { error: unknown }): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        this.ids.release(id);
        this.updateRef();
        if ('packet' in outcome) {
          resolve({ packet: outcome.packet, rttMs: performance.now() - startedAt, attempts, request });
        } else {
          reject(outcome.error);
        }
      };
      const sendOnce = (): void => {
        attempts++;
        try {
          started.socket.send(request.buffer, this.opts.port, started.address, (err) => {
            if (err) settle({ error: err });
          });
        } catch (err) {
          settle({ error: err });
          return;
        }
        const wait = schedule[attempts - 1] ?? 0;
        timer = setTimeout(() => {
          if (attempts < schedule.length) sendOnce();
          else settle({ error: new RadiusTimeoutError(id, attempts, Math.round(performance.now() - startedAt)) });
        }, wait);
      };
      this.pending.set(id, { request, settle });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.updateRef();
      sendOnce();
    });
  }

  accessRequestPap(
    user: string,
    password: string | Buffer,
    extraAttrs: readonly RadiusAttribute[] = [],
    opts: SendOptions = {},
  ): Promise<RadiusResponse> {
    return this.send(
      PacketCode.AccessRequest,
      [{ name: 'User-Name', value: user }, { name: 'User-Password', value: password }, ...extraAttrs],
      opts,
    );
  }

  /** CHAP with a CHAP-Challenge attribute (default) or, with chap.useRequestAuthenticator, via the authenticator. */
  accessRequestChap(
    user: string,
    password: string | Buffer,
    extraAttrs: readonly RadiusAttribute[] = [],
    opts: SendOptions & { readonly chap?: ChapOptions } = {},
  ): Promise<RadiusResponse> {
    const chap = chapAttributes(password, opts.chap ?? {});
    const sendOpts: SendOptions = chap.authenticator ? { ...opts, authenticator: chap.authenticator } : opts;
    return this.send(PacketCode.AccessRequest, [{ name: 'User-Name', value: user }, ...chap.attributes, ...extraAttrs], sendOpts);
  }

  async accessRequestMschapv2(
    user: string,
    password: string,
    extraAttrs: readonly RadiusAttribute[] = [],
    opts: SendOptions & { readonly mschap?: MschapV2Options } = {},
  ): Promise<MschapV2Response> {
    const ms = mschapv2Attributes(user, password, opts.mschap ?? {});
    const res = await this.send(
      PacketCode.AccessRequest,
      [{ name: 'User-Name', value: user }, ...ms.attributes, ...extraAttrs],
      opts,
    );
    const mschapv2Verified = res.packet.code === PacketCode.AccessAccept && verifyMschapv2Success(res.packet, ms.exchange);
    return { ...res, mschapv2Verified };
  }

  accounting(attrs: readonly RadiusAttribute[], opts: SendOptions = {}): Promise<RadiusResponse> {
    return this.send(PacketCode.AccountingRequest, attrs, opts);
  }

  disconnect(attrs: readonly RadiusAttribute[], opts: SendOptions = {}): Promise<RadiusResponse> {
    return this.send(PacketCode.DisconnectRequest, attrs, opts);
  }

  coa(attrs: readonly RadiusAttribute[], opts: SendOptions = {}): Promise<RadiusResponse> {
    return this.send(PacketCode.CoARequest, attrs, opts);
  }

  /** RFC 5997 Status-Server (always with Message-Authenticator). */
  statusServer(opts: SendOptions = {}): Promise<RadiusResponse> {
    return this.send(PacketCode.StatusServer, [], { ...opts, addMessageAuthenticator: true });
  }

  /** Reject everything queued or in flight with RadiusClientClosedError and close the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new RadiusClientClosedError();
    this.ids.rejectWaiters(err);
    this.failAll(err);
    const socket = this.started?.socket;
    this.started = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
