/**
 * A NAS in software (a MikroTik hotspot as far as RADIUS can tell), for demos and tests; it
 * will back `lango simulate nas`.
 *
 * Towards FreeRADIUS it is a RADIUS client (Lango's RadiusClient, sent from `bindAddress` so one
 * loopback box can pose as many NAS): login() sends an Access-Request (PAP or CHAP, with
 * Message-Authenticator) and on Access-Accept opens a session with a MikroTik-style
 * Acct-Session-Id and sends Accounting Start; interim() and logout() send Interim-Update and
 * Stop (octet counters above 4 GiB split into Gigawords); accountingOn() is a NAS reboot.
 * Every accounting packet of a session carries the same identification (FreeRADIUS derives
 * Acct-Unique-Session-Id from it) and echoes the Accept's Class.
 *
 * Towards Lango it is an RFC 5176 server on `coa.port` (src/radius/dynauth-server.ts does the
 * socket, the verification and the duplicate cache; this file decides what a request does):
 *  - Request Authenticator and Message-Authenticator are verified with the shared secret; a
 *    packet that fails (wrong secret) is dropped without an answer and counted, like FreeRADIUS
 *    and RouterOS do; so is an Event-Timestamp outside the replay window (RFC 5176 §3.5);
 *  - a retransmission (same source address, port, Identifier and Request Authenticator) gets
 *    the first answer again and is not applied twice; a retransmission that arrives while the
 *    first answer is still delayed (respondDelayMs) is absorbed;
 *  - checks, in RFC order: unsupported attribute → NAK 401 (a Disconnect may carry
 *    identification only; a CoA may also change Mikrotik-Rate-Limit, Session-Timeout,
 *    Idle-Timeout and Mikrotik-Recv/Xmit-Limit(-Gigawords), not Mikrotik-Total-Limit or
 *    Mikrotik-Address-List, as on RouterOS); NAS-IP-Address/NAS-Identifier not ours → NAK 403;
 *    no session identification → NAK 402; no session matching every identifier given
 *    (Acct-Session-Id, User-Name, Framed-IP-Address, Calling-Station-Id) → NAK 503;
 *  - Disconnect: removes the sessions, answers Disconnect-ACK, then sends Accounting Stop with
 *    Acct-Terminate-Cause Admin-Reset (drain() waits for those); CoA: applies the changes to the
 *    sessions and answers CoA-ACK;
 *  - mode 'silent' never answers; mode 'garbage' answers every datagram with two junk replies:
 *    random bytes, and a well-formed header with the request's Identifier and an ACK code but
 *    a random authenticator (so a client must really check the authenticator).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {
  ACCT_TERMINATE_CAUSE,
  decodePacket,
  getAttributes,
  getNumber,
  getString,
  isNamedAttribute,
  PacketCode,
  packetCodeName,
  RadiusClient,
  type RadiusAttribute,
  type RadiusPacket,
  type RadiusResponse,
} from '../radius';
import {
  DynAuthServer,
  type DynAuthAnswer,
  type DynAuthIncoming,
  type DynAuthServerEvent,
  type Peer,
} from '../radius/dynauth-server';

export type NasSimulatorMode = 'normal' | 'silent' | 'garbage';

export interface NasSimulatorLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NasSimulatorOptions {
  /** FreeRADIUS (or a fake) for Access-Request and Accounting-Request. */
  readonly radius: {
    readonly host: string;
    readonly authPort: number;
    readonly acctPort: number;
    readonly secret: string;
    /** Delays (ms) after each transmission; default 1000 ms, 2 retransmissions. */
    readonly retransmit?: readonly number[];
  };
  /** Where to listen for CoA/Disconnect. Default 127.0.0.1, a free port. */
  readonly coa?: { readonly host?: string; readonly port?: number };
  /** Shared secret expected on CoA/Disconnect requests. Default radius.secret. */
  readonly secret?: string;
  /** Source address for Access/Accounting (e.g. 127.0.0.5 to pose as another NAS on loopback). */
  readonly bindAddress?: string;
  /** NAS-IP-Address to send. Default bindAddress when it is IPv4, else 127.0.0.1. */
  readonly nasIpAddress?: string;
  readonly nasIdentifier?: string;
  readonly mode?: NasSimulatorMode;
  /** Delay before answering each CoA/Disconnect (the change is applied at once). */
  readonly respondDelayMs?: number;
  /** Event-Timestamp replay window in seconds (RFC 5176 §3.5). Default 300; 0 = no check. */
  readonly eventTimestampWindowSec?: number;
  /** Entries kept in `received` (oldest dropped first). Default 10000. */
  readonly receivedLimit?: number;
  /** How long answers are kept for duplicate detection. Default 30 s. */
  readonly duplicateWindowMs?: number;
  readonly logger?: NasSimulatorLogger;
}

