/**
 * RFC 5176 Dynamic Authorization server (the NAS side of CoA/Disconnect), used by the NAS
 * simulator and the local gateway.
 *
 * For every datagram on its port:
 *  - `intercept` (optional) sees it first and may take it over (the simulator's silent/garbage modes);
 *  - it must decode and be a Disconnect-Request or CoA-Request;
 *  - the secret is the one configured (or the one `secret(from)` gives that source; none = drop);
 *    the Request Authenticator (MD5 over the packet with a zero authenticator + secret) and the
 *    Message-Authenticator when present (required with requireMessageAuthenticator) must verify;
 *    a packet that fails is dropped without an answer, as FreeRADIUS and RouterOS do;
 *  - an Event-Timestamp outside the window (RFC 5176 §3.5, default 300 s) is dropped;
 *  - a retransmission (same source address and port, Identifier and Request Authenticator within
 *    `duplicateWindowMs`) is answered with the cached reply and not handed over again; one that
 *    arrives while the first is still being handled is absorbed;
 *  - otherwise the handler decides: ACK, or NAK with an Error-Cause (RFC 5176 names from the
 *    dictionary, or a number); the reply is signed for that request and cached.
 * Time (Event-Timestamp window, duplicate cache) comes from the injected Clock.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { systemClock, type Clock } from '../lib/clock';
import { getNumber, getString, type RadiusAttribute } from './attributes';
import {
  decodePacket,
  encodeResponse,
  PacketCode,
  packetCodeName,
  verifyRequest,
  type RadiusPacket,
  type Secret,
  type VerifyFailure,
} from './codec';
import { attributeValueCode, ERROR_CAUSE, type Dictionary } from './dictionary';
import type { DynAuthKind } from './dynauth-client';
import { RadiusArgumentError } from './errors';
import { identificationSets, standardAttributeName } from './identification';
import { bindUdpSocket, closeSocket, familyOf } from './transport/socket';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** What identifies the session(s) a request is about (only those present). */
export interface SessionIdentification {
  readonly userName?: string;
  readonly acctSessionId?: string;
  readonly framedIpAddress?: string;
  readonly callingStationId?: string;
  readonly calledStationId?: string;
  readonly nasIpAddress?: string;
  readonly nasIdentifier?: string;
}

export interface DynAuthIncoming {
  readonly kind: DynAuthKind;
  readonly packet: RadiusPacket;
  readonly from: Peer;
  readonly identification: SessionIdentification;
  /** The request's attributes that are neither identification nor Event-Timestamp/MA/Proxy-State. */
  readonly changes: readonly RadiusAttribute[];
}

export type ErrorCauseName = keyof typeof ERROR_CAUSE;

export type DynAuthAnswer =
  | { readonly outcome: 'ack'; readonly attributes?: readonly RadiusAttribute[] }
  | {
      readonly outcome: 'nak';
      readonly errorCause: ErrorCauseName | number;
      readonly attributes?: readonly RadiusAttribute[];
    };

export type DynAuthHandler = (request: DynAuthIncoming) => DynAuthAnswer | Promise<DynAuthAnswer>;

export interface AnswerInfo {
  readonly code: number;
  readonly codeName: string;
  readonly errorCause?: number;
}

export type DynAuthDropReason =
  'malformed' | 'unsupported-code' | 'unknown-client' | 'stale-event-timestamp' | VerifyFailure;

export type DynAuthServerEvent =
  | {
      readonly type: 'dropped';
      readonly reason: DynAuthDropReason;
      readonly from: Peer;
      readonly code: number;
      readonly identifier: number;
      readonly packet?: RadiusPacket;
    }
  | { readonly type: 'duplicate'; readonly from: Peer; readonly packet: RadiusPacket; readonly answer?: AnswerInfo }
  | { readonly type: 'answered'; readonly from: Peer; readonly packet: RadiusPacket; readonly answer: AnswerInfo };

