/**
 * The outbox sender: claims due enforcement actions and sends them with the RFC 5176 client
 * (src/radius/dynauth-client.ts), then records each outcome: ack | nak (Error-Cause) | timeout,
 * never a boolean.
 *
 * Why two workers never send the same action: a row is sent only by the worker whose claim
 * moved it from pending to sending (FOR UPDATE SKIP LOCKED, status re-checked under the lock;
 * see modules/enforcement/outbox.repo.ts). Another worker sees it again only after its lease (claimed_until) has run out,
 * and this worker gives up on a send well before that (an AbortSignal at 80 % of the lease), so
 * the lease only ever expires when this worker is gone. Outcomes are written fenced by
 * claimed_by. A worker killed mid-batch loses nothing: its rows go back to pending when the
 * lease runs out (reclaimExpired) and are sent by whoever runs next.
 *
 * Throughput and isolation: up to `maxInFlight` requests at once, and per NAS a window that
 * adapts to its measured round trip (src/jobs/nas-window.ts: starts small, grows while the round
 * trip stays flat, shrinks when the NAS queues or needed a retransmission), at most `perNas` (the
 * 256 RADIUS Identifiers per destination bound it anyway). A claim takes per NAS at most the
 * room of its window (modules/enforcement/outbox.repo.ts claimDue); actions beyond it (a window
 * that shrank meanwhile) wait in this worker for a free slot, and a NAS with a full window gets no new claims, so a
 * router that handles CoA one at a time gets them paced instead of all at once, and
 * retransmissions are left for packets really lost. A NAS that is silent or answers garbage
 * (every such reply fails the authenticator check and is dropped and logged by the client) only
 * fills its own window until its requests time out; claims skip a saturated NAS, so the others
 * keep flowing. Outcomes are written in batches (one UPDATE per flush).
 *
 * Retries: a timeout is tried again after retryDelaysMs[attempt-1] until max_attempts; then the
 * action ends as timeout and, for a NAS with RouterOS API credentials, the fallback kick runs
 * (src/mikrotik/fallback.ts) and its outcome is recorded next to the RADIUS one. A NAK is final.
 *
 * Targets: the NAS address comes from a row a tenant writes, so it is checked against the
 * enforcement target networks (src/config/networks.ts) before anything is sent; an address
 * outside them ends the action as failed (TARGET_NOT_ALLOWED) without a packet or a fallback.
 *
 * Database errors: a lost connection is retried with backoff (claims and outcomes alike); an
 * outcome the database refuses for any other reason is not retried: completeMany narrows it
 * down to the row, which is marked failed and logged once with its id.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { isIP } from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { DynAuthClient, DynAuthRequest, DynAuthResult } from '../radius/dynauth-client';
import { RadiusCodecError } from '../radius/errors';
import type { RouterOsTarget, SessionToKick, FallbackOptions } from '../mikrotik/fallback';
import type { TargetGuard } from '../config/networks';
import { isTransientDbError } from '../db/errors';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import { retryDelay } from '../lib/retry-delay';
import { NasWindows } from './nas-window';
import {
  claimDue,
  completeMany,
  reclaimExpired,
  type ActionResult,
  type ClaimedAction,
} from '../modules/enforcement/outbox.repo';

export type RouterOsKickFn = (
  nas: RouterOsTarget,
  session: SessionToKick,
  opts: FallbackOptions,
) => Promise<{ removed: number }>;

export interface SenderOptions {
  /** Identifies this worker in claimed_by. Default host:pid:random. */
  workerId?: string;
  /** Rows per claim. Default 500. */
  batchSize?: number;
  /** Actions held at once (sent, or waiting for their NAS's window). Default 4096. */
  maxInFlight?: number;
  /** Most requests in flight per NAS. Default 256 (the RADIUS Identifier space). */
  perNas?: number;
  /** Window of a NAS not heard from yet (it adapts from there, nas-window.ts). Default 8. */
  initialPerNas?: number;
  /** Queueing delay a NAS may build before its window stops growing. Default 250 ms. */
  nasQueueDelayMs?: number;
  /** While only capacity holds claims back, claim at most this often. Default 10 ms. */
  claimGapMs?: number;
  /** Claim lease. Must exceed the longest send (CoA schedule mrd + fallback). Default 120 s. */
  leaseSeconds?: number;
  /** Delay before attempt n+1 after attempt n timed out: entry n-1 (the last repeats). Default 5 s, 30 s, 2 min. */
  retryDelaysMs?: readonly number[];
  /** Attempts per action before it ends as timeout. Default: the row's max_attempts (3). */
  maxAttempts?: number;
  /** Poll for due rows when nothing woke us. Default 1000 ms. */
  pollMs?: number;
  /** Give up on the RouterOS fallback after this long. Default 15 s. */
  fallbackTimeoutMs?: number;
  /** Outcomes wait at most this long to be written together. Default 20 ms. */
  flushMs?: number;
}