export interface SimulatedSession {
  readonly acctSessionId: string;
  readonly userName: string;
  readonly framedIp: string;
  readonly macAddress: string;
  readonly nasPort: number;
  readonly startedAt: Date;
  readonly sessionTimeout?: number;
  readonly idleTimeout?: number;
  readonly interimInterval?: number;
  readonly rateLimit?: string;
  /** Mikrotik-Total-Limit(-Gigawords) combined. */
  readonly totalLimit?: bigint;
  readonly recvLimit?: bigint;
  readonly xmitLimit?: bigint;
  readonly inputOctets: bigint;
  readonly outputOctets: bigint;
  /** CoA-Requests applied to this session. */
  readonly coaApplied: number;
}

export interface LoginOptions {
  readonly framedIp?: string;
  readonly macAddress?: string;
  readonly method?: 'pap' | 'chap';
  /**
   * CHAP computed elsewhere (a hotspot login page: MD5(id + password + challenge) in the
   * browser): sent as CHAP-Password (id + response) and CHAP-Challenge; `password` is unused.
   */
  readonly chapResponse?: { readonly id: number; readonly challenge: Buffer; readonly response: Buffer };
}

export interface LoginResult {
  readonly accepted: boolean;
  /** Access-Accept, Access-Reject or Access-Challenge. */
  readonly code: number;
  readonly reply: RadiusAttribute[];
  readonly session?: SimulatedSession;
}

export interface CounterUpdate {
  readonly inputOctets?: number | bigint;
  readonly outputOctets?: number | bigint;
}

export interface ReceivedDynAuth {
  readonly at: Date;
  readonly from: { readonly address: string; readonly port: number };
  readonly code: number;
  readonly codeName: string;
  readonly identifier: number;
  /** Decoded attributes (empty when the packet could not be decoded). */
  readonly attributes: RadiusAttribute[];
  /** answered | dropped (failed checks, nothing sent) | silent (mode) | garbage (mode). */
  readonly verdict: 'answered' | 'dropped' | 'silent' | 'garbage';
  readonly dropReason?: string;
  /** A retransmission answered from the duplicate cache (nothing re-applied). */
  readonly duplicate: boolean;
  readonly answer?: { readonly code: number; readonly codeName: string; readonly errorCause?: number };
}

export interface NasSimulatorStats {
  requests: number;
  answered: number;
  duplicates: number;
  droppedBadAuthenticator: number;
  droppedMalformed: number;
  droppedStale: number;
  silent: number;
  garbage: number;
}

