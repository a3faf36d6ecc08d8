/**
 * RouterOS API client used by Lango to list and kick hotspot/PPP sessions.
 *
 * Why not node-routeros (listed as a core package in the developer guide)?
 *  - It is discontinued (last release 1.6.9, January 2021).
 *  - On `!empty`, which RouterOS >= 7.18 sends for empty results, it throws UNKNOWNREPLY from an
 *    EventEmitter listener: the throw escapes the caller's promise and kills the process
 *    (tests/integration/mikrotik/routeros.test.ts shows it against our simulator).
 *  - Its socket timeout turns an idle connection into a SOCKTMOUT error instead of a quiet
 *    reconnect; it has no AbortSignal, no per-command deadline and untyped errors.
 * Shimming all of that would need a transport that rewrites the byte stream plus a wrapper
 * around its channel bookkeeping: more code than the protocol itself.
 *
 * The layers, as in go-routeros: protocol.ts (words and sentences, no I/O), transports.ts (the
 * byte stream), connection.ts (tags, replies, one call's deadline), this client (login,
 * reconnect on the next command, retry of idempotent commands), sessions.ts (what Lango asks
 * of a router). Time comes from an injected Clock (src/lib/clock.ts).
 */
import { systemClock, type Clock } from '../lib/clock';
import { CallGuard, Connection, noopLogger, type CommandOptions, type CommandResult, type RouterOsLogger } from './connection';
import {
  RouterOsClosedError,
  RouterOsConnectionError,
  RouterOsError,
  RouterOsLoginError,
  RouterOsProtocolError,
  RouterOsTimeoutError,
  RouterOsTrapError,
} from './errors';
import { loginChallengeResponse, type SentenceDecoderOptions } from './protocol';
import * as sessions from './sessions';
import type { ActiveSession, KickCriteria, SessionCommandOptions, SessionFilter, SessionKind } from './sessions';
import { tcpTransport, type RouterOsTransport } from './transports';

export interface RouterOsClientOptions {
  host: string;
  /** Default 8728. */
  port?: number;
  username: string;
  password: string;
  /** TCP connect plus login. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Default per-command limit, including a reconnect if one is needed. Default 10 000 ms. */
  commandTimeoutMs?: number;
  /** Close our side after this long with nothing in flight (0 = keep open). Default 0. */
  idleCloseMs?: number;
  /** Default: plain TCP with keepalive. Pass tlsTransport for api-ssl (8729). */
  transport?: RouterOsTransport;
  logger?: RouterOsLogger;
  decoder?: SentenceDecoderOptions;
  /** Deadlines and idle timers. Default: the system clock. */
  clock?: Clock;
}

export type { CommandOptions, CommandResult, RouterOsLogger };

/** Longest wait for any sign of life after a command timed out. */
const MAX_PROBE_GRACE_MS = 5_000;

export class RouterOsClient {
  private readonly host: string;
  private readonly port: number;
  private readonly username: string;
  private readonly password: string;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly idleCloseMs: number;
  private readonly transport: RouterOsTransport;
  private readonly log: RouterOsLogger;
  private readonly decoderOptions: SentenceDecoderOptions | undefined;
  private readonly clock: Clock;

  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private connectAbort: AbortController | null = null;
  private closed = false;

  constructor(options: RouterOsClientOptions) {
    this.host = options.host;
    this.port = options.port ?? 8728;
    this.username = options.username;
    this.password = options.password;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.idleCloseMs = options.idleCloseMs ?? 0;
    this.transport = options.transport ?? tcpTransport;
    this.log = options.logger ?? noopLogger;
    this.decoderOptions = options.decoder;
    this.clock = options.clock ?? systemClock;
  }

