/**
 * The gateway's RADIUS client side (on src/radius's transport): Access-Requests to the primary
 * server and, when it does not answer, the secondary (the one that answered last is asked first);
 * accounting through a queue that retransmits each request until a server answers, so a
 * FreeRADIUS or database outage delays accounting and loses none of it. Requests of one session
 * stay in order (Start before Interim before Stop); Acct-Delay-Time says how late a request is.
 */
import type { Clock } from '../lib/clock';
import { PacketCode, RadiusClient, RadiusTimeoutError, type RadiusAttribute, type RadiusResponse } from '../radius';

export interface RadiusServer {
  readonly host: string;
  readonly authPort: number;
  readonly acctPort: number;
}

export interface GatewayRadiusOptions {
  readonly servers: readonly RadiusServer[];
  readonly secret: string;
  readonly clock: Clock;
  /** Per server and request: delays in ms after each transmission. Default 2 s, 3 transmissions. */
  readonly retransmit?: readonly number[];
  /** Wait after every server failed one accounting round, before the next. Default 5 s. */
  readonly accountingRetryMs?: number;
  readonly bindAddress?: string;
  readonly logger?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

interface Pair {
  readonly server: RadiusServer;
  readonly auth: RadiusClient;
  readonly acct: RadiusClient;
}

export class GatewayRadius {
  private readonly pairs: Pair[];
  private activeAuth = 0;
  private activeAcct = 0;
  private readonly chains = new Map<string, Promise<void>>();
  private queued = 0;
  private stopped = false;
  private readonly waiters = new Set<() => void>();
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly opts: GatewayRadiusOptions) {
    if (opts.servers.length === 0) throw new Error('at least one RADIUS server');
    const retransmit = opts.retransmit ?? [2000, 2000, 2000];
    // Retransmission is an I/O detail on the system clock; the gateway's clock orders retries and delays.
    const common = { secret: opts.secret, retransmit, ...(opts.bindAddress ? { bindAddress: opts.bindAddress } : {}) };
    this.pairs = opts.servers.map((server) => ({
      server,
      auth: new RadiusClient({ ...common, host: server.host, port: server.authPort }),
      acct: new RadiusClient({ ...common, host: server.host, port: server.acctPort }),
    }));
  }

  /** Accounting requests not yet answered. */
  get pendingAccounting(): number {
    return this.queued;
  }

  /** Index of the server accounting goes to now (0 = primary). */
  get accountingServer(): number {
    return this.activeAcct;
  }

  /**
   * Send an Access-Request built by `send` to the active server, failing over on a timeout;
   * rejects with the last RadiusTimeoutError when no server answers.
   */
  async access(send: (client: RadiusClient) => Promise<RadiusResponse>): Promise<RadiusResponse> {
    let last: unknown;
    for (let i = 0; i < this.pairs.length; i++) {
      const index = (this.activeAuth + i) % this.pairs.length;
      try {
        const res = await send(this.pairs[index]!.auth);
        this.activeAuth = index;
        return res;
      } catch (err) {
        if (!(err instanceof RadiusTimeoutError)) throw err;
        this.opts.logger?.warn(
          { server: this.pairs[index]!.server.host },
          'gateway: RADIUS server did not answer, trying the next',
        );
        last = err;
      }
    }
    throw last;
  }

  /**
   * Queue an Accounting-Request; resolves once a server answered it (or the gateway stopped).
   * `key` orders requests (a session's Acct-Session-Id); `eventAt` is when the event happened.
   */
  account(key: string, attrs: readonly RadiusAttribute[], eventAt = this.opts.clock.now()): Promise<void> {
    this.queued++;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(() => this.deliver(attrs, eventAt))
      .finally(() => {
        this.queued--;
        if (this.chains.get(key) === next) this.chains.delete(key);
        if (this.queued === 0) for (const w of [...this.waiters]) w();
      });
    this.chains.set(key, next);
    return next;
  }

  private async deliver(attrs: readonly RadiusAttribute[], eventAt: number): Promise<void> {
    for (;;) {
      for (let i = 0; i < this.pairs.length; i++) {
        if (this.stopped) return;
        const index = (this.activeAcct + i) % this.pairs.length;
        const delay = Math.max(0, Math.floor((this.opts.clock.now() - eventAt) / 1000));
        const withDelay = delay > 0 ? [...attrs, { name: 'Acct-Delay-Time', value: delay }] : attrs;
        try {
          const res = await this.pairs[index]!.acct.send(PacketCode.AccountingRequest, withDelay);
          if (res.packet.code === PacketCode.AccountingResponse) {
            this.activeAcct = index;
            return;
          }
        } catch (err) {
          if (this.stopped) return;
          if (!(err instanceof RadiusTimeoutError)) throw err;
          this.opts.logger?.warn(
            { server: this.pairs[index]!.server.host },
            'gateway: accounting not answered, trying the next server',
          );
        }
      }
      await this.pause(this.opts.accountingRetryMs ?? 5000);
    }
  }

  /** The wait between rounds; drain() cuts it short (a stopping gateway tries once more at once). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        timer.cancel();
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = this.opts.clock.setTimer(ms, wake);
      this.sleepers.add(wake);
    });
  }

  /** Resolves when the queue is empty or after `ms` (whichever first); true if empty. */
  drain(ms: number): Promise<boolean> {
    if (this.queued === 0) return Promise.resolve(true);
    for (const wake of [...this.sleepers]) wake();
    return new Promise<boolean>((resolve) => {
      const timer = this.opts.clock.setTimer(ms, () => {
        this.waiters.delete(done);
        resolve(this.queued === 0);
      });
      const done = (): void => {
        timer.cancel();
        this.waiters.delete(done);
        resolve(true);
      };
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all(this.pairs.flatMap((p) => [p.auth.close(), p.acct.close()]));
  }
}