export interface NasSimulator {
  readonly coaPort: number;
  readonly coaAddress: string;
  readonly nasIpAddress: string;
  readonly received: readonly ReceivedDynAuth[];
  readonly stats: Readonly<NasSimulatorStats>;
  mode: NasSimulatorMode;
  login(user: string, password: string, opts?: LoginOptions): Promise<LoginResult>;
  interim(acctSessionId: string, counters?: CounterUpdate): Promise<SimulatedSession>;
  /** Stop (default User-Request), with the session's final counters when given. */
  logout(
    acctSessionId: string,
    cause?: keyof typeof ACCT_TERMINATE_CAUSE,
    counters?: CounterUpdate,
  ): Promise<SimulatedSession>;
  /** NAS reboot: drops every local session and sends Accounting-On. */
  accountingOn(): Promise<void>;
  sessions(): SimulatedSession[];
  session(acctSessionId: string): SimulatedSession | undefined;
  /** Wait for background Accounting Stops (sent after a Disconnect-ACK). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const noopLogger: NasSimulatorLogger = { debug: () => undefined, warn: () => undefined };

const IDENTIFIERS = ['user-name', 'acct-session-id', 'framed-ip-address', 'calling-station-id'];
const NAS_IDENTIFIERS = ['nas-ip-address', 'nas-identifier'];
const ALWAYS_ALLOWED = ['event-timestamp', 'message-authenticator', 'proxy-state', ...IDENTIFIERS, ...NAS_IDENTIFIERS];
const COA_CHANGES = [
  'mikrotik-rate-limit',
  'session-timeout',
  'idle-timeout',
  'mikrotik-recv-limit',
  'mikrotik-recv-limit-gigawords',
  'mikrotik-xmit-limit',
  'mikrotik-xmit-limit-gigawords',
];

const TWO_32 = 0x1_0000_0000n;

type MutableSession = { -readonly [K in keyof SimulatedSession]: SimulatedSession[K] } & { classes: Buffer[] };

function toBig(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(Math.max(0, Math.floor(v)));
}

function combine(low: number | undefined, high: number | undefined): bigint | undefined {
  if (low === undefined && high === undefined) return undefined;
  return BigInt(high ?? 0) * TWO_32 + BigInt(low ?? 0);
}

function snapshot(s: MutableSession): SimulatedSession {
  const { classes: _classes, ...rest } = s;
  return { ...rest, startedAt: new Date(s.startedAt) };
}

function lowerName(a: RadiusAttribute): string | undefined {
  return isNamedAttribute(a) ? a.name.toLowerCase() : undefined;
}

class Simulator implements NasSimulator {
  readonly received: ReceivedDynAuth[] = [];
  readonly stats: NasSimulatorStats = {
    requests: 0,
    answered: 0,
    duplicates: 0,
    droppedBadAuthenticator: 0,
    droppedMalformed: 0,
    droppedStale: 0,
    silent: 0,
    garbage: 0,
  };
  mode: NasSimulatorMode;
  readonly nasIpAddress: string;
  private readonly log: NasSimulatorLogger;
  private readonly live = new Map<string, MutableSession>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly delays = new Set<() => void>();
  private server!: DynAuthServer;
  private readonly auth: RadiusClient;
  private readonly acct: RadiusClient;
  private readonly coaSecret: string;
  private sessionCounter: number;
  private nextPort = 1;
  private nextIp = 2;
  private closed = false;

  constructor(private readonly opts: NasSimulatorOptions) {
    this.mode = opts.mode ?? 'normal';
    this.log = opts.logger ?? noopLogger;
    this.coaSecret = opts.secret ?? opts.radius.secret;
    this.nasIpAddress =
      opts.nasIpAddress ?? (opts.bindAddress && isIP(opts.bindAddress) === 4 ? opts.bindAddress : '127.0.0.1');
    // MikroTik Acct-Session-Ids are 8 hex digits counting up from a per-boot base.
    this.sessionCounter = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
    const common = {
      host: opts.radius.host,
      secret: opts.radius.secret,
      retransmit: opts.radius.retransmit ?? [1000, 1000, 1000],
      ...(opts.bindAddress ? { bindAddress: opts.bindAddress } : {}),
    };
    this.auth = new RadiusClient({ ...common, port: opts.radius.authPort });
    this.acct = new RadiusClient({ ...common, port: opts.radius.acctPort });
  }

  async listen(): Promise<void> {
    this.server = await DynAuthServer.listen({
      host: this.opts.coa?.host ?? '127.0.0.1',
      port: this.opts.coa?.port ?? 0,
      secret: this.coaSecret,
      eventTimestampWindowSec: this.opts.eventTimestampWindowSec ?? 300,
      duplicateWindowMs: this.opts.duplicateWindowMs ?? 30_000,
      intercept: (msg, from) => this.intercept(msg, from),
      onEvent: (e) => this.onServerEvent(e),
      handler: (req) => this.onRequest(req),
      logger: this.log,
    });
  }

  get coaPort(): number {
    return this.server.port;
  }

  get coaAddress(): string {
    return this.server.address;
  }

  sessions(): SimulatedSession[] {
    return [...this.live.values()].map(snapshot);
  }

  session(acctSessionId: string): SimulatedSession | undefined {
    const s = this.live.get(acctSessionId);
    return s ? snapshot(s) : undefined;
  }

  private nasAttributes(): RadiusAttribute[] {
    return [
      { name: 'NAS-IP-Address', value: this.nasIpAddress },
      ...(this.opts.nasIdentifier !== undefined ? [{ name: 'NAS-Identifier', value: this.opts.nasIdentifier }] : []),
    ];
  }

  private sessionAttributes(s: MutableSession): RadiusAttribute[] {
    return [
      { name: 'User-Name', value: s.userName },
      { name: 'Acct-Session-Id', value: s.acctSessionId },
      ...this.nasAttributes(),
      { name: 'NAS-Port', value: s.nasPort },
      { name: 'NAS-Port-Type', value: 'Wireless-802.11' },
      { name: 'Calling-Station-Id', value: s.macAddress },
      { name: 'Framed-IP-Address', value: s.framedIp },
      { name: 'Acct-Authentic', value: 'RADIUS' },
      ...s.classes.map((c) => ({ name: 'Class', value: c })),
    ];
  }

  private counterAttributes(s: MutableSession): RadiusAttribute[] {
    return [
      { name: 'Acct-Session-Time', value: Math.max(0, Math.floor((Date.now() - s.startedAt.getTime()) / 1000)) },
      { name: 'Acct-Input-Octets', value: Number(s.inputOctets % TWO_32) },
      { name: 'Acct-Input-Gigawords', value: Number(s.inputOctets / TWO_32) },
      { name: 'Acct-Output-Octets', value: Number(s.outputOctets % TWO_32) },
      { name: 'Acct-Output-Gigawords', value: Number(s.outputOctets / TWO_32) },
    ];
  }

  private accounting(status: string, attrs: RadiusAttribute[]): Promise<RadiusResponse> {
    return this.acct.accounting([
      { name: 'Acct-Status-Type', value: status },
      ...attrs,
      { name: 'Event-Timestamp', value: Math.floor(Date.now() / 1000) },
    ]);
  }

  private newSessionId(): string {
    this.sessionCounter = (this.sessionCounter + 1) >>> 0;
    return this.sessionCounter.toString(16).padStart(8, '0');
  }

  private newMac(): string {
    const b = randomBytes(6);
    b[0] = ((b[0] ?? 0) & 0xfe) | 0x02; // locally administered unicast
    return [...b].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
  }

  async login(user: string, password: string, opts: LoginOptions = {}): Promise<LoginResult> {
    const acctSessionId = this.newSessionId();
    const macAddress = opts.macAddress ?? this.newMac();
    const nasPort = this.nextPort++;
    const requestedIp = opts.framedIp;
    const extra: RadiusAttribute[] = [
      ...this.nasAttributes(),
      { name: 'NAS-Port', value: nasPort },
      { name: 'NAS-Port-Type', value: 'Wireless-802.11' },
      { name: 'Service-Type', value: 'Login-User' },
      { name: 'Calling-Station-Id', value: macAddress },
      { name: 'Acct-Session-Id', value: acctSessionId },
      ...(requestedIp ? [{ name: 'Framed-IP-Address', value: requestedIp }] : []),
    ];
    const res = opts.chapResponse
      ? await this.auth.send(PacketCode.AccessRequest, [
          { name: 'User-Name', value: user },
          {
            name: 'CHAP-Password',
            value: Buffer.concat([Buffer.from([opts.chapResponse.id & 0xff]), opts.chapResponse.response]),
          },
          { name: 'CHAP-Challenge', value: opts.chapResponse.challenge },
          ...extra,
        ])
      : opts.method === 'chap'
        ? await this.auth.accessRequestChap(user, password, extra)
        : await this.auth.accessRequestPap(user, password, extra);
    const reply = res.packet.attributes;
    if (res.packet.code !== PacketCode.AccessAccept) {
      return { accepted: false, code: res.packet.code, reply };
    }
    const framedIp = requestedIp ?? getString(reply, 'Framed-IP-Address') ?? this.allocateIp();
    const session: MutableSession = {
      acctSessionId,
      userName: user,
      framedIp,
      macAddress,
      nasPort,
      startedAt: new Date(),
      inputOctets: 0n,
      outputOctets: 0n,
      coaApplied: 0,
      classes: getAttributes(reply, 'Class').filter((c): c is Buffer => Buffer.isBuffer(c)),
    };
    this.applyLimits(session, reply);
    this.live.set(acctSessionId, session);
    try {
      await this.accounting('Start', this.sessionAttributes(session));
    } catch (err) {
      this.live.delete(acctSessionId);
      throw err;
    }
    this.log.debug({ acctSessionId, user, framedIp }, 'nas simulator session started');
    return { accepted: true, code: res.packet.code, reply, session: snapshot(session) };
  }

  private allocateIp(): string {
    const n = this.nextIp++;
    return `10.5.${50 + Math.floor(n / 254)}.${(n % 254) + 1}`;
  }

  /** Session-Timeout, Idle-Timeout, interim interval, rate and byte limits from a reply or CoA. */
  private applyLimits(s: MutableSession, attrs: readonly RadiusAttribute[]): void {
    const num = (name: string): number | undefined => getNumber(attrs, name);
    const st = num('Session-Timeout');
    if (st !== undefined) s.sessionTimeout = st;
    const it = num('Idle-Timeout');
    if (it !== undefined) s.idleTimeout = it;
    const ii = num('Acct-Interim-Interval');
    if (ii !== undefined) s.interimInterval = ii;
    const rate = getString(attrs, 'Mikrotik-Rate-Limit');
    if (rate !== undefined) s.rateLimit = rate;
    const total = combine(num('Mikrotik-Total-Limit'), num('Mikrotik-Total-Limit-Gigawords'));
    if (total !== undefined) s.totalLimit = total;
    const recv = combine(num('Mikrotik-Recv-Limit'), num('Mikrotik-Recv-Limit-Gigawords'));
    if (recv !== undefined) s.recvLimit = recv;
    const xmit = combine(num('Mikrotik-Xmit-Limit'), num('Mikrotik-Xmit-Limit-Gigawords'));
    if (xmit !== undefined) s.xmitLimit = xmit;
  }