  /** Opens the connection and logs in (commands do this on demand too). */
  async connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    const guard = new CallGuard(this.clock, this.connectTimeoutMs, options.signal, 'connect');
    try {
      await guard.race(this.getConnection());
    } finally {
      guard.dispose();
    }
  }

  /**
   * Sends one sentence (`words[0]` is the command path) and resolves with the `!re` rows.
   * Rejects with RouterOsTrapError, RouterOsFatalError, RouterOsTimeoutError,
   * RouterOsProtocolError, RouterOsConnectionError, RouterOsAbortError or RouterOsClosedError.
   */
  async command(words: readonly string[], options: CommandOptions = {}): Promise<Record<string, string>[]> {
    return (await this.execute(words, options)).rows;
  }

  /** Like command(), with the `!done` attributes too. */
  async execute(words: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    validateWords(words);
    if (this.closed) throw new RouterOsClosedError('RouterOS client is closed');
    const guard = new CallGuard(this.clock, options.timeoutMs ?? this.commandTimeoutMs, options.signal);
    try {
      for (let attempt = 1; ; attempt += 1) {
        const existing = this.conn !== null && !this.conn.closed;
        const conn = await guard.race(this.getConnection());
        const request = conn.send(words);
        guard.whenStopped((reason) => {
          request.abandon(reason);
          if (reason instanceof RouterOsTimeoutError) conn.expectTraffic(Math.min(reason.timeoutMs, MAX_PROBE_GRACE_MS));
        });
        try {
          return await guard.race(request.promise);
        } catch (err) {
          const retry =
            options.idempotent === true &&
            attempt === 1 &&
            existing &&
            err instanceof RouterOsConnectionError &&
            !request.isAnswered() &&
            !this.closed;
          if (!retry) throw err;
          this.log.debug({ command: words[0] }, 'routeros command retried on a new connection');
        }
      }
    } finally {
      guard.dispose();
    }
  }

  /** Active hotspot or PPP sessions, optionally filtered by the router (`?user=` etc.). */
  listActiveSessions(kind: SessionKind, filter: SessionFilter = {}, options: SessionCommandOptions = {}): Promise<ActiveSession[]> {
    return sessions.listSessions(this, kind, filter, options);
  }

  /**
   * Finds the sessions matching every given criterion and removes them. Resolves with how many
   * the router confirmed removed (a session that vanished in between, `no such item`, is not
   * counted and is not an error).
   */
  async kickSessions(criteria: KickCriteria, options: SessionCommandOptions = {}): Promise<number> {
    const { removed, matched } = await sessions.kickSessions(this, criteria, options);
    this.log.info({ kind: criteria.kind, removed, matched }, 'routeros sessions kicked');
    return removed;
  }

  /** Closes the connection; pending and later commands reject with RouterOsClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new RouterOsClosedError('RouterOS client is closed');
    this.connectAbort?.abort(err);
    const conn = this.conn;
    this.conn = null;
    if (conn) conn.fail(err);
    await this.connecting?.catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------

  private getConnection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new RouterOsClosedError('RouterOS client is closed'));
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    if (!this.connecting) {
      const connecting = this.openConnection().finally(() => {
        if (this.connecting === connecting) this.connecting = null;
      });
      connecting.catch(() => undefined);
      this.connecting = connecting;
    }
    return this.connecting;
  }

  private async openConnection(): Promise<Connection> {
    const abort = new AbortController();
    this.connectAbort = abort;
    const timer = this.clock.setTimer(this.connectTimeoutMs, () =>
      abort.abort(new RouterOsTimeoutError('connect', this.connectTimeoutMs)),
    );
    let conn: Connection | undefined;
    const onAbort = (): void => conn?.fail(abort.signal.reason as Error);
    abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const stream = await this.transport({ host: this.host, port: this.port }, abort.signal);
      if (abort.signal.aborted) {
        stream.destroy();
        throw abort.signal.reason;
      }
      conn = new Connection(stream, {
        clock: this.clock,
        log: this.log,
        ...(this.decoderOptions ? { decoder: this.decoderOptions } : {}),
        idleCloseMs: this.idleCloseMs,
        onClosed: (closed) => {
          if (this.conn === closed) this.conn = null;
        },
      });
      await this.login(conn);
      if (abort.signal.aborted) throw abort.signal.reason;
      this.conn = conn;
      this.log.debug({ host: this.host, port: this.port }, 'routeros connected');
      return conn;
    } catch (err) {
      const error = abort.signal.aborted ? (abort.signal.reason as Error) : toRouterOsError(err);
      conn?.fail(error);
      throw error;
    } finally {
      timer.cancel();
      abort.signal.removeEventListener('abort', onAbort);
      if (this.connectAbort === abort) this.connectAbort = null;
    }
  }

  /** 6.43+ plaintext login; falls back to the MD5 challenge when the router answers `=ret=`. */
  private async login(conn: Connection): Promise<void> {
    try {
      const first = await conn.send(['/login', `=name=${this.username}`, `=password=${this.password}`]).promise;
      const challenge = first.done.ret;
      if (challenge === undefined) return;
      if (!/^[0-9a-f]{32}$/i.test(challenge)) {
        throw new RouterOsProtocolError('BAD_LOGIN_CHALLENGE', 'RouterOS login challenge is not 16 hex bytes');
      }
      await conn.send(['/login', `=name=${this.username}`, `=response=00${loginChallengeResponse(this.password, challenge)}`]).promise;
    } catch (err) {
      if (err instanceof RouterOsTrapError) {
        throw new RouterOsLoginError(err.routerMessage, err.category, '/login');
      }
      throw err;
    }
  }
}

function validateWords(words: readonly string[]): void {
  const [first] = words;
  if (first === undefined || !first.startsWith('/')) {
    throw new TypeError('RouterOS command must start with a path such as /ip/hotspot/active/print');
  }
  for (const word of words) {
    if (typeof word !== 'string' || word.length === 0) throw new TypeError('RouterOS words must be non-empty strings');
    if (word.startsWith('.tag=')) throw new TypeError('the client sets .tag itself');
  }
}

function toRouterOsError(err: unknown): RouterOsError {
  if (err instanceof RouterOsError) return err;
  return new RouterOsConnectionError('RouterOS API connection failed', { cause: err });
}