export interface DynAuthServerLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DynAuthServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port (RFC 5176: 3799). Default 0 = any free port. */
  readonly port?: number;
  /** The shared secret, or the secret for a source (undefined = not a client of ours: dropped). */
  readonly secret: Secret | ((from: Peer) => Secret | undefined);
  readonly handler: DynAuthHandler;
  /** Drop requests without a Message-Authenticator. Default false. */
  readonly requireMessageAuthenticator?: boolean;
  /** Event-Timestamp window in seconds (RFC 5176 §3.5). Default 300; 0 = no check. */
  readonly eventTimestampWindowSec?: number;
  /** How long answers are kept for retransmissions. Default 30 s. */
  readonly duplicateWindowMs?: number;
  /** Sees every datagram first; returning true means it was handled (nothing else happens). */
  readonly intercept?: (msg: Buffer, from: Peer) => boolean;
  readonly onEvent?: (event: DynAuthServerEvent) => void;
  readonly clock?: Clock;
  readonly dictionary?: Dictionary;
  readonly recvBufferSize?: number;
  readonly logger?: DynAuthServerLogger;
}

interface Cached {
  readonly authenticator: Buffer;
  readonly at: number;
  /** Undefined while the handler is still deciding. */
  response?: Buffer;
  answer?: AnswerInfo;
}

const noopLogger: DynAuthServerLogger = { debug: () => undefined, warn: () => undefined };

/** Identification attributes present in a request, by their usual names. */
export function sessionIdentification(packet: RadiusPacket): SessionIdentification {
  const out: Record<string, string> = {};
  const put = (key: keyof SessionIdentification, name: string): void => {
    const v = getString(packet, name);
    if (v !== undefined) out[key] = v;
  };
  put('userName', 'User-Name');
  put('acctSessionId', 'Acct-Session-Id');
  put('framedIpAddress', 'Framed-IP-Address');
  put('callingStationId', 'Calling-Station-Id');
  put('calledStationId', 'Called-Station-Id');
  put('nasIpAddress', 'NAS-IP-Address');
  put('nasIdentifier', 'NAS-Identifier');
  return out;
}

export class DynAuthServer {
  private readonly cache = new Map<string, Cached>();
  private readonly inProgress = new Set<Promise<void>>();
  private readonly clock: Clock;
  private readonly log: DynAuthServerLogger;
  private closed = false;

