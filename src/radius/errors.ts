/** Typed errors of the RADIUS codec and client. */

export type RadiusCodecErrorCode =
  | 'PACKET_TOO_SHORT'
  | 'PACKET_TOO_LONG'
  | 'LENGTH_MISMATCH'
  | 'ATTRIBUTE_TRUNCATED'
  | 'ATTRIBUTE_LENGTH_INVALID'
  | 'ATTRIBUTE_TOO_LONG'
  | 'BAD_VENDOR_ATTRIBUTE'
  | 'UNKNOWN_ATTRIBUTE'
  | 'UNKNOWN_VALUE'
  | 'INVALID_VALUE'
  | 'PASSWORD_TOO_LONG'
  | 'INVALID_ARGUMENT';

export class RadiusCodecError extends Error {
  override readonly name = 'RadiusCodecError';
  constructor(
    readonly code: RadiusCodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A caller's argument is unusable (bad port, schedule, address family, a Disconnect with
 * non-identification attributes). A RadiusCodecError('INVALID_ARGUMENT') so callers that treat
 * "the request cannot be built" as final keep doing so.
 */
export class RadiusArgumentError extends RadiusCodecError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    Object.defineProperty(this, 'name', { value: 'RadiusArgumentError' });
  }
}

/** No valid reply arrived before the retransmission schedule ran out. */
export class RadiusTimeoutError extends Error {
  override readonly name = 'RadiusTimeoutError';
  readonly code = 'RADIUS_TIMEOUT';
  constructor(
    readonly identifier: number,
    readonly attempts: number,
    readonly elapsedMs: number,
  ) {
    super(`no valid RADIUS reply for id ${identifier} after ${attempts} transmission(s), ${elapsedMs} ms`);
  }
}

/** The client was closed while the request was queued or in flight. */
export class RadiusClientClosedError extends Error {
  override readonly name = 'RadiusClientClosedError';
  readonly code = 'RADIUS_CLIENT_CLOSED';
  constructor() {
    super('RADIUS client closed');
  }
}