  private mustGet(acctSessionId: string): MutableSession {
    const s = this.live.get(acctSessionId);
    if (!s) throw new Error(`no live session ${acctSessionId}`);
    return s;
  }

  async interim(acctSessionId: string, counters: CounterUpdate = {}): Promise<SimulatedSession> {
    const s = this.mustGet(acctSessionId);
    if (counters.inputOctets !== undefined) s.inputOctets = toBig(counters.inputOctets);
    if (counters.outputOctets !== undefined) s.outputOctets = toBig(counters.outputOctets);
    await this.accounting('Interim-Update', [...this.sessionAttributes(s), ...this.counterAttributes(s)]);
    return snapshot(s);
  }

  async logout(
    acctSessionId: string,
    cause: keyof typeof ACCT_TERMINATE_CAUSE = 'User-Request',
    counters: CounterUpdate = {},
  ): Promise<SimulatedSession> {
    const s = this.mustGet(acctSessionId);
    this.live.delete(acctSessionId);
    if (counters.inputOctets !== undefined) s.inputOctets = toBig(counters.inputOctets);
    if (counters.outputOctets !== undefined) s.outputOctets = toBig(counters.outputOctets);
    await this.sendStop(s, cause);
    return snapshot(s);
  }

  private sendStop(s: MutableSession, cause: keyof typeof ACCT_TERMINATE_CAUSE): Promise<RadiusResponse> {
    return this.accounting('Stop', [
      ...this.sessionAttributes(s),
      ...this.counterAttributes(s),
      { name: 'Acct-Terminate-Cause', value: cause },
    ]);
  }

