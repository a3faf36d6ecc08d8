import { Type, Obj, Str, Nullable, Uuid, BigintId, Timestamp, Instant, PageQuery, type Static } from '../../lib/schema';

export const SessionParams = Obj({ id: BigintId });

export const LiveQuery = Obj({
  ...PageQuery,
  nasId: Type.Optional(Uuid),
  subscriberId: Type.Optional(Uuid),
  username: Type.Optional(Str(253)),
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
