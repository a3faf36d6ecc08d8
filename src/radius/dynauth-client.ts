/**
 * RFC 5176 Dynamic Authorization client (Disconnect-Request / CoA-Request), used by the
 * enforcement worker to act on live sessions at many NAS at once.
 *
 * Why not a pool of RadiusClients: a RadiusClient owns one socket per (host, port, secret).
 * The worker talks to hundreds or thousands of NAS, so a pool would hold as many sockets (and
 * 4 MiB receive buffers, and file descriptors) as there are NAS it touched lately. Here one
 * socket per address family is shared by every request to every NAS, and Identifiers are
 * allocated per destination (address, port), which RFC 5176 §2.3 / RFC 5080 §2.2.1 allow: the
 * NAS detects duplicates by (source address, source port, Identifier). The sockets, Identifiers,
 * retransmission and reply checking are the shared transport's (transport/udp-endpoint.ts); the
 * identification attribute sets are identification.ts's (by name, from the dictionary).
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
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock } from '../lib/clock';
import { isNamedAttribute, type RadiusAttribute } from './attributes';
import { backoffSchedule, type BackoffOptions } from './backoff';
import { encodeRequest, PacketCode, type Secret } from './codec';
import { attributeValueName, type Dictionary } from './dictionary';
import { RadiusArgumentError, RadiusClientClosedError } from './errors';
import { identificationSets, isVendorAttribute, standardAttributeName } from './identification';
import type { Family } from './transport/socket';
import { UdpEndpoint, type DropReason } from './transport/udp-endpoint';

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
  /** Retransmission timers and destination idling (default: the system clock). */
  readonly clock?: Clock;
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

/** Build the attribute list of a request (Message-Authenticator is added first by the codec). */
export function buildDynAuthAttributes(req: DynAuthRequest, dictionary?: Dictionary): RadiusAttribute[] {
  if (req.kind !== 'disconnect' && req.kind !== 'coa') {
    throw new RadiusArgumentError(`unknown dynauth kind ${String(req.kind)}`);
  }
  const sets = identificationSets(dictionary);
  const attrs: RadiusAttribute[] = [];
  if (req.userName !== undefined) attrs.push({ name: 'User-Name', value: req.userName });
  if (req.acctSessionId !== undefined) attrs.push({ name: 'Acct-Session-Id', value: req.acctSessionId });
  if (req.framedIpAddress !== undefined) attrs.push({ name: 'Framed-IP-Address', value: req.framedIpAddress });
  if (req.nasIpAddress !== undefined) attrs.push({ name: 'NAS-IP-Address', value: req.nasIpAddress });
  if (req.nasIdentifier !== undefined) attrs.push({ name: 'NAS-Identifier', value: req.nasIdentifier });
  const extra = req.attributes ?? [];
  const names = extra.map((a) => standardAttributeName(a, dictionary));
  if (names.includes('event-timestamp') || names.includes('message-authenticator')) {
    throw new RadiusArgumentError('Event-Timestamp and Message-Authenticator are added by the client');
  }
  if (req.kind === 'disconnect') {
    extra.forEach((a, i) => {
      const n = names[i];
      // A vendor attribute may identify a session; a name the dictionary does not know is passed on as such.
      const vsa = isNamedAttribute(a) ? n === undefined : isVendorAttribute(a, dictionary);
      const ok = n !== undefined && (sets.session.has(n) || sets.nas.has(n) || sets.disconnectExtras.has(n));
      if (!ok && !vsa) {
        const label = isNamedAttribute(a) ? a.name : `attribute ${a.type}`;
        throw new RadiusArgumentError(
          `${label} is not an identification attribute; Disconnect-Request carries identification only`,
        );
      }
    });
  }
  const hasSessionId =
    req.userName !== undefined ||
    req.acctSessionId !== undefined ||
    req.framedIpAddress !== undefined ||
    names.some((n) => n !== undefined && sets.session.has(n));
  if (!hasSessionId) {
    throw new RadiusArgumentError(
      'a dynauth request needs session identification (User-Name, Acct-Session-Id or Framed-IP-Address)',
    );
  }
  const ts = req.eventTimestamp ?? Math.floor(Date.now() / 1000);
  attrs.push({ name: 'Event-Timestamp', value: ts });
  attrs.push(...extra);
  return attrs;
}

export class DynAuthClient {
  private readonly endpoint: UdpEndpoint;
  private readonly schedule: DynAuthSchedule;
  private readonly counters: DynAuthStats = {
    requests: 0,
    transmissions: 0,
    acks: 0,
    naks: 0,
    timeouts: 0,
    dropped: 0,
  };