  async accountingOn(): Promise<void> {
    this.live.clear();
    await this.accounting('Accounting-On', [
      ...this.nasAttributes(),
      { name: 'Acct-Session-Id', value: this.newSessionId() },
    ]);
  }

  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  // ------------------------------------------------------------------ CoA / Disconnect server

  private record(entry: ReceivedDynAuth): void {
    this.received.push(entry);
    const limit = this.opts.receivedLimit ?? 10_000;
    if (this.received.length > limit) this.received.splice(0, this.received.length - limit);
  }

  private base(msg: Buffer, from: Peer): Omit<ReceivedDynAuth, 'attributes' | 'verdict'> {
    return {
      at: new Date(),
      from: { address: from.address, port: from.port },
      code: msg[0] ?? 0,
      codeName: packetCodeName(msg[0] ?? 0),
      identifier: msg[1] ?? 0,
      duplicate: false,
    };
  }

  /** Every datagram: counted; the silent and garbage modes take it over before any check. */
  private intercept(msg: Buffer, from: Peer): boolean {
    this.stats.requests++;
    if (this.mode === 'normal') return false;
    let attributes: RadiusAttribute[] = [];
    try {
      attributes = decodePacket(msg).attributes;
    } catch {
      attributes = [];
    }
    const base = this.base(msg, from);
    if (this.mode === 'silent') {
      this.stats.silent++;
      this.record({ ...base, attributes, verdict: 'silent' });
      return true;
    }
    this.stats.garbage++;
    this.record({ ...base, attributes, verdict: 'garbage' });
    void this.delayed().then((go) => {
      if (!go) return;
      this.server.sendRaw(randomBytes(1 + ((randomBytes(1)[0] ?? 0) % 60)), from);
      const fake = randomBytes(20 + ((randomBytes(1)[0] ?? 0) % 40));
      fake[0] = base.code === PacketCode.CoARequest ? PacketCode.CoAAck : PacketCode.DisconnectAck;
      fake[1] = base.identifier;
      fake.writeUInt16BE(20, 2); // header only: the rest is padding
      this.server.sendRaw(fake, from);
    });
    return true;
  }

