import {
  Type,
  Obj,
  Str,
  Nullable,
  Uuid,
  BigintId,
  Timestamp,
  Instant,
  IpAddress,
  PageQuery,
  type Static,
} from '../../lib/schema';

export const SessionParams = Obj({ id: BigintId });

export const LiveQuery = Obj({
  ...PageQuery,
  nasId: Type.Optional(Uuid),
  subscriberId: Type.Optional(Uuid),
  username: Type.Optional(Str(253)),
  /** The device's MAC (Calling-Station-Id), whole or a part, in any of the usual notations. */
  mac: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:.-]*[0-9A-Fa-f][0-9A-Fa-f:.-]*$', maxLength: 17 })),
  /** The address the session was given (Framed-IP-Address). */
  ip: Type.Optional(IpAddress),
});
export type LiveQuery = Static<typeof LiveQuery>;

export const HistoryQuery = Obj({ ...PageQuery, from: Type.Optional(Timestamp), to: Type.Optional(Timestamp) });
export type HistoryQuery = Static<typeof HistoryQuery>;

export const SessionView = Obj({
  id: Type.Integer(),
  live: Type.Boolean(),
  username: Type.String(),
  subscriberId: Nullable(Type.String()),
  nasId: Nullable(Type.String()),
  nasIpAddress: Type.String(),
  acctSessionId: Type.String(),
  framedIpAddress: Nullable(Type.String()),
  callingStationId: Nullable(Type.String()),
  startedAt: Nullable(Instant),
  updatedAt: Nullable(Instant),
  stoppedAt: Nullable(Instant),
  sessionTimeSeconds: Type.Integer(),
  inputOctets: Type.Integer(),
  outputOctets: Type.Integer(),
  terminateCause: Nullable(Type.String()),
  /** Accepted into the walled garden (the tenant's soft block). */
  softBlocked: Type.Boolean(),
});
export type SessionView = Static<typeof SessionView>;