  private constructor(
    private readonly opts: DynAuthServerOptions,
    private readonly socket: Socket,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? noopLogger;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: Error) => this.log.warn({ err }, 'dynauth server socket error'));
  }

  /** Bind the port and start answering. */
  static async listen(opts: DynAuthServerOptions): Promise<DynAuthServer> {
    const host = opts.host ?? '127.0.0.1';
    const family = familyOf(host);
    if (family === undefined) throw new RadiusArgumentError(`dynauth server host must be an IP address, got ${host}`);
    const socket = await bindUdpSocket({
      family,
      address: host,
      port: opts.port ?? 0,
      exclusive: true,
      ...(opts.recvBufferSize !== undefined ? { recvBufferSize: opts.recvBufferSize } : {}),
    });
    return new DynAuthServer(opts, socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  /** Send raw bytes from the server's port (for an intercept that answers by itself). */
  sendRaw(buf: Buffer, to: Peer): void {
    if (this.closed) return;
    this.socket.send(buf, to.port, to.address, (err) => {
      if (err) this.log.warn({ err }, 'dynauth server send failed');
    });
  }

  private event(e: DynAuthServerEvent): void {
    this.opts.onEvent?.(e);
  }

  private pruneCache(now: number): void {
    const window = this.opts.duplicateWindowMs ?? 30_000;
    for (const [key, entry] of this.cache) {
      if (now - entry.at > window) this.cache.delete(key);
      else break; // insertion order = age order
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const from: Peer = { address: rinfo.address, port: rinfo.port };
    if (this.opts.intercept?.(msg, from)) return;
    const code = msg[0] ?? 0;
    const identifier = msg[1] ?? 0;
    let packet: RadiusPacket | undefined;
    try {
      packet = decodePacket(msg, this.opts.dictionary ? { dictionary: this.opts.dictionary } : {});
    } catch {
      packet = undefined;
    }
    const drop = (reason: DynAuthDropReason): void => {
      this.log.warn({ reason, from: `${from.address}:${from.port}`, id: identifier }, 'dynauth request dropped');
      this.event({ type: 'dropped', reason, from, code, identifier, ...(packet ? { packet } : {}) });
    };
    if (!packet) return drop('malformed');
    if (packet.code !== PacketCode.CoARequest && packet.code !== PacketCode.DisconnectRequest)
      return drop('unsupported-code');
    const secret = typeof this.opts.secret === 'function' ? this.opts.secret(from) : this.opts.secret;
    if (secret === undefined) return drop('unknown-client');
    const check = verifyRequest(msg, secret, {
      requireMessageAuthenticator: this.opts.requireMessageAuthenticator ?? false,
    });
    if (!check.ok) return drop(check.reason);
    const now = this.clock.now();
    const window = this.opts.eventTimestampWindowSec ?? 300;
    const ts = getNumber(packet, 'Event-Timestamp');
    if (window > 0 && ts !== undefined && Math.abs(now / 1000 - ts) > window) return drop('stale-event-timestamp');

    this.pruneCache(now);
    const key = `${from.address}|${from.port}|${packet.identifier}`;
    const cached = this.cache.get(key);
    if (cached && cached.authenticator.equals(packet.authenticator)) {
      this.event({ type: 'duplicate', from, packet, ...(cached.answer ? { answer: cached.answer } : {}) });
      if (cached.response) this.sendRaw(cached.response, from); // else: the first answer is still on its way
      return;
    }
    const entry: Cached = { authenticator: packet.authenticator, at: now };
    this.cache.delete(key);
    this.cache.set(key, entry);
    const p = this.answer(packet, from, secret, entry).finally(() => this.inProgress.delete(p));
    this.inProgress.add(p);
  }

  private changes(packet: RadiusPacket): RadiusAttribute[] {
    const sets = identificationSets(this.opts.dictionary);
    return packet.attributes.filter((a) => {
      const n = standardAttributeName(a, this.opts.dictionary);
      return n === undefined || !(sets.session.has(n) || sets.nas.has(n) || sets.disconnectExtras.has(n));
    });
  }

  private async answer(packet: RadiusPacket, from: Peer, secret: Secret, entry: Cached): Promise<void> {
    const disconnect = packet.code === PacketCode.DisconnectRequest;
    const kind: DynAuthKind = disconnect ? 'disconnect' : 'coa';
    let decision: DynAuthAnswer;
    try {
      decision = await this.opts.handler({
        kind,
        packet,
        from,
        identification: sessionIdentification(packet),
        changes: this.changes(packet),
      });
    } catch (err) {
      this.log.warn({ err, kind }, 'dynauth handler failed');
      decision = { outcome: 'nak', errorCause: 'Resources-Unavailable' };
    }
    const code =
      decision.outcome === 'ack'
        ? disconnect
          ? PacketCode.DisconnectAck
          : PacketCode.CoAAck
        : disconnect
          ? PacketCode.DisconnectNak
          : PacketCode.CoANak;
    let errorCause: number | undefined;
    if (decision.outcome === 'nak') {
      errorCause =
        typeof decision.errorCause === 'number'
          ? decision.errorCause
          : (attributeValueCode('Error-Cause', decision.errorCause, this.opts.dictionary) ??
            ERROR_CAUSE[decision.errorCause]);
    }
    const attributes: RadiusAttribute[] = [
      ...(errorCause === undefined ? [] : [{ name: 'Error-Cause', value: errorCause }]),
      ...(decision.attributes ?? []),
    ];
    const response = encodeResponse({
      code,
      request: packet,
      secret,
      attributes,
      ...(this.opts.dictionary ? { dictionary: this.opts.dictionary } : {}),
    }).buffer;
    const answer: AnswerInfo = {
      code,
      codeName: packetCodeName(code),
      ...(errorCause === undefined ? {} : { errorCause }),
    };
    entry.response = response;
    entry.answer = answer;
    if (this.closed) return;
    this.log.debug({ request: packetCodeName(packet.code), answer: answer.codeName, errorCause }, 'dynauth answered');
    this.event({ type: 'answered', from, packet, answer });
    this.sendRaw(response, from);
  }

  /** Stop listening; requests being handled finish without sending. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeSocket(this.socket);
    await Promise.allSettled([...this.inProgress]);
  }
}