  private onServerEvent(e: DynAuthServerEvent): void {
    if (e.type === 'dropped') {
      const counter =
        e.reason === 'stale-event-timestamp'
          ? 'droppedStale'
          : e.reason === 'malformed' || e.reason === 'unsupported-code'
            ? 'droppedMalformed'
            : 'droppedBadAuthenticator';
      this.stats[counter]++;
      this.record({
        at: new Date(),
        from: { address: e.from.address, port: e.from.port },
        code: e.code,
        codeName: packetCodeName(e.code),
        identifier: e.identifier,
        duplicate: false,
        attributes: e.packet?.attributes ?? [],
        verdict: 'dropped',
        dropReason: e.reason,
      });
    } else if (e.type === 'duplicate') {
      this.stats.duplicates++;
      this.record({
        at: new Date(),
        from: { address: e.from.address, port: e.from.port },
        code: e.packet.code,
        codeName: packetCodeName(e.packet.code),
        identifier: e.packet.identifier,
        attributes: e.packet.attributes,
        verdict: 'answered',
        duplicate: true,
        ...(e.answer ? { answer: e.answer } : {}),
      });
    } else {
      this.stats.answered++;
    }
  }

  /** Resolves true after respondDelayMs (at once without one), false if the simulator closed meanwhile. */
  private delayed(): Promise<boolean> {
    const delay = this.opts.respondDelayMs ?? 0;
    if (delay <= 0) return Promise.resolve(!this.closed);
    return new Promise<boolean>((resolve) => {
      const cancel = (): void => {
        clearTimeout(t);
        this.delays.delete(cancel);
        resolve(false);
      };
      const t = setTimeout(() => {
        this.delays.delete(cancel);
        resolve(!this.closed);
      }, delay);
      this.delays.add(cancel);
    });
  }

