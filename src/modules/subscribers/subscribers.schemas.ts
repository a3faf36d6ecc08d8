import {
  Type,
  Obj,
  Str,
  Nullable,
  Enum,
  Email,
  Ipv4,
  Uuid,
  RadiusPassword,
  Instant,
  PageQuery,
  type Static,
} from '../../lib/schema';

const Profile = {
  fullName: Type.Optional(Str(120)),
  phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 ]{6,20}$' })),
  email: Type.Optional(Email),
  macAddress: Type.Optional(Nullable(Type.String({ maxLength: 17 }))),
  staticIp: Type.Optional(Nullable(Ipv4)),
  notes: Type.Optional(Str(2000, 0)),
};

// Usernames: any UTF-8 the RADIUS User-Name can carry (byte length is checked in the service).
export const CreateSubscriber = Obj({
  username: Str(253),
  password: RadiusPassword,
  planId: Type.Optional(Uuid),
  startSubscription: Type.Optional(Type.Boolean()),
  ...Profile,
});
export type CreateSubscriber = Static<typeof CreateSubscriber>;

export const SubscriberPatch = Obj(Profile);
export type SubscriberPatch = Static<typeof SubscriberPatch>;

export const SubscriberQuery = Obj({
  ...PageQuery,
  status: Type.Optional(Enum(['active', 'suspended'] as const)),
  planId: Type.Optional(Uuid),
  q: Type.Optional(Str(100)),
  expired: Type.Optional(Type.Boolean()),
});
export type SubscriberQuery = Static<typeof SubscriberQuery>;

export const Suspend = Obj({ reason: Type.Optional(Str(200)) });
export const ChangePlan = Obj({ planId: Uuid });
export const ResetPassword = Obj({ password: RadiusPassword });
export const Empty = Obj({});

export const SubscriberView = Obj({
  id: Type.String(),
  username: Type.String(),
  status: Enum(['active', 'suspended'] as const),
  suspendedReason: Nullable(Type.String()),
  planId: Nullable(Type.String()),
  fullName: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  email: Nullable(Type.String()),
  macAddress: Nullable(Type.String()),
  staticIp: Nullable(Type.String()),
  notes: Nullable(Type.String()),
  /** The M-Pesa account reference (paybill) that credits this subscriber. */
  accountNumber: Type.String(),
  /** End of the latest active subscription (may be in the past: expired). */
  expiresAt: Nullable(Instant),
  createdAt: Instant,
  updatedAt: Instant,
});
export type SubscriberView = Static<typeof SubscriberView>;

export const SubscriptionView = Obj({
  id: Type.String(),
  planId: Nullable(Type.String()),
  planName: Type.String(),
  price: Type.Integer(),
  dataQuotaBytes: Nullable(Type.Integer()),
  sessionTimeoutSeconds: Nullable(Type.Integer()),
  startsAt: Instant,
  endsAt: Instant,
  status: Type.String(),
  source: Type.String(),
  createdAt: Instant,
});
export type SubscriptionView = Static<typeof SubscriptionView>;

/** Renew and change-plan: the subscriber now and the period just sold. */
export const SubscriberPeriod = Obj({ subscriber: SubscriberView, subscription: SubscriptionView });
export type SubscriberPeriod = Static<typeof SubscriberPeriod>;
