/**
 * Typed errors for the RouterOS API codec and client. Every error carries a stable `code`
 * (UPPER_SNAKE) so callers and tests branch on the code, never on message wording. Router
 * texts (trap messages) are kept in fields for logs; they must not be shown to end users.
 */

export type RouterOsErrorCode =
  | 'ROUTEROS_PROTOCOL'
  | 'ROUTEROS_TRAP'
  | 'ROUTEROS_LOGIN_FAILED'
  | 'ROUTEROS_FATAL'
  | 'ROUTEROS_TIMEOUT'
  | 'ROUTEROS_CONNECTION'
  | 'ROUTEROS_ABORTED'
  | 'ROUTEROS_CLOSED';

export abstract class RouterOsError extends Error {
  abstract readonly code: RouterOsErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** What exactly was wrong with the bytes or words the peer sent. */
export type RouterOsProtocolReason =
  | 'RESERVED_LENGTH_BYTE'
  | 'WORD_TOO_LONG'
  | 'SENTENCE_TOO_LONG'
  | 'EMPTY_SENTENCE'
  | 'TRUNCATED_SENTENCE'
  | 'UNKNOWN_REPLY'
  | 'MALFORMED_WORD'
  | 'UNKNOWN_TAG'
  | 'MISSING_TAG'
  | 'BAD_LOGIN_CHALLENGE'
  | 'INVALID_ROW';

/** The peer violated the wire protocol or sent a reply we cannot trust. */
export class RouterOsProtocolError extends RouterOsError {
  readonly code = 'ROUTEROS_PROTOCOL' as const;

  constructor(
    readonly reason: RouterOsProtocolReason,
    message: string,
  ) {
    super(message);
  }
}

/** The router answered `!trap`. `category` is 0..7 when the router sent one. */
export class RouterOsTrapError extends RouterOsError {
  readonly code: 'ROUTEROS_TRAP' | 'ROUTEROS_LOGIN_FAILED' = 'ROUTEROS_TRAP';

  constructor(
    readonly routerMessage: string,
    readonly category: number | undefined,
    readonly command: string,
  ) {
    super(`RouterOS trap on ${command}: ${routerMessage}`);
  }
}

/** `/login` was refused (wrong name or password, or no API permission). */
export class RouterOsLoginError extends RouterOsTrapError {
  override readonly code = 'ROUTEROS_LOGIN_FAILED' as const;
}

/** The router sent `!fatal` and is closing the connection. */
export class RouterOsFatalError extends RouterOsError {
  readonly code = 'ROUTEROS_FATAL' as const;

  constructor(readonly routerMessage: string) {
    super(`RouterOS fatal: ${routerMessage}`);
  }
}

/** A connect or a command did not finish within its time limit. */
export class RouterOsTimeoutError extends RouterOsError {
  readonly code = 'ROUTEROS_TIMEOUT' as const;

  constructor(
    readonly phase: 'connect' | 'command',
    readonly timeoutMs: number,
  ) {
    super(`RouterOS ${phase} timed out after ${timeoutMs} ms`);
  }
}

/** The TCP connection could not be opened or was lost while a command was pending. */
export class RouterOsConnectionError extends RouterOsError {
  readonly code = 'ROUTEROS_CONNECTION' as const;
}

/** The caller's AbortSignal fired. The original reason is the `cause`. */
export class RouterOsAbortError extends RouterOsError {
  readonly code = 'ROUTEROS_ABORTED' as const;
}

/** `close()` was called on the client. */
export class RouterOsClosedError extends RouterOsError {
  readonly code = 'ROUTEROS_CLOSED' as const;
}