export interface SenderStats {
  claimed: number;
  ack: number;
  nak: number;
  timeout: number;
  retried: number;
  failed: number;
  cancelled: number;
  fallbacks: number;
  reclaimed: number;
  dbErrors: number;
}

const NO_NAS = '-';
const INT4_MAX = 2 ** 31 - 1;

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Error text safe to store and show: our own error codes, never a driver's or a router's prose. */
function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  if (e && typeof e.code === 'string') return e.code;
  if (e && typeof e.name === 'string') return e.name;
  return 'ERROR';
}

export class EnforcementSender {
  readonly workerId: string;
  readonly stats: SenderStats = {
    claimed: 0,
    ack: 0,
    nak: 0,
    timeout: 0,
    retried: 0,
    failed: 0,
    cancelled: 0,
    fallbacks: 0,
    reclaimed: 0,
    dbErrors: 0,
  };
  private readonly o: Required<Omit<SenderOptions, 'maxAttempts'>> & Pick<SenderOptions, 'maxAttempts'>;
  private readonly log: Logger;
  private readonly inflight = new Map<string, string>(); // action id -> nas key (sent or waiting)
  /** Claimed actions waiting for a slot in their NAS's window, per NAS, in claim order. */
  private readonly waiting = new Map<string, Array<{ a: ClaimedAction; claimedAt: number }>>();
  private readonly windows: NasWindows;
  private results: ActionResult[] = [];
  private flushTimer: Timer | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private wakeUp: (() => void) | undefined;
  /** What the loop sleeps for: new work (NOTIFY, a local check), or also freed capacity. */
  private waitingFor: 'work' | 'capacity' = 'work';
  private woken = false;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private lastReclaim = 0;
  /** During stop(): outcomes not written by then are given up (their leases will expire). */
  private giveUpFlushAt = Infinity;

  constructor(
    private readonly db: Knex,
    private readonly dynauth: DynAuthClient,
    logger: Logger,
    private readonly targets: TargetGuard,
    opts: SenderOptions = {},
    private readonly kick?: RouterOsKickFn,
    /** Waits and timestamps (tests move a fake one). */
    private readonly clock: Clock = systemClock,
  ) {
    this.workerId = opts.workerId ?? defaultWorkerId();
    this.o = {
      workerId: this.workerId,
      batchSize: opts.batchSize ?? 500,
      maxInFlight: opts.maxInFlight ?? 4096,
      perNas: opts.perNas ?? 256,
      initialPerNas: opts.initialPerNas ?? 8,
      nasQueueDelayMs: opts.nasQueueDelayMs ?? 250,
      claimGapMs: opts.claimGapMs ?? 10,
      leaseSeconds: opts.leaseSeconds ?? 120,
      retryDelaysMs: opts.retryDelaysMs ?? [5_000, 30_000, 120_000],
      maxAttempts: opts.maxAttempts,
      pollMs: opts.pollMs ?? 1000,
      fallbackTimeoutMs: opts.fallbackTimeoutMs ?? 15_000,
      flushMs: opts.flushMs ?? 20,
    };
    this.log = logger.child({ module: 'enforcement-sender', worker: this.workerId });
    this.windows = new NasWindows({
      initial: this.o.initialPerNas,
      max: this.o.perNas,
      queueDelayMs: this.o.nasQueueDelayMs,
    });
  }

