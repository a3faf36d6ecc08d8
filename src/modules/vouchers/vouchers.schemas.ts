import {
  Type,
  Obj,
  Str,
  Nullable,
  Enum,
  Uuid,
  Instant,
  Timestamp,
  PageQuery,
  Defaulted,
  type Static,
} from '../../lib/schema';
import { MAX_LENGTH } from './codes';

/** One of these strings, `def` when absent. */
const EnumDefault = <const T extends readonly string[]>(values: T, def: T[number]) =>
  Defaulted(Type.Unsafe<T[number]>({ enum: [...values], default: def }));

export const CreateBatch = Obj({
  planId: Uuid,
  quantity: Type.Integer({ minimum: 1, maximum: 10000 }),
  /** numeric, or letters and digits without 0/O/1/I/L. */
  alphabet: EnumDefault(['numeric', 'alphanumeric'] as const, 'alphanumeric'),
  /** Code length; at least 13 (numeric) or 9 (alphanumeric), see CONTEXT.md. Default 14 / 10. */
  length: Type.Optional(Type.Integer({ minimum: 6, maximum: MAX_LENGTH })),
  /** Devices (Calling-Station-Id) a voucher may be used on; the first logins bind them. */
  deviceLimit: Defaulted(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
  /** Price in the tenant's minor units; default the plan's. */
  price: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  /** Use-by: a voucher not used by then is refused (one in use keeps its full duration). */
  expiresAt: Type.Optional(Timestamp),
  /** Who sells it (a shop, an agent). */
  note: Type.Optional(Str(200, 0)),
});
export type CreateBatch = Static<typeof CreateBatch>;

export const VOUCHER_STATUSES = ['unused', 'active', 'expired', 'revoked'] as const;

export const BatchView = Obj({
  id: Type.String(),
  planId: Nullable(Type.String()),
  planName: Type.String(),
  durationSeconds: Type.Integer(),
  dataQuotaBytes: Nullable(Type.Integer()),
  quantity: Type.Integer(),
  alphabet: Enum(['numeric', 'alphanumeric'] as const),
  codeLength: Type.Integer(),
  /** log2 of the number of possible codes. */
  keyspaceBits: Type.Number(),
  deviceLimit: Type.Integer(),
  price: Type.Integer(),
  expiresAt: Nullable(Instant),
  note: Nullable(Type.String()),
  createdAt: Instant,
});
export type BatchView = Static<typeof BatchView>;

export const CreatedBatch = Obj({ batch: BatchView, codes: Type.Array(Type.String()) });
export type CreatedBatch = Static<typeof CreatedBatch>;

export const BatchQuery = Obj({ ...PageQuery, planId: Type.Optional(Uuid) });
export type BatchQuery = Static<typeof BatchQuery>;

export const VoucherQuery = Obj({
  ...PageQuery,
  batchId: Type.Optional(Uuid),
  status: Type.Optional(Enum(VOUCHER_STATUSES)),
  /** A code, or its beginning. */
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9 -]+$' })),
});
export type VoucherQuery = Static<typeof VoucherQuery>;

export const VoucherView = Obj({
  id: Type.String(),
  code: Type.String(),
  batchId: Type.String(),
  planName: Type.String(),
  status: Enum(VOUCHER_STATUSES),
  deviceLimit: Type.Integer(),
  devicesBound: Type.Integer(),
  price: Type.Integer(),
  note: Nullable(Type.String()),
  /** Use-by date of an unused voucher. */
  expiresAt: Nullable(Instant),
  /** First Access-Accept: the clock started. */
  activatedAt: Nullable(Instant),
  /** End of the period the first login started. */
  validUntil: Nullable(Instant),
  revokedAt: Nullable(Instant),
  revokedReason: Nullable(Type.String()),
  createdAt: Instant,
});
export type VoucherView = Static<typeof VoucherView>;

export const Revoke = Obj({ reason: Type.Optional(Str(200)) });
export type Revoke = Static<typeof Revoke>;

export const BatchRevoked = Obj({
  /** Vouchers revoked by this request (those revoked before are left as they were). */
  revoked: Type.Integer(),
  /** Of them, with a live session that is being disconnected. */
  disconnecting: Type.Integer(),
});
export type BatchRevoked = Static<typeof BatchRevoked>;

export const VoucherUsage = Obj({
  voucher: VoucherView,
  devices: Type.Array(Obj({ macAddress: Type.String(), boundAt: Instant })),
  sessions: Type.Integer(),
  openSessions: Type.Integer(),
  inputBytes: Type.Integer(),
  outputBytes: Type.Integer(),
  sessionSeconds: Type.Integer(),
  lastSeenAt: Nullable(Instant),
});
export type VoucherUsage = Static<typeof VoucherUsage>;

export const PrintQuery = Obj({
  format: EnumDefault(['html', 'pdf'] as const, 'html'),
  /** a4: a grid of cards on A4; thermal: one voucher after another on 58 mm receipt paper. */
  layout: EnumDefault(['a4', 'thermal'] as const, 'a4'),
  /** Which vouchers of the batch: the unused ones (default) or every one not revoked. */
  which: EnumDefault(['unused', 'all'] as const, 'unused'),
  /** A slice of them, by code (a sheet of 10,000 QR codes is 30 MB of HTML). */
  offset: Defaulted(Type.Integer({ minimum: 0, maximum: 10000, default: 0 })),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
});
export type PrintQuery = Static<typeof PrintQuery>;

export const RedeemToken = Obj({ token: Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' }) });
export type RedeemToken = Static<typeof RedeemToken>;
