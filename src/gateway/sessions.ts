/**
 * The gateway's session table: one session per client IP, opened by an Access-Accept and held to
 * what the reply said. A check every `checkIntervalMs` (on the injected Clock) reads all counters
 * from the firewall driver at once and ends sessions that reached their Session-Timeout,
 * Idle-Timeout (no traffic for that long) or Mikrotik-Total-Limit, with a Stop carrying that
 * Acct-Terminate-Cause (a data limit ends as Session-Timeout, as RouterOS and CoovaChilli report
 * it), and sends Interim-Updates when Acct-Interim-Interval is due. Counters are the driver's
 * (in = upload = Acct-Input-*), split into Gigawords above 4 GiB.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, Timer } from '../lib/clock';
import {
  PacketCode,
  type ACCT_TERMINATE_CAUSE,
  type RadiusAttribute,
  type RadiusClient,
  type RadiusResponse,
} from '../radius';
import type { ClientCounters, ClientLimits, FirewallDriver } from './firewall';
import type { GatewayRadius } from './radius';
import { policyFromReply, type SessionPolicy } from './reply';

export type TerminateCause = keyof typeof ACCT_TERMINATE_CAUSE;

export interface GatewayIdentity {
  /** NAS-Identifier. */
  readonly nasIdentifier: string;
  /** NAS-IP-Address: the gateway's address as FreeRADIUS knows it. */
  readonly nasIpAddress: string;
  /** Called-Station-Id (e.g. the LAN MAC or the hotspot's name). */
  readonly calledStationId: string;
}

export interface Session {
  readonly acctSessionId: string;
  readonly username: string;
  readonly ip: string;
  readonly mac: string;
  readonly nasPort: number;
  readonly startedAt: number;
  policy: SessionPolicy;
  counters: ClientCounters;
  lastActivityAt: number;
  lastInterimAt: number;
}

export type Credentials =
  | { readonly method: 'pap'; readonly password: string }
  /** The gateway hashes the password itself (CHAP on the wire, password known to the gateway). */
  | { readonly method: 'chap'; readonly password: string }
  /** The browser hashed it against a challenge the gateway issued (MikroTik-style portal). */
  | {
      readonly method: 'chap-response';
      readonly chapId: number;
      readonly response: Buffer;
      readonly challenge: Buffer;
    };

export interface LoginRequest {
  readonly username: string;
  readonly credentials: Credentials;
  readonly ip: string;
  readonly mac: string;
}

export type LoginResult =
  | { readonly ok: true; readonly session: Session; readonly already?: boolean }
  | { readonly ok: false; readonly reason: 'rejected' | 'no-server'; readonly message?: string };

export interface SessionTableOptions {
  readonly driver: FirewallDriver;
  readonly radius: GatewayRadius;
  readonly clock: Clock;
  readonly identity: GatewayIdentity;
  /** How often limits and interims are checked. Default 1000 ms. */
  readonly checkIntervalMs?: number;
  readonly logger?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

const TWO_32 = 0x1_0000_0000n;

function split(n: bigint): [number, number] {
  return [Number(n % TWO_32), Number(n / TWO_32)];
}

export class SessionTable {
  private readonly byIp = new Map<string, Session>();
  private timer: Timer | undefined;
  private counter: number;
  private nextPort = 1;
  private checking: Promise<void> | undefined;
  private running = false;

  constructor(private readonly opts: SessionTableOptions) {
    // MikroTik-style Acct-Session-Ids: 8 hex digits counting up from a per-boot base.
    this.counter = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  }

  list(): Session[] {
    return [...this.byIp.values()];
  }

  byAddress(ip: string): Session | undefined {
    return this.byIp.get(ip);
  }

  private nasAttributes(): RadiusAttribute[] {
    const id = this.opts.identity;
    return [
      { name: 'NAS-Identifier', value: id.nasIdentifier },
      { name: 'NAS-IP-Address', value: id.nasIpAddress },
      { name: 'Called-Station-Id', value: id.calledStationId },
      { name: 'NAS-Port-Type', value: 'Wireless-802.11' },
    ];
  }

  private sessionAttributes(s: Session): RadiusAttribute[] {
    return [
      { name: 'User-Name', value: s.username },
      { name: 'Acct-Session-Id', value: s.acctSessionId },
      ...this.nasAttributes(),
      { name: 'NAS-Port', value: s.nasPort },
      { name: 'Calling-Station-Id', value: s.mac },
      { name: 'Framed-IP-Address', value: s.ip },
      { name: 'Acct-Authentic', value: 'RADIUS' },
      ...s.policy.classes.map((c) => ({ name: 'Class', value: c })),
    ];
  }

