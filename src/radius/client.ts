/**
 * RADIUS client for one server (Access, Accounting, Status-Server, and CoA/Disconnect to one
 * fixed peer), on the shared UDP transport (transport/udp-endpoint.ts): many requests in flight
 * on one socket, Identifiers per destination, the identical bytes retransmitted on a schedule,
 * and replies authenticated against their request before they resolve anything.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock } from '../lib/clock';
import type { RadiusAttribute } from './attributes';
import { fixedSchedule } from './backoff';
import { chapAttributes, type ChapOptions } from './chap';
import { encodeRequest, PacketCode, type EncodedPacket, type RadiusPacket, type Secret } from './codec';
import type { Dictionary } from './dictionary';
import { RadiusClientClosedError, RadiusTimeoutError } from './errors';
import { mschapv2Attributes, verifyMschapv2Success, type MschapV2Options } from './mschapv2';
import { DEFAULT_RECV_BUFFER_SIZE, type Family } from './transport/socket';
import { UdpEndpoint, validSchedule, type DropReason } from './transport/udp-endpoint';

export type { DropReason };

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
  /** Retransmission timers (default: the system clock). */
  readonly clock?: Clock;
  /** Called for every reply that is dropped (it never resolves a request). */
  readonly onDrop?: (reason: DropReason, from: { address: string; port: number }) => void;
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

interface Resolved {
  readonly address: string;
  readonly family: Family;
}

export class RadiusClient {
  private readonly endpoint: UdpEndpoint;
  private readonly schedule: readonly number[];
  private resolving: Promise<Resolved> | undefined;
  private resolved: Resolved | undefined;

  constructor(private readonly opts: RadiusClientOptions) {
    this.schedule = validSchedule(opts.retransmit ?? fixedSchedule(opts.timeoutMs ?? 3000, opts.retries ?? 2));
    this.endpoint = new UdpEndpoint({
      ...(opts.bindAddress !== undefined ? { bindAddress: opts.bindAddress } : {}),
      ...(opts.bindPort !== undefined ? { bindPort: opts.bindPort } : {}),
      ...(opts.recvBufferSize !== undefined ? { recvBufferSize: opts.recvBufferSize } : {}),
      ...(opts.requireMessageAuthenticator !== undefined
        ? { requireMessageAuthenticator: opts.requireMessageAuthenticator }
        : {}),
      ...(opts.dictionary ? { dictionary: opts.dictionary } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onDrop
        ? {
            onDrop: (reason: DropReason, from: { address: string; port: number }) =>
              opts.onDrop?.(reason, { address: from.address, port: from.port }),
          }
        : {}),
    });
  }

  /** Requests currently awaiting a reply. */
  get inFlight(): number {
    return this.endpoint.inFlight;
  }

  /** Local address after the first send (or start()). */
  address(): { address: string; port: number } | undefined {
    return this.resolved ? this.endpoint.address(this.resolved.family) : undefined;
  }

  /** Actual SO_RCVBUF after start (Linux reports double the requested size, capped by rmem_max). */
  recvBufferSize(): number | undefined {
    return this.resolved ? this.endpoint.recvBufferSize(this.resolved.family) : undefined;
  }

  /** Resolve the server, create and bind the socket. Called by send(); idempotent. */
  async start(): Promise<void> {
    const { family } = await this.resolve();
    await this.endpoint.start(family);
  }

  private resolve(): Promise<Resolved> {
    if (this.endpoint.isClosed) return Promise.reject(new RadiusClientClosedError());
    this.resolving ??= (async (): Promise<Resolved> => {
      const { host, family } = this.opts;
      const literal = isIP(host);
      const r = literal !== 0 ? { address: host, family: literal } : await lookup(host, family ? { family } : {});
      const resolved: Resolved = { address: r.address, family: r.family === 6 ? 6 : 4 };
      this.resolved = resolved;
      return resolved;
    })().catch((err: unknown) => {
      this.resolving = undefined;
      throw err;
    });
    return this.resolving;
  }

  /** Send a request and resolve with the first authenticated reply. */
  async send(code: number, attributes: readonly RadiusAttribute[], opts: SendOptions = {}): Promise<RadiusResponse> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const schedule = validSchedule(opts.retransmit ?? this.schedule);
    const { address } = await this.resolve();
    const res = await this.endpoint.exchange(
      { address, port: this.opts.port, secret: this.opts.secret },
      (identifier) =>
        encodeRequest({
          code,
          identifier,
          secret: this.opts.secret,
          attributes,
          ...(opts.authenticator ? { authenticator: opts.authenticator } : {}),
          ...(opts.addMessageAuthenticator !== undefined
            ? { addMessageAuthenticator: opts.addMessageAuthenticator }
            : {}),
          ...(this.opts.dictionary ? { dictionary: this.opts.dictionary } : {}),
        }),
      { schedule, ...(signal ? { signal } : {}) },
    );
    if (!res.packet) throw new RadiusTimeoutError(res.request.identifier, res.attempts, Math.round(res.elapsedMs));
    return { packet: res.packet, rttMs: res.elapsedMs, attempts: res.attempts, request: res.request };
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
    return this.send(
      PacketCode.AccessRequest,
      [{ name: 'User-Name', value: user }, ...chap.attributes, ...extraAttrs],
      sendOpts,
    );
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
    const mschapv2Verified =
      res.packet.code === PacketCode.AccessAccept && verifyMschapv2Success(res.packet, ms.exchange);
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
  close(): Promise<void> {
    return this.endpoint.close();
  }
}
