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
 * around its channel bookkeeping: more code than the protocol itself. So this client sits on
 * our own codec (api-protocol.ts) and stays small: connect(), command(), close(), and two
 * session helpers.
 *
 * Rules kept here:
 *  - every reply is untrusted: codec or validation failures become RouterOsProtocolError, reject
 *    every pending command of that connection and drop the connection; nothing is thrown out of
 *    a socket listener;
 *  - every command carries a `.tag`, so several can be in flight on one connection;
 *  - a lost connection is reopened (and logged in again) on the next command.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  assertReplyWord,
  encodeSentence,
  encodeWin1252,
  parseReply,
  SentenceDecoder,
  type ReplySentence,
  type SentenceDecoderOptions,
} from './api-protocol';
import {
  RouterOsAbortError,
  RouterOsClosedError,
  RouterOsConnectionError,
  RouterOsError,
  RouterOsFatalError,
  RouterOsLoginError,
  RouterOsProtocolError,
  RouterOsTimeoutError,
  RouterOsTrapError,
} from './routeros-errors';

export * from './routeros-errors';

// ---------------------------------------------------------------------------------------------
// Public types

/** Opens a byte stream to the router. Must settle promptly when `signal` aborts. */
export type RouterOsTransport = (target: { host: string; port: number }, signal: AbortSignal) => Promise<Duplex>;

/** The subset of a pino logger this module uses. */
export interface RouterOsLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

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
  /** Default: plain TCP with keepalive. Pass a TLS opener for api-ssl (8729). */
  transport?: RouterOsTransport;
  logger?: RouterOsLogger;
  decoder?: SentenceDecoderOptions;
}

export interface CommandOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * The command may safely run twice. If the connection was reused and dropped before any reply
   * arrived (typically: the router closed it while idle just as we wrote), the command is sent
   * once more on a new connection. Default false.
   */
  idempotent?: boolean;
}

export interface CommandResult {
  /** Attributes of every `!re` reply. */
  rows: Record<string, string>[];
  /** Attributes of the `!done` reply (e.g. `ret` after `add`). */
  done: Record<string, string>;
}

export type SessionKind = 'hotspot' | 'ppp';

export interface ActiveSession {
  /** RouterOS item id, e.g. `*1A`. */
  id: string;
  user: string;
  address?: string;
  /** Upper-case `AA:BB:CC:DD:EE:FF`. PPP: from `caller-id` when it is a MAC (PPPoE). */
  macAddress?: string;
  /** Seconds. */
  uptime?: number;
  sessionId?: string;
  bytesIn?: number;
  bytesOut?: number;
}

export interface SessionFilter {
  user?: string;
  address?: string;
  macAddress?: string;
}

export interface KickCriteria {
  kind: SessionKind;
  user?: string;
  address?: string;
  /** Matched against the row's `session-id`; rows that do not report one never match. */
  sessionId?: string;
}

// ---------------------------------------------------------------------------------------------
// Transport

const KEEPALIVE_PROBE_MS = 30_000;
/** Longest wait for any sign of life after a command timed out. */
const MAX_PROBE_GRACE_MS = 5_000;

/** Plain TCP with TCP keepalive (dead peers are noticed without API traffic). */
export const tcpTransport: RouterOsTransport = ({ host, port }, signal) =>
  new Promise<Duplex>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host, port });
    const cleanup = (): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_PROBE_MS);
      resolve(socket);
    };
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(new RouterOsConnectionError(`cannot connect to RouterOS API at ${host}:${port}`, { cause: err }));
    };
    const onAbort = (): void => {
      cleanup();
      socket.on('error', () => undefined); // a late error after destroy must not go unhandled
      socket.destroy();
      reject(signal.reason);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });

// ---------------------------------------------------------------------------------------------
// One connection

interface Pending {
  command: string;
  rows: Record<string, string>[];
  /** The caller already has its answer (trap, timeout, abort); later replies are absorbed. */
  settled: boolean;
  /** Some reply for this tag arrived. */
  answered: boolean;
  resolve(result: CommandResult): void;
  reject(err: Error): void;
}

interface Request {
  promise: Promise<CommandResult>;
  /** Stop waiting: reject with `reason`, ask the router to cancel, absorb late replies. */
  abandon(reason: Error): void;
  isAnswered(): boolean;
}

const noopLogger: RouterOsLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

