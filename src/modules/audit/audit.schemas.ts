import { Type, Obj, Str, Nullable, Instant, PageQuery, type Static } from '../../lib/schema';

export const AuditQuery = Obj({ ...PageQuery, entity: Type.Optional(Str(40)), entityId: Type.Optional(Str(100)) });
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditEntryView = Obj({
  id: Type.Integer(),
  action: Type.String(),
  entity: Type.String(),
  entityId: Nullable(Type.String()),
  /** user | api_key | system | platform (a platform admin, whose id is not shown) */
  actorType: Type.String(),
  actorId: Nullable(Type.String()),
  data: Type.Unknown(),
  requestId: Nullable(Type.String()),
  createdAt: Instant,
});
export type AuditEntryView = Static<typeof AuditEntryView>;
