import { Type, Obj, Str, Nullable, Instant, PageQuery, type Static } from '../../lib/schema';

const PlanFields = {
  name: Str(80),
  price: Type.Integer({ minimum: 0, maximum: 100000000 }),
  durationSeconds: Type.Integer({ minimum: 60, maximum: 10 * 366 * 86400 }),
  dataQuotaBytes: Nullable(Type.Integer({ minimum: 1, maximum: 9007199254740991 })),
  rateLimit: Nullable(Str(128)),
  sessionTimeoutSeconds: Nullable(Type.Integer({ minimum: 60, maximum: 31 * 86400 })),
  idleTimeoutSeconds: Nullable(Type.Integer({ minimum: 60, maximum: 86400 })),
  simultaneousUse: Type.Integer({ minimum: 1, maximum: 1000 }),
  interimIntervalSeconds: Type.Integer({ minimum: 60, maximum: 86400 }),
  active: Type.Boolean(),
  /** Offered on the captive portal (sold to walk-in buyers); staff-only plans say false. */
  sellable: Type.Boolean(),
  /** Expiry reminder (SMS) this long before the end: minutes for hourly packages, days for monthly ones. Null: none. */
  reminderLeadSeconds: Nullable(Type.Integer({ minimum: 60, maximum: 60 * 86400 })),
};

export const CreatePlan = Obj({
  name: PlanFields.name,
  price: Type.Optional(PlanFields.price),
  durationSeconds: PlanFields.durationSeconds,
  dataQuotaBytes: Type.Optional(PlanFields.dataQuotaBytes),
  rateLimit: Type.Optional(PlanFields.rateLimit),
  sessionTimeoutSeconds: Type.Optional(PlanFields.sessionTimeoutSeconds),
  idleTimeoutSeconds: Type.Optional(PlanFields.idleTimeoutSeconds),
  simultaneousUse: Type.Optional(PlanFields.simultaneousUse),
  interimIntervalSeconds: Type.Optional(PlanFields.interimIntervalSeconds),
  active: Type.Optional(PlanFields.active),
  sellable: Type.Optional(PlanFields.sellable),
  reminderLeadSeconds: Type.Optional(PlanFields.reminderLeadSeconds),
});
export type CreatePlan = Static<typeof CreatePlan>;

export const PlanPatch = Type.Partial(CreatePlan, { additionalProperties: false });
export type PlanPatch = Static<typeof PlanPatch>;

export const PlanQuery = Obj({ ...PageQuery, active: Type.Optional(Type.Boolean()) });
export type PlanQuery = Static<typeof PlanQuery>;

export const PlanView = Obj({
  id: Type.String(),
  name: Type.String(),
  /** The FreeRADIUS group: plan-<id>. */
  groupname: Type.String(),
  price: Type.Integer(),
  durationSeconds: Type.Integer(),
  dataQuotaBytes: Nullable(Type.Integer()),
  rateLimit: Nullable(Type.String()),
  sessionTimeoutSeconds: Nullable(Type.Integer()),
  idleTimeoutSeconds: Nullable(Type.Integer()),
  simultaneousUse: Type.Integer(),
  interimIntervalSeconds: Type.Integer(),
  active: Type.Boolean(),
  sellable: Type.Boolean(),
  reminderLeadSeconds: Nullable(Type.Integer()),
  createdAt: Instant,
  updatedAt: Instant,
});
export type PlanView = Static<typeof PlanView>;