  /** A verified, fresh request: applied at once, answered after respondDelayMs. */
  private async onRequest(req: DynAuthIncoming): Promise<DynAuthAnswer> {
    const packet = req.packet;
    const { code, errorCause } = this.apply(packet);
    const answer = { code, codeName: packetCodeName(code), ...(errorCause === undefined ? {} : { errorCause }) };
    this.record({
      at: new Date(),
      from: { address: req.from.address, port: req.from.port },
      code: packet.code,
      codeName: packetCodeName(packet.code),
      identifier: packet.identifier,
      duplicate: false,
      attributes: packet.attributes,
      verdict: 'answered',
      answer,
    });
    this.log.debug(
      { request: packetCodeName(packet.code), answer: answer.codeName, errorCause },
      'nas simulator answered',
    );
    await this.delayed();
    return errorCause === undefined ? { outcome: 'ack' } : { outcome: 'nak', errorCause };
  }

  /** Decide and apply; returns the answer code and Error-Cause. */
  private apply(packet: RadiusPacket): { code: number; errorCause?: number } {
    const disconnect = packet.code === PacketCode.DisconnectRequest;
    const ack = disconnect ? PacketCode.DisconnectAck : PacketCode.CoAAck;
    const nak = disconnect ? PacketCode.DisconnectNak : PacketCode.CoANak;
    const allowed = disconnect ? ALWAYS_ALLOWED : [...ALWAYS_ALLOWED, ...COA_CHANGES];
    if (packet.attributes.some((a) => !allowed.includes(lowerName(a) ?? ''))) return { code: nak, errorCause: 401 };

    const nasIp = getString(packet, 'NAS-IP-Address');
    const nasId = getString(packet, 'NAS-Identifier');
    if (
      (nasIp !== undefined && nasIp !== this.nasIpAddress) ||
      (nasId !== undefined && nasId !== this.opts.nasIdentifier)
    ) {
      return { code: nak, errorCause: 403 };
    }
    const want = {
      acctSessionId: getString(packet, 'Acct-Session-Id'),
      userName: getString(packet, 'User-Name'),
      framedIp: getString(packet, 'Framed-IP-Address'),
      macAddress: getString(packet, 'Calling-Station-Id'),
    };
    if (Object.values(want).every((v) => v === undefined)) return { code: nak, errorCause: 402 };
    const matches = [...this.live.values()].filter(
      (s) =>
        (want.acctSessionId === undefined || s.acctSessionId === want.acctSessionId) &&
        (want.userName === undefined || s.userName === want.userName) &&
        (want.framedIp === undefined || s.framedIp === want.framedIp) &&
        (want.macAddress === undefined || s.macAddress.toLowerCase() === want.macAddress.toLowerCase()),
    );
    if (matches.length === 0) return { code: nak, errorCause: 503 };

    if (disconnect) {
      for (const s of matches) {
        this.live.delete(s.acctSessionId);
        this.log.debug({ acctSessionId: s.acctSessionId }, 'nas simulator session disconnected');
        const p: Promise<unknown> = this.sendStop(s, 'Admin-Reset')
          .catch((err: unknown) => this.log.warn({ err, acctSessionId: s.acctSessionId }, 'nas simulator stop failed'))
          .finally(() => this.background.delete(p));
        this.background.add(p);
      }
      return { code: ack };
    }
    for (const s of matches) {
      this.applyLimits(s, packet.attributes);
      s.coaApplied++;
    }
    return { code: ack };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of [...this.delays]) cancel();
    await this.server.close();
    await Promise.allSettled([...this.background]);
    await Promise.all([this.auth.close(), this.acct.close()]);
  }
}

/** Start a simulated NAS: binds the CoA port at once; auth/acct sockets open on first use. */
export async function startNasSimulator(opts: NasSimulatorOptions): Promise<NasSimulator> {
  const sim = new Simulator(opts);
  await sim.listen();
  return sim;
}