  private counterAttributes(s: Session, now: number): RadiusAttribute[] {
    const [inLow, inHigh] = split(s.counters.bytesIn);
    const [outLow, outHigh] = split(s.counters.bytesOut);
    return [
      { name: 'Acct-Session-Time', value: Math.max(0, Math.floor((now - s.startedAt) / 1000)) },
      { name: 'Acct-Input-Octets', value: inLow },
      { name: 'Acct-Input-Gigawords', value: inHigh },
      { name: 'Acct-Output-Octets', value: outLow },
      { name: 'Acct-Output-Gigawords', value: outHigh },
      { name: 'Acct-Input-Packets', value: Number(s.counters.packetsIn % TWO_32) },
      { name: 'Acct-Output-Packets', value: Number(s.counters.packetsOut % TWO_32) },
    ];
  }

  private account(s: Session, status: string, extra: RadiusAttribute[], now: number): void {
    void this.opts.radius
      .account(
        s.acctSessionId,
        [
          { name: 'Acct-Status-Type', value: status },
          ...this.sessionAttributes(s),
          ...extra,
          { name: 'Event-Timestamp', value: Math.floor(now / 1000) },
        ],
        now,
      )
      .catch((err: unknown) =>
        this.opts.logger?.warn({ err, acctSessionId: s.acctSessionId, status }, 'gateway: accounting failed'),
      );
  }

  /** Accounting-On (start) / Accounting-Off (clean stop): FreeRADIUS closes this NAS's sessions. */
  nasAccounting(status: 'Accounting-On' | 'Accounting-Off'): Promise<void> {
    const now = this.opts.clock.now();
    return this.opts.radius.account(
      `nas:${status}`,
      [
        { name: 'Acct-Status-Type', value: status },
        ...this.nasAttributes(),
        { name: 'Acct-Session-Id', value: this.newSessionId() },
        { name: 'Event-Timestamp', value: Math.floor(now / 1000) },
      ],
      now,
    );
  }

  private newSessionId(): string {
    this.counter = (this.counter + 1) >>> 0;
    return this.counter.toString(16).padStart(8, '0');
  }

  async login(req: LoginRequest): Promise<LoginResult> {
    const existing = this.byIp.get(req.ip);
    if (existing && existing.mac === req.mac.toLowerCase() && existing.username === req.username) {
      return { ok: true, session: existing, already: true };
    }
    const acctSessionId = this.newSessionId();
    const nasPort = this.nextPort++;
    const extra: RadiusAttribute[] = [
      ...this.nasAttributes(),
      { name: 'NAS-Port', value: nasPort },
      { name: 'Service-Type', value: 'Login-User' },
      { name: 'Calling-Station-Id', value: req.mac.toLowerCase() },
      { name: 'Framed-IP-Address', value: req.ip },
      { name: 'Acct-Session-Id', value: acctSessionId },
    ];
    const c = req.credentials;
    const send = (client: RadiusClient): Promise<RadiusResponse> => {
      const ma = { addMessageAuthenticator: true };
      if (c.method === 'pap') return client.accessRequestPap(req.username, c.password, extra, ma);
      if (c.method === 'chap') return client.accessRequestChap(req.username, c.password, extra, ma);
      return client.send(
        PacketCode.AccessRequest,
        [
          { name: 'User-Name', value: req.username },
          { name: 'CHAP-Password', value: Buffer.concat([Buffer.from([c.chapId & 0xff]), c.response]) },
          { name: 'CHAP-Challenge', value: c.challenge },
          ...extra,
        ],
        ma,
      );
    };
    let res: RadiusResponse;
    try {
      res = await this.opts.radius.access(send);
    } catch (err) {
      this.opts.logger?.warn({ err }, 'gateway: no RADIUS server answered the login');
      return { ok: false, reason: 'no-server' };
    }
    if (res.packet.code !== PacketCode.AccessAccept) {
      const msg = res.packet.attributes.find((a) => 'name' in a && a.name === 'Reply-Message');
      return {
        ok: false,
        reason: 'rejected',
        ...(msg && 'value' in msg && typeof msg.value === 'string' ? { message: msg.value } : {}),
      };
    }
    const policy = policyFromReply(res.packet.attributes);
    // One IP is one session: the previous holder of this address is logged out first.
    if (existing) await this.end(existing, 'Lost-Carrier');
    const now = this.opts.clock.now();
    const session: Session = {
      acctSessionId,
      username: req.username,
      ip: req.ip,
      mac: req.mac.toLowerCase(),
      nasPort,
      startedAt: now,
      policy,
      counters: { bytesIn: 0n, bytesOut: 0n, packetsIn: 0n, packetsOut: 0n },
      lastActivityAt: now,
      lastInterimAt: now,
    };
    await this.opts.driver.allow({ mac: session.mac, ip: session.ip }, policy.limits);
    this.byIp.set(session.ip, session);
    this.account(session, 'Start', [], now);
    this.opts.logger?.debug({ acctSessionId, username: req.username, ip: req.ip }, 'gateway: session started');
    return { ok: true, session };
  }

