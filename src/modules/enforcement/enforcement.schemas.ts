import { Type, Obj, Str, Nullable, Enum, Uuid, BigintId, Instant, PageQuery, type Static } from '../../lib/schema';
import { ENFORCEMENT_REASONS, ENFORCEMENT_STATUSES } from './contract';

const Kind = Enum(['disconnect', 'coa'] as const);

export const ActionQuery = Obj({
  ...PageQuery,
  status: Type.Optional(Enum(ENFORCEMENT_STATUSES)),
  reason: Type.Optional(Enum(ENFORCEMENT_REASONS)),
  kind: Type.Optional(Kind),
  subscriberId: Type.Optional(Uuid),
  nasId: Type.Optional(Uuid),
  sessionId: Type.Optional(BigintId),
});
export type ActionQuery = Static<typeof ActionQuery>;

export const ActionView = Obj({
  id: Type.String(),
  kind: Kind,
  reason: Enum(ENFORCEMENT_REASONS),
  /** pending | sending | ack | nak | timeout | failed | cancelled */
  status: Enum(ENFORCEMENT_STATUSES),
  subscriberId: Nullable(Type.String()),
  nasId: Nullable(Type.String()),
  sessionId: Nullable(Type.Integer()),
  username: Type.String(),
  acctSessionId: Type.String(),
  framedIp: Nullable(Type.String()),
  attributes: Type.Array(Obj({ name: Type.String(), value: Type.Union([Type.String(), Type.Number()]) })),
  context: Type.Record(Type.String(), Type.Unknown()),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  errorCause: Nullable(Type.Integer()),
  errorCauseName: Nullable(Type.String()),
  lastError: Nullable(Type.String()),
  rttMs: Nullable(Type.Number()),
  fallback: Nullable(
    Obj({ status: Type.String(), removed: Nullable(Type.Integer()), error: Nullable(Type.String()), at: Instant }),
  ),
  requestedBy: Obj({ type: Type.String(), id: Nullable(Type.String()) }),
  dueAt: Instant,
  nextAttemptAt: Instant,
  createdAt: Instant,
  updatedAt: Instant,
  completedAt: Nullable(Instant),
});
export type ActionView = Static<typeof ActionView>;

export const EnforcementSettings = Obj({
  /** What happens when time or data runs out: a hard Disconnect, or the walled garden. */
  expiryAction: Enum(['disconnect', 'soft_block'] as const),
  /** MikroTik address list the router redirects to the pay page. */
  walledGardenList: Type.String(),
  softBlockRateLimit: Type.String(),
  /** Session-Timeout of a soft-blocked login, so the router asks again soon after a payment. */
  softBlockSessionTimeout: Type.Integer(),
});
export type EnforcementSettings = Static<typeof EnforcementSettings>;

export const SettingsPatch = Obj({
  expiryAction: Type.Optional(Enum(['disconnect', 'soft_block'] as const)),
  walledGardenList: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,63}$' })),
  softBlockRateLimit: Type.Optional(Str(128)),
  softBlockSessionTimeout: Type.Optional(Type.Integer({ minimum: 60, maximum: 86400 })),
});
export type SettingsPatch = Static<typeof SettingsPatch>;
