/**
 * One RouterOS API connection on a byte stream, and the deadline/abort guard of one call.
 *
 * Connection: every command carries a `.tag`, so several can be in flight; replies are routed
 * by tag. Every reply is untrusted: a codec or validation failure becomes a
 * RouterOsProtocolError that rejects every pending command and drops the connection; nothing
 * is thrown out of a stream listener. Reconnecting is the client's business (client.ts).
 *
 * Timers (idle close, liveness probe, call deadlines) run on an injected Clock (src/lib/clock.ts).
 */
import type { Duplex } from 'node:stream';
import type { Clock, Timer } from '../lib/clock';
import {
  RouterOsAbortError,
  RouterOsConnectionError,
  RouterOsError,
  RouterOsFatalError,
  RouterOsProtocolError,
  RouterOsTimeoutError,
  RouterOsTrapError,
} from './errors';
import { assertReplyWord, encodeSentence, parseReply, SentenceDecoder, type ReplySentence, type SentenceDecoderOptions } from './protocol';

/** The subset of a pino logger the RouterOS modules use. */
export interface RouterOsLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const noopLogger: RouterOsLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/** How one command is run (RouterOsClient.command / execute). */
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

/** A command sent on a connection. */
export interface Request {
  promise: Promise<CommandResult>;
  /** Stop waiting: reject with `reason`, ask the router to cancel, absorb late replies. */
  abandon(reason: Error): void;
  /** Some reply for this command arrived. */
  isAnswered(): boolean;
}

export interface ConnectionOptions {
  clock: Clock;
  log: RouterOsLogger;
  decoder?: SentenceDecoderOptions;
  /** Close our side after this long with nothing in flight (0 = keep open). */
  idleCloseMs: number;
  /** Called once when the connection is torn down, whatever the reason. */
  onClosed(conn: Connection): void;
}

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

export class Connection {
  closed = false;
  private readonly decoder: SentenceDecoder;
  private readonly pending = new Map<string, Pending>();
  private readonly clock: Clock;
  private readonly log: RouterOsLogger;
  private readonly idleCloseMs: number;
  private readonly onClosed: (conn: Connection) => void;
  private nextTag = 1;
  private bytesReceived = 0; // any byte counts as a sign of life
  private idleTimer: Timer | undefined;
  private probeTimer: Timer | undefined;

  constructor(
    private readonly stream: Duplex,
    options: ConnectionOptions,
  ) {
    this.clock = options.clock;
    this.log = options.log;
    this.idleCloseMs = options.idleCloseMs;
    this.onClosed = options.onClosed;
    this.decoder = new SentenceDecoder({ ...options.decoder, checkFirstWord: assertReplyWord });
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
    if (this.closed || this.probeTimer !== undefined) return;
    const mark = this.bytesReceived;
    this.probeTimer = this.clock.setTimer(graceMs, () => {
      this.probeTimer = undefined;
      if (this.bytesReceived === mark) this.fail(new RouterOsConnectionError('RouterOS API connection unresponsive'));
    });
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
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
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

  private onEnd(message: string): void {
    if (this.decoder.hasPartialSentence) {
      this.fail(new RouterOsProtocolError('TRUNCATED_SENTENCE', 'connection closed in the middle of a RouterOS reply'));
    } else {
      this.fail(new RouterOsConnectionError(message));
    }
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
    this.idleTimer = this.clock.setTimer(this.idleCloseMs, () =>
      this.fail(new RouterOsConnectionError('RouterOS API connection closed after idle period')),
    );
  }

  private disarmIdleTimer(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
  }
}

/**
 * Deadline and abort handling for one call (connect, or a command including a reconnect):
 * `race()` makes any step lose to the deadline or the signal; `whenStopped()` registers what
 * to undo then (abandon the request, probe the link).
 */
export class CallGuard {
  /** Rejects when the deadline passes or the signal aborts. */
  readonly stopped: Promise<never>;
  private timer: Timer | undefined;
  private readonly onStop: Array<(reason: Error) => void> = [];
  private reason: Error | undefined;
  private rejectStopped!: (reason: Error) => void;
  private readonly abortListener = (): void => {
    const signal = this.signal as AbortSignal;
    this.stop(new RouterOsAbortError('RouterOS command aborted', { cause: signal.reason }));
  };

  constructor(
    private readonly clock: Clock,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    phase: 'connect' | 'command' = 'command',
  ) {
    this.stopped = new Promise<never>((_, reject) => {
      this.rejectStopped = reject;
    });
    this.stopped.catch(() => undefined);
    this.timer = clock.setTimer(timeoutMs, () => this.stop(new RouterOsTimeoutError(phase, timeoutMs)));
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
    this.timer?.cancel();
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