  /** End a session: the client is blocked again and a Stop with its final counters is queued. */
  async end(s: Session, cause: TerminateCause): Promise<void> {
    if (this.byIp.get(s.ip) !== s) return;
    this.byIp.delete(s.ip);
    const final = await this.opts.driver.revoke({ mac: s.mac, ip: s.ip });
    if (final) s.counters = final;
    const now = this.opts.clock.now();
    this.account(s, 'Stop', [...this.counterAttributes(s, now), { name: 'Acct-Terminate-Cause', value: cause }], now);
    this.opts.logger?.debug({ acctSessionId: s.acctSessionId, cause }, 'gateway: session ended');
  }

  /** A CoA: new limits and/or timeouts for a live session. */
  async change(
    s: Session,
    changes: { limits?: ClientLimits; sessionTimeout?: number; idleTimeout?: number },
  ): Promise<void> {
    if (changes.limits) {
      await this.opts.driver.updateLimits({ mac: s.mac, ip: s.ip }, changes.limits);
      s.policy.limits = changes.limits;
    }
    if (changes.sessionTimeout !== undefined) s.policy.sessionTimeout = changes.sessionTimeout;
    if (changes.idleTimeout !== undefined) s.policy.idleTimeout = changes.idleTimeout;
  }

  /** One pass: read counters, end sessions at a limit, send due Interim-Updates. */
  async check(): Promise<void> {
    if (this.byIp.size === 0) return;
    const allowed = await this.opts.driver.listAllowed();
    const now = this.opts.clock.now();
    const counters = new Map(allowed.map((a) => [a.ip, a.counters]));
    for (const s of [...this.byIp.values()]) {
      const c = counters.get(s.ip);
      if (!c) {
        // Gone from the firewall behind our back (flushed by hand): the session cannot go on.
        await this.end(s, 'NAS-Error');
        continue;
      }
      if (c.bytesIn !== s.counters.bytesIn || c.bytesOut !== s.counters.bytesOut) s.lastActivityAt = now;
      s.counters = c;
      const p = s.policy;
      if (p.sessionTimeout !== undefined && now - s.startedAt >= p.sessionTimeout * 1000) {
        await this.end(s, 'Session-Timeout');
      } else if (p.totalLimit !== undefined && c.bytesIn + c.bytesOut >= p.totalLimit) {
        await this.end(s, 'Session-Timeout');
      } else if (p.idleTimeout !== undefined && now - s.lastActivityAt >= p.idleTimeout * 1000) {
        await this.end(s, 'Idle-Timeout');
      } else if (p.interimInterval !== undefined && now - s.lastInterimAt >= p.interimInterval * 1000) {
        s.lastInterimAt = now;
        this.account(s, 'Interim-Update', this.counterAttributes(s, now), now);
      }
    }
  }

  /** Start the periodic check. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const every = this.opts.checkIntervalMs ?? 1000;
    const arm = (): void => {
      this.timer = this.opts.clock.setTimer(every, () => {
        this.checking = this.check()
          .catch((err: unknown) => this.opts.logger?.warn({ err }, 'gateway: session check failed'))
          .finally(() => {
            this.checking = undefined;
            if (this.running) arm();
          });
      });
    };
    arm();
  }

  /** Stop checking; with `cause`, end every session (their Stops are queued). */
  async stop(cause?: TerminateCause): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.checking;
    if (cause) for (const s of [...this.byIp.values()]) await this.end(s, cause);
  }
}