  constructor(private readonly opts: DynAuthClientOptions = {}) {
    this.schedule = opts.schedule ?? DEFAULT_DYNAUTH_SCHEDULE;
    backoffSchedule(this.schedule); // validate now rather than on the first send
    this.endpoint = new UdpEndpoint({
      ...(opts.bindAddress !== undefined ? { bindAddress: opts.bindAddress } : {}),
      ...(opts.recvBufferSize !== undefined ? { recvBufferSize: opts.recvBufferSize } : {}),
      ...(opts.requireMessageAuthenticator !== undefined
        ? { requireMessageAuthenticator: opts.requireMessageAuthenticator }
        : {}),
      ...(opts.idleDestinationMs !== undefined ? { idleDestinationMs: opts.idleDestinationMs } : {}),
      ...(opts.dictionary ? { dictionary: opts.dictionary } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      onDrop: (reason, from) => {
        this.counters.dropped++;
        const extra = from.id === undefined ? {} : { id: from.id };
        this.opts.logger?.warn(
          { reason, from: `${from.address}:${from.port}`, bytes: from.size, ...extra },
          'dynauth reply dropped',
        );
        this.opts.onDrop?.(reason, { address: from.address, port: from.port });
      },
      onSocketError: (err, family) => this.opts.logger?.warn({ err, family }, 'dynauth socket error'),
    });
  }

  /** Counters since construction (a copy). */
  stats(): DynAuthStats {
    return { ...this.counters };
  }

  /** Requests awaiting a reply, over all destinations. */
  get inFlight(): number {
    return this.endpoint.inFlight;
  }

  /** Local address of the shared socket of a family, once it exists. */
  address(family: Family = 4): Promise<{ address: string; port: number } | undefined> {
    return Promise.resolve(this.endpoint.address(family));
  }

  /** Send a Disconnect-Request or CoA-Request and wait for ACK, NAK or the end of the schedule. */
  async send(target: DynAuthTarget, req: DynAuthRequest, options: DynAuthSendOptions = {}): Promise<DynAuthResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.endpoint.isClosed) throw new RadiusClientClosedError();
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new RadiusArgumentError(`bad port ${target.port}`);
    }
    const attributes = buildDynAuthAttributes(req, this.opts.dictionary);
    const code = req.kind === 'disconnect' ? PacketCode.DisconnectRequest : PacketCode.CoARequest;
    const schedule = backoffSchedule(this.schedule);
    const address = await this.resolve(target.host);
    const res = await this.endpoint.exchange(
      { address, port: target.port, secret: target.secret },
      (identifier) => {
        const encoded = encodeRequest({
          code,
          identifier,
          secret: target.secret,
          attributes,
          addMessageAuthenticator: true,
          ...(this.opts.dictionary ? { dictionary: this.opts.dictionary } : {}),
        });
        this.counters.requests++;
        return encoded;
      },
      {
        schedule,
        ...(signal ? { signal } : {}),
        onTransmit: (attempt) => {
          this.counters.transmissions++;
          if (attempt > 1) this.opts.logger?.debug({ to: `${address}:${target.port}`, attempt }, 'dynauth retransmit');
        },
      },
    );
    const { packet, attempts, elapsedMs } = res;
    if (!packet) {
      this.counters.timeouts++;
      return { outcome: 'timeout', attempts, elapsedMs: Math.round(elapsedMs) };
    }
    const rttMs = elapsedMs;
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

  disconnect(
    target: DynAuthTarget,
    req: Omit<DynAuthRequest, 'kind'>,
    options?: DynAuthSendOptions,
  ): Promise<DynAuthResult> {
    return this.send(target, { ...req, kind: 'disconnect' }, options);
  }

  coa(target: DynAuthTarget, req: Omit<DynAuthRequest, 'kind'>, options?: DynAuthSendOptions): Promise<DynAuthResult> {
    return this.send(target, { ...req, kind: 'coa' }, options);
  }

  /** An IP literal is checked against bindAddress's family; a name is resolved in that family. */
  private async resolve(host: string): Promise<string> {
    if (isIP(host) !== 0) {
      this.endpoint.familyFor(host);
      return host;
    }
    const bindFamily = this.opts.bindAddress === undefined ? undefined : isIP(this.opts.bindAddress) === 6 ? 6 : 4;
    const r = await lookup(host, bindFamily ? { family: bindFamily } : {});
    return r.address;
  }

  /** Reject everything in flight with RadiusClientClosedError and close the sockets. */
  close(): Promise<void> {
    return this.endpoint.close();
  }
}