  /** The current window of a NAS (requests it may have in flight). */
  nasWindow(nasId: string): number {
    return this.windows.window(nasId);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was queued (NOTIFY, or a check in this process): claim now. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** A request finished: claim again only if the last claim was held back by capacity. */
  private freed(): void {
    if (this.waitingFor === 'capacity') this.wake();
  }

  /** Stops claiming, lets requests in flight finish, writes their outcomes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    for (const nasKey of [...this.waiting.keys()]) this.pump(nasKey);
    while (this.inflight.size > 0) await this.idle(50, 'capacity');
    this.giveUpFlushAt = this.clock.now() + 10_000;
    await this.flush();
  }

  private idle(ms: number, waitingFor: 'work' | 'capacity' = 'work'): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    this.waitingFor = waitingFor;
    return new Promise((resolve) => {
      const done = (): void => {
        t.cancel();
        if (this.wakeUp === wakeUp) this.wakeUp = undefined;
        this.waitingFor = 'work';
        resolve();
      };
      // Consumes the wake-up only while this sleep is the current one; a wake() that arrives
      // while the loop is busy stays in `woken` and makes the next sleep return at once.
      const wakeUp = (): void => {
        this.woken = false;
        done();
      };
      const t = this.clock.setTimer(ms, done);
      this.wakeUp = wakeUp;
    });
  }

  /**
   * Room per NAS known here (what the next claim may take for it): 0 for a NAS whose window is
   * full or that has actions waiting here (its rows are left for later or for other workers).
   */
  private nasRooms(): Map<string, number> {
    const out = this.windows.rooms();
    for (const nas of this.waiting.keys()) out.set(nas, 0);
    out.delete(NO_NAS);
    return out;
  }

  /**
   * Claim, dispatch, sleep. Claims are one indexed statement each; the loop claims again at once
   * while claims come back full, waits for freed capacity when it is the limit (all of this
   * worker's slots, or every NAS with due work saturated), and otherwise sleeps until new work
   * is announced or `pollMs` passes (retries whose backoff ran out).
   */
  private async run(): Promise<void> {
    let failures = 0;
    const minRoom = Math.max(1, Math.min(this.o.batchSize, 64));
    while (!this.stopping) {
      if (this.clock.now() - this.lastReclaim > Math.max(1000, (this.o.leaseSeconds * 1000) / 4)) {
        this.lastReclaim = this.clock.now();
        // On its own: a failed reclaim must not keep the loop from claiming.
        try {
          const n = await reclaimExpired(this.db);
          if (n > 0) {
            this.stats.reclaimed += n;
            this.log.warn({ count: n }, 'reclaimed actions whose lease expired');
          }
        } catch (err) {
          this.stats.dbErrors++;
          this.log.warn({ err }, 'reclaiming expired leases failed');
        }
      }
      try {
        const room = this.o.maxInFlight - this.inflight.size;
        if (room < minRoom && this.inflight.size > 0) {
          await this.idle(this.o.pollMs, 'capacity');
          continue;
        }
        const limit = Math.min(this.o.batchSize, room);
        const nasRooms = this.nasRooms();
        const claimedAt = this.clock.now();
        const rows = await claimDue(this.db, {
          worker: this.workerId,
          limit,
          leaseSeconds: this.o.leaseSeconds,
          nasRooms,
          defaultNasRoom: this.windows.initialRoom,
          ...(this.o.maxAttempts !== undefined ? { maxAttempts: this.o.maxAttempts } : {}),
        });
        failures = 0;
        this.stats.claimed += rows.length;
        for (const a of rows) this.dispatch(a, claimedAt);
        if (rows.length < limit) {
          if (rows.length > 0 || [...nasRooms.values()].some((r) => r === 0)) {
            // Held back by the windows (this claim took what they had room for, or some are
            // full): wait for answers, then claim no more often than claimGapMs (a claim per
            // answer would cost the database more than it sends).
            await this.idle(this.o.pollMs, 'capacity');
            await this.clock.sleep(this.o.claimGapMs);
          } else {
            await this.idle(this.o.pollMs, 'work');
          }
          this.windows.prune(this.clock.now());
        }
      } catch (err) {
        failures++;
        this.stats.dbErrors++;
        const wait = retryDelay(failures, { capMs: 5000 });
        this.log.warn({ err, retryInMs: wait }, 'enforcement claim failed');
        await this.idle(wait, 'work');
      }
    }
  }

  private dispatch(a: ClaimedAction, claimedAt: number): void {
    const nasKey = a.nas_id ?? NO_NAS;
    this.inflight.set(a.id, nasKey);
    const queue = this.waiting.get(nasKey);
    if (nasKey === NO_NAS || (!queue && this.windows.room(nasKey) > 0)) this.send(a, claimedAt, nasKey);
    else if (queue) queue.push({ a, claimedAt });
    else this.waiting.set(nasKey, [{ a, claimedAt }]);
  }

  /** Sends what waits for this NAS while its window has room. */
  private pump(nasKey: string): void {
    const queue = this.waiting.get(nasKey);
    if (!queue) return;
    while (queue.length > 0 && (this.stopping || this.windows.room(nasKey) > 0)) {
      const next = queue.shift()!;
      if (this.stopping) this.giveBack(next.a);
      else this.send(next.a, next.claimedAt, nasKey);
    }
    if (queue.length === 0) this.waiting.delete(nasKey);
  }

  /** An action that waited here and will not be sent by this worker: pending again at once, not an attempt. */
  private giveBack(a: ClaimedAction): void {
    this.inflight.delete(a.id);
    this.record({ id: a.id, status: 'pending', attempted: false, retryInMs: 0 });
  }

  private send(a: ClaimedAction, claimedAt: number, nasKey: string): void {
    this.windows.sent(nasKey);
    void this.handle(a, claimedAt, nasKey)
      .catch((err: unknown): ActionResult => {
        this.log.error({ err, actionId: a.id }, 'enforcement action crashed');
        return { id: a.id, status: 'failed', attempted: false, lastError: errorCode(err) };
      })
      .then((r) => {
        // A plan change merged into this CoA meanwhile is told apart by its attributes.
        if (a.kind === 'coa') r.claimedAttributes = a.attributes;
        this.inflight.delete(a.id);
        this.windows.release(nasKey);
        this.record(r);
        this.pump(nasKey);
        this.freed();
      });
  }

  private retryDelay(attempt: number): number {
    const d = this.o.retryDelaysMs;
    return d[Math.min(attempt - 1, d.length - 1)] ?? 5000;
  }

  private async handle(a: ClaimedAction, claimedAt: number, nasKey: string): Promise<ActionResult> {
    if (a.cancel_reason) {
      this.stats.cancelled++;
      return { id: a.id, status: 'cancelled', attempted: false, lastError: a.cancel_reason };
    }
    if (a.nas_address === null || a.nas_secret === null || a.nas_coa_port === null) {
      this.stats.failed++;
      return { id: a.id, status: 'failed', attempted: false, lastError: 'NAS_NOT_FOUND' };
    }
    const refused = this.targets.refusal(a.nas_address);
    if (refused !== null) {
      this.stats.failed++;
      this.log.warn(
        { actionId: a.id, tenantId: a.tenant_id, nas: a.nas_address, refused },
        'enforcement target not allowed',
      );
      return {
        id: a.id,
        status: 'failed',
        attempted: false,
        lastError: `TARGET_NOT_ALLOWED: ${a.nas_address}: ${refused}`,
      };
    }
    const req: DynAuthRequest = {
      kind: a.kind,
      userName: a.username,
      acctSessionId: a.acct_session_id,
      ...(a.framed_ip && isIP(a.framed_ip) === 4 ? { framedIpAddress: a.framed_ip } : {}),
      ...(a.nas_ip && isIP(a.nas_ip) === 4 ? { nasIpAddress: a.nas_ip } : {}),
      ...(a.nas_identifier ? { nasIdentifier: a.nas_identifier } : {}),
      ...(a.kind === 'coa' && a.attributes.length > 0 ? { attributes: a.attributes } : {}),
    };
    // Give up well before the lease ends, so the lease only expires when this worker is gone.
    const signal = AbortSignal.timeout(Math.max(1000, claimedAt + this.o.leaseSeconds * 800 - this.clock.now()));
    const attempt = a.attempts + 1;
    let result: DynAuthResult;
    try {
      result = await this.dynauth.send({ host: a.nas_address, port: a.nas_coa_port, secret: a.nas_secret }, req, {
        signal,
      });
      this.windows.observe(
        nasKey,
        result.outcome === 'timeout'
          ? { answered: false }
          : { answered: true, rttMs: result.rttMs, attempts: result.attempts },
        this.clock.now(),
      );
    } catch (err) {
      if (err instanceof RadiusCodecError) {
        // The request itself is wrong (an attribute the dictionary does not know...): no retry helps.
        this.stats.failed++;
        this.log.warn({ err, actionId: a.id }, 'enforcement request cannot be built');
        return { id: a.id, status: 'failed', attempted: false, lastError: err.code };
      }
      const code = signal.aborted ? 'LEASE_ENDING' : errorCode(err);
      this.log.warn({ err, actionId: a.id, nas: a.nas_address }, 'enforcement send failed');
      if (attempt < a.max_attempts || signal.aborted) {
        this.stats.retried++;
        return {
          id: a.id,
          status: 'pending',
          attempted: !signal.aborted,
          retryInMs: this.retryDelay(attempt),
          lastError: code,
        };
      }
      this.stats.failed++;
      return { id: a.id, status: 'failed', attempted: true, lastError: code };
    }
    if (result.outcome === 'ack') {
      this.stats.ack++;
      return { id: a.id, status: 'ack', attempted: true, rttMs: result.rttMs, errorCause: null };
    }
    if (result.outcome === 'nak') {
      this.stats.nak++;
      this.log.info({ actionId: a.id, errorCause: result.errorCause, nas: a.nas_address }, 'enforcement nak');
      // Error-Cause is a 32-bit unsigned value from the NAS; the column holds what RFC 5176
      // defines (201..508) and anything else that fits, never what would make the row unwritable.
      const cause = result.errorCause;
      if (cause !== undefined && cause > INT4_MAX) {
        return {
          id: a.id,
          status: 'nak',
          attempted: true,
          rttMs: result.rttMs,
          errorCause: null,
          lastError: `ERROR_CAUSE_OUT_OF_RANGE: ${cause}`,
        };
      }
      return { id: a.id, status: 'nak', attempted: true, rttMs: result.rttMs, errorCause: cause ?? null };
    }
    if (attempt < a.max_attempts) {
      this.stats.retried++;
      return {
        id: a.id,
        status: 'pending',
        attempted: true,
        retryInMs: this.retryDelay(attempt),
        lastError: 'TIMEOUT',
      };
    }
    this.stats.timeout++;
    this.log.warn({ actionId: a.id, nas: a.nas_address, attempts: attempt }, 'enforcement timed out');
    const out: ActionResult = { id: a.id, status: 'timeout', attempted: true, lastError: 'TIMEOUT' };
    if (a.nas_api_username !== null && this.kick) out.fallback = await this.fallback(a);
    return out;
  }

  private async fallback(a: ClaimedAction): Promise<NonNullable<ActionResult['fallback']>> {
    this.stats.fallbacks++;
    try {
      const r = await this.kick!(
        {
          address: a.nas_address!,
          apiPort: a.nas_api_port ?? 8728,
          apiUsername: a.nas_api_username!,
          apiPassword: a.nas_api_password ?? '',
          apiTls: a.nas_api_tls === true,
        },
        { username: a.username, framedIp: a.framed_ip, acctSessionId: a.acct_session_id },
        { signal: AbortSignal.timeout(this.o.fallbackTimeoutMs), logger: this.log },
      );
      this.log.info({ actionId: a.id, removed: r.removed }, 'routeros fallback done');
      return { status: r.removed > 0 ? 'removed' : 'not_found', removed: r.removed, error: null };
    } catch (err) {
      this.log.warn({ err, actionId: a.id, nas: a.nas_address }, 'routeros fallback failed');
      return { status: 'failed', removed: null, error: errorCode(err) };
    }
  }

  private record(r: ActionResult): void {
    this.results.push(r);
    if (this.results.length >= 500) void this.flush();
    else this.flushTimer ??= this.clock.setTimer(this.o.flushMs, () => void this.flush());
  }

  /**
   * Writes buffered outcomes. When the database is unreachable they are kept and written later
   * (with backoff); any other refusal was narrowed down to single rows by completeMany, which
   * marked them failed; what even that could not write is given up (its lease runs out and the
   * action is sent again), never retried in a loop.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      this.flushTimer?.cancel();
      this.flushTimer = undefined;
      let failures = 0;
      while (this.results.length > 0) {
        const batch = this.results.splice(0, 1000);
        try {
          const { owned, rejected } = await completeMany(this.db, this.workerId, batch);
          for (const r of rejected) {
            this.stats.failed++;
            this.log.error(
              { err: r.cause, actionId: r.id, error: r.error },
              'enforcement outcome refused by the database; action marked failed',
            );
          }
          if (owned.length < batch.length) {
            this.log.warn(
              { lost: batch.length - owned.length },
              'outcomes for actions no longer claimed by this worker were not written',
            );
          }
          failures = 0;
        } catch (err) {
          if (!isTransientDbError(err)) {
            this.stats.dbErrors++;
            this.log.error(
              { err, actionIds: batch.map((r) => r.id) },
              'enforcement outcomes could not be written; their leases will run out',
            );
            continue;
          }
          if (this.clock.now() > this.giveUpFlushAt) {
            this.log.error(
              { err, lost: batch.length + this.results.length },
              'stopping without writing outcomes; their actions will be sent again',
            );
            this.results = [];
            return;
          }
          this.results.unshift(...batch);
          failures++;
          this.stats.dbErrors++;
          const wait = retryDelay(failures, { capMs: 5000 });
          this.log.warn({ err, pending: this.results.length, retryInMs: wait }, 'writing enforcement outcomes failed');
          await this.clock.sleep(wait);
        }
      }
    });
    return this.flushing;
  }
}