class Connection {
  closed = false;
  private readonly decoder: SentenceDecoder;
  private readonly pending = new Map<string, Pending>();
  private nextTag = 1;
  private bytesReceived = 0; // any byte counts as a sign of life
  private idleTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly log: RouterOsLogger,
    decoderOptions: SentenceDecoderOptions | undefined,
    private readonly idleCloseMs: number,
    private readonly onClosed: (conn: Connection) => void,
  ) {
    this.decoder = new SentenceDecoder({ ...decoderOptions, checkFirstWord: assertReplyWord });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) =>
      this.fail(new RouterOsConnectionError('RouterOS API connection error', { cause: err })),
    );
    stream.on('end', () => this.onEnd('RouterOS API connection closed by router'));
    stream.on('close', () => this.onEnd('RouterOS API connection closed'));
  }

  /**
   * After a timeout: a live router answers the `/cancel` (or anything) within `graceMs`;
   * if not a byte arrives, the link is considered dead so the next command reconnects.
   */
  expectTraffic(graceMs: number): void {
    if (this.closed || this.probeTimer) return;
    const mark = this.bytesReceived;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.bytesReceived === mark) this.fail(new RouterOsConnectionError('RouterOS API connection unresponsive'));
    }, graceMs);
    this.probeTimer.unref();
  }

  private onEnd(message: string): void {
    if (this.decoder.hasPartialSentence) {
      this.fail(new RouterOsProtocolError('TRUNCATED_SENTENCE', 'connection closed in the middle of a RouterOS reply'));
    } else {
      this.fail(new RouterOsConnectionError(message));
    }
  }

  send(words: readonly string[]): Request {
    const tag = String(this.nextTag++);
    let resolve!: (result: CommandResult) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<CommandResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Pending = { command: words[0] ?? '', rows: [], settled: false, answered: false, resolve, reject };
    const request: Request = {
      promise,
      abandon: (reason) => {
        if (entry.settled) return;
        entry.settled = true;
        entry.reject(reason);
        if (this.pending.has(tag) && !this.closed) this.cancel(tag);
        this.armIdleTimer();
      },
      isAnswered: () => entry.answered,
    };
    if (this.closed) {
      entry.settled = true;
      entry.reject(new RouterOsConnectionError('RouterOS API connection is closed'));
      return request;
    }
    this.pending.set(tag, entry);
    this.disarmIdleTimer();
    this.write([...words, `.tag=${tag}`]);
    return request;
  }

  /** Tear the connection down; every command still waiting is rejected with `err`. */
  fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmIdleTimer();
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.stream.destroy();
    for (const entry of this.pending.values()) {
      if (!entry.settled) {
        entry.settled = true;
        entry.reject(err);
      }
    }
    this.pending.clear();
    if (err instanceof RouterOsProtocolError || err instanceof RouterOsFatalError) {
      this.log.warn({ err: { code: err.code, message: err.message } }, 'routeros connection dropped');
    } else {
      this.log.debug({ reason: err.message }, 'routeros connection closed');
    }
    this.onClosed(this);
  }

  private write(words: readonly string[]): void {
    try {
      this.stream.write(encodeSentence(words));
    } catch (err) {
      this.fail(new RouterOsConnectionError('RouterOS API write failed', { cause: err }));
    }
  }

  /** `/cancel` for an abandoned command; its own replies are absorbed by a settled entry. */
  private cancel(tag: string): void {
    const cancelTag = String(this.nextTag++);
    this.pending.set(cancelTag, {
      command: '/cancel',
      rows: [],
      settled: true,
      answered: false,
      resolve: () => undefined,
      reject: () => undefined,
    });
    this.write(['/cancel', `=tag=${tag}`, `.tag=${cancelTag}`]);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesReceived += chunk.length;
    try {
      for (const words of this.decoder.push(chunk)) {
        this.dispatch(parseReply(words));
        if (this.closed) return;
      }
    } catch (err) {
      this.fail(
        err instanceof RouterOsError
          ? err
          : new RouterOsProtocolError('MALFORMED_WORD', `cannot process RouterOS reply: ${String(err)}`),
      );
    }
  }

  private dispatch(reply: ReplySentence): void {
    if (reply.type === '!fatal') {
      // sent untagged just before the router closes the connection
      this.fail(new RouterOsFatalError(reply.attrs.message ?? ''));
      return;
    }
    if (reply.tag === undefined) {
      throw new RouterOsProtocolError('MISSING_TAG', `untagged ${reply.type} reply from RouterOS`);
    }
    const entry = this.pending.get(reply.tag);
    if (!entry) {
      throw new RouterOsProtocolError('UNKNOWN_TAG', `RouterOS reply for unknown tag`);
    }
    entry.answered = true;
    switch (reply.type) {
      case '!re':
        if (!entry.settled) entry.rows.push(reply.attrs);
        return;
      case '!empty':
        return; // RouterOS >= 7.18: "no results"; `!done` follows
      case '!trap': {
        if (entry.settled) return;
        entry.settled = true;
        const category = reply.attrs.category;
        entry.reject(
          new RouterOsTrapError(
            reply.attrs.message ?? '',
            category !== undefined && /^\d{1,3}$/.test(category) ? Number(category) : undefined,
            entry.command,
          ),
        );
        return; // keep the tag until `!done`
      }
      case '!done':
        this.pending.delete(reply.tag);
        if (!entry.settled) {
          entry.settled = true;
          entry.resolve({ rows: entry.rows, done: reply.attrs });
        }
        this.armIdleTimer();
        return;
    }
  }

  private armIdleTimer(): void {
    if (this.idleCloseMs <= 0 || this.closed) return;
    for (const entry of this.pending.values()) if (!entry.settled) return;
    this.disarmIdleTimer();
    this.idleTimer = setTimeout(
      () => this.fail(new RouterOsConnectionError('RouterOS API connection closed after idle period')),
      this.idleCloseMs,
    );
    this.idleTimer.unref();
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Deadline and abort handling for one call

class CallGuard {
  /** Rejects when the deadline passes or the signal aborts. */
  readonly stopped: Promise<never>;
  private timer: NodeJS.Timeout | undefined;
  private readonly onStop: Array<(reason: Error) => void> = [];
  private reason: Error | undefined;
  private rejectStopped!: (reason: Error) => void;
  private readonly abortListener = (): void => {
    const signal = this.signal as AbortSignal;
    this.stop(new RouterOsAbortError('RouterOS command aborted', { cause: signal.reason }));
  };

  constructor(
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    phase: 'connect' | 'command' = 'command',
  ) {
    this.stopped = new Promise<never>((_, reject) => {
      this.rejectStopped = reject;
    });
    this.stopped.catch(() => undefined);
    this.timer = setTimeout(() => this.stop(new RouterOsTimeoutError(phase, timeoutMs)), timeoutMs);
    if (signal?.aborted) this.abortListener();
    else signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  race<T>(promise: Promise<T>): Promise<T> {
    if (this.reason) {
      promise.catch(() => undefined);
      return Promise.reject(this.reason);
    }
    return Promise.race([promise, this.stopped]);
  }

  whenStopped(cb: (reason: Error) => void): void {
    if (this.reason) cb(this.reason);
    else this.onStop.push(cb);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this.abortListener);
    this.onStop.length = 0;
  }

  private stop(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.rejectStopped(reason);
    for (const cb of this.onStop.splice(0)) cb(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Client

const PATHS: Record<SessionKind, string> = { hotspot: '/ip/hotspot/active', ppp: '/ppp/active' };
const USER_PROP: Record<SessionKind, string> = { hotspot: 'user', ppp: 'name' };
const MAC_PROP: Record<SessionKind, string> = { hotspot: 'mac-address', ppp: 'caller-id' };
const PROPLIST: Record<SessionKind, string> = {
  hotspot: '.id,user,address,mac-address,uptime,bytes-in,bytes-out,session-id',
  ppp: '.id,name,address,caller-id,uptime,session-id',
};

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
  }

  /** Opens the connection and logs in (commands do this on demand too). */
  async connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    const guard = new CallGuard(this.connectTimeoutMs, options.signal, 'connect');
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
    const guard = new CallGuard(options.timeoutMs ?? this.commandTimeoutMs, options.signal);
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
  async listActiveSessions(
    kind: SessionKind,
    filter: SessionFilter = {},
    options: Omit<CommandOptions, 'idempotent'> = {},
  ): Promise<ActiveSession[]> {
    const words = [`${PATHS[kind]}/print`, `=.proplist=${PROPLIST[kind]}`];
    if (filter.user !== undefined) words.push(`?${USER_PROP[kind]}=${filter.user}`);
    if (filter.address !== undefined) words.push(`?address=${filter.address}`);
    if (filter.macAddress !== undefined) words.push(`?${MAC_PROP[kind]}=${filter.macAddress.toUpperCase()}`);
    const rows = await this.command(words, { ...options, idempotent: true });
    return rows.map((row) => toActiveSession(kind, row));
  }

  /**
   * Fallback kick: finds the sessions matching every given criterion and removes them.
   * Resolves with how many the router confirmed removed (a session that vanished in between,
   * `no such item`, is not counted and is not an error).
   */
  async kickSessions(criteria: KickCriteria, options: Omit<CommandOptions, 'idempotent'> = {}): Promise<number> {
    const { kind, user, address, sessionId } = criteria;
    for (const [key, value] of Object.entries({ user, address, sessionId })) {
      if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
        throw new TypeError(`kickSessions: ${key} must be a non-empty string`);
      }
    }
    if (user === undefined && address === undefined && sessionId === undefined) {
      throw new TypeError('kickSessions needs user, address or sessionId');
    }
    const filter: SessionFilter = {};
    if (user !== undefined) filter.user = user;
    if (address !== undefined) filter.address = address;
    const sessions = await this.listActiveSessions(kind, filter, options);
    // the router's query already filtered; check again in case it ignored a query word
    const targets = sessions.filter(
      (s) =>
        (user === undefined || s.user === user) &&
        (address === undefined || s.address === address) &&
        (sessionId === undefined || s.sessionId === sessionId),
    );
    const outcomes = await Promise.allSettled(
      targets.map((s) => this.command([`${PATHS[kind]}/remove`, `=.id=${s.id}`], { ...options, idempotent: true })),
    );
    let removed = 0;
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') removed += 1;
      else if (!isNoSuchItem(outcome.reason)) failure ??= outcome.reason;
    }
    if (failure !== undefined) throw failure;
    this.log.info({ kind, removed, matched: targets.length }, 'routeros sessions kicked');
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
    const timer = setTimeout(
      () => abort.abort(new RouterOsTimeoutError('connect', this.connectTimeoutMs)),
      this.connectTimeoutMs,
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
      conn = new Connection(stream, this.log, this.decoderOptions, this.idleCloseMs, (closed) => {
        if (this.conn === closed) this.conn = null;
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
      clearTimeout(timer);
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
      const digest = createHash('md5')
        .update(Buffer.from([0]))
        .update(encodeWin1252(this.password))
        .update(Buffer.from(challenge, 'hex'))
        .digest('hex');
      await conn.send(['/login', `=name=${this.username}`, `=response=00${digest}`]).promise;
    } catch (err) {
      if (err instanceof RouterOsTrapError) {
        throw new RouterOsLoginError(err.routerMessage, err.category, '/login');
      }
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

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

function isNoSuchItem(err: unknown): boolean {
  return err instanceof RouterOsTrapError && /no such item/i.test(err.routerMessage);
}

const ID_RE = /^\*[0-9A-Fa-f]{1,16}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const COUNTER_RE = /^\d{1,16}$/;

function toActiveSession(kind: SessionKind, row: Record<string, string>): ActiveSession {
  const id = row['.id'];
  const user = row[USER_PROP[kind]];
  if (id === undefined || !ID_RE.test(id)) {
    throw new RouterOsProtocolError('INVALID_ROW', `RouterOS ${kind} session without a valid .id`);
  }
  if (user === undefined) {
    throw new RouterOsProtocolError('INVALID_ROW', `RouterOS ${kind} session ${id} without a user`);
  }
  const session: ActiveSession = { id, user };
  const address = row.address;
  if (address !== undefined && net.isIP(address) !== 0) session.address = address;
  const mac = row[MAC_PROP[kind]];
  if (mac !== undefined && MAC_RE.test(mac)) session.macAddress = mac.toUpperCase();
  const uptime = row.uptime === undefined ? undefined : parseRouterOsDuration(row.uptime);
  if (uptime !== undefined) session.uptime = uptime;
  const sessionId = row['session-id'];
  if (sessionId !== undefined && sessionId.length > 0) session.sessionId = sessionId;
  const bytesIn = row['bytes-in'];
  if (bytesIn !== undefined && COUNTER_RE.test(bytesIn)) session.bytesIn = Number(bytesIn);
  const bytesOut = row['bytes-out'];
  if (bytesOut !== undefined && COUNTER_RE.test(bytesOut)) session.bytesOut = Number(bytesOut);
  return session;
}

const UNIT_SECONDS: Record<string, number> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1, ms: 0.001 };

/**
 * RouterOS durations: `1w2d3h4m5s` (also with `ms`) or `[Nd]hh:mm:ss`. Returns whole seconds,
 * or undefined when the text is in neither form.
 */
export function parseRouterOsDuration(text: string): number | undefined {
  const clock = /^(?:(\d+)d\s*)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (clock) {
    const [, d, h, m, s] = clock;
    return Number(d ?? 0) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
  }
  if (!/^(?:\d+(?:ms|w|d|h|m|s))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/(\d+)(ms|w|d|h|m|s)/g)) {
    seconds += Number(value) * (UNIT_SECONDS[unit as string] ?? 0);
  }
  return Math.floor(seconds);
}
