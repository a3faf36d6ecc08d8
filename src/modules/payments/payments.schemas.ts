import { Type, Obj, Str, Nullable, Enum, Uuid, Instant, Timestamp, PageQuery, type Static } from '../../lib/schema';

const Digits = Type.String({ pattern: '^[0-9]{5,10}$' });
/** Credentials as Daraja issues them: printable ASCII, bounded. */
const Credential = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' });

export const CreateMpesaAccount = Obj({
  name: Str(80),
  kind: Enum(['paybill', 'till'] as const),
  /** Paybill number, or the till number (PartyB of a till's STK Push). */
  shortcode: Digits,
  /** A till's store (head office) number: the BusinessShortCode of its STK Push. */
  storeNumber: Type.Optional(Digits),
  environment: Enum(['sandbox', 'production'] as const),
  consumerKey: Credential,
  consumerSecret: Credential,
  passkey: Credential,
  /** Refuse C2B payments whose account reference names no subscriber (needs Daraja's external validation). */
  validateAccounts: Type.Optional(Type.Boolean()),
});
export type CreateMpesaAccount = Static<typeof CreateMpesaAccount>;

export const MpesaAccountPatch = Obj({
  name: Type.Optional(Str(80)),
  storeNumber: Type.Optional(Nullable(Digits)),
  environment: Type.Optional(Enum(['sandbox', 'production'] as const)),
  consumerKey: Type.Optional(Credential),
  consumerSecret: Type.Optional(Credential),
  passkey: Type.Optional(Credential),
  validateAccounts: Type.Optional(Type.Boolean()),
  active: Type.Optional(Type.Boolean()),
});
export type MpesaAccountPatch = Static<typeof MpesaAccountPatch>;

/** An account as the API shows it: credentials are write-only (never returned). */
export const MpesaAccountView = Obj({
  id: Type.String(),
  name: Type.String(),
  kind: Enum(['paybill', 'till'] as const),
  shortcode: Type.String(),
  storeNumber: Nullable(Type.String()),
  environment: Enum(['sandbox', 'production'] as const),
  validateAccounts: Type.Boolean(),
  active: Type.Boolean(),
  /** The callback URLs' paths (the token is in them; rotate it with POST .../rotate-token). */
  callbackPaths: Obj({ stk: Type.String(), c2bValidation: Type.String(), c2bConfirmation: Type.String() }),
  createdAt: Instant,
  updatedAt: Instant,
});
export type MpesaAccountView = Static<typeof MpesaAccountView>;

export const PAYMENT_STATES = ['pending', 'completed', 'failed', 'cancelled', 'expired'] as const;
export const ALLOCATIONS = ['allocated', 'unallocated', 'refunded'] as const;

export const PaymentView = Obj({
  id: Type.String(),
  channel: Enum(['stk', 'c2b', 'manual'] as const),
  accountId: Nullable(Type.String()),
  state: Enum(PAYMENT_STATES),
  /** Minor units of the tenant's currency. */
  amount: Type.Integer(),
  phone: Nullable(Type.String()),
  accountRef: Nullable(Type.String()),
  checkoutRequestId: Nullable(Type.String()),
  mpesaReceipt: Nullable(Type.String()),
  subscriberId: Nullable(Type.String()),
  planId: Nullable(Type.String()),
  subscriptionId: Nullable(Type.String()),
  resultCode: Nullable(Type.String()),
  resultDesc: Nullable(Type.String()),
  allocation: Nullable(Enum(ALLOCATIONS)),
  unallocatedReason: Nullable(Type.String()),
  settledBy: Nullable(Type.String()),
  settledAt: Nullable(Instant),
  queryAttempts: Type.Integer(),
  expiresAt: Nullable(Instant),
  refundedAt: Nullable(Instant),
  refundNote: Nullable(Type.String()),
  transactionTime: Nullable(Instant),
  createdAt: Instant,
  /** A line the buyer can read about where the payment stands. */
  message: Type.String(),
});
export type PaymentView = Static<typeof PaymentView>;

export const PaymentQuery = Obj({
  ...PageQuery,
  state: Type.Optional(Enum(PAYMENT_STATES)),
  channel: Type.Optional(Enum(['stk', 'c2b', 'manual'] as const)),
  allocation: Type.Optional(Enum(ALLOCATIONS)),
  subscriberId: Type.Optional(Uuid),
  phone: Type.Optional(Type.String({ pattern: '^254[17][0-9]{8}$' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
});
export type PaymentQuery = Static<typeof PaymentQuery>;

export const CALLBACK_KINDS = ['stk', 'c2b_validation', 'c2b_confirmation'] as const;

export const CallbackQuery = Obj({
  ...PageQuery,
  kind: Type.Optional(Enum(CALLBACK_KINDS)),
  outcome: Type.Optional(Str(40)),
});
export type CallbackQuery = Static<typeof CallbackQuery>;

export const CallbackView = Obj({
  id: Type.String(),
  kind: Enum(CALLBACK_KINDS),
  accountId: Nullable(Type.String()),
  receivedAt: Instant,
  sourceAddress: Nullable(Type.String()),
  contentType: Nullable(Type.String()),
  headers: Type.Record(Type.String(), Type.String()),
  /** The body as text when it is UTF-8, else base64 (bodyEncoding says which). */
  body: Type.String(),
  bodyEncoding: Enum(['utf8', 'base64'] as const),
  bodyBytes: Type.Integer(),
  outcome: Type.String(),
  detail: Nullable(Type.String()),
  paymentId: Nullable(Type.String()),
  checkoutRequestId: Nullable(Type.String()),
});
export type CallbackView = Static<typeof CallbackView>;

export const InitiateStk = Obj({
  subscriberId: Uuid,
  /** Default: the subscriber's plan. */
  planId: Type.Optional(Uuid),
  /** Default: the subscriber's phone. Any Kenyan form (07.., 01.., +254.., 254..). */
  phone: Type.Optional(Type.String({ minLength: 9, maxLength: 20, pattern: '^[0-9 +().-]+$' })),
  /** Default: the tenant's first active account. */
  accountId: Type.Optional(Uuid),
});
export type InitiateStk = Static<typeof InitiateStk>;

export const AssignPayment = Obj({ subscriberId: Uuid, planId: Type.Optional(Uuid) });
export type AssignPayment = Static<typeof AssignPayment>;

export const RefundPayment = Obj({ note: Str(500) });
export type RefundPayment = Static<typeof RefundPayment>;

export const ReconciliationQuery = Obj({ date: Type.String({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }) });

export const ReconciliationView = Obj({
  date: Type.String(),
  timeZone: Type.String(),
  currency: Type.String(),
  /** Asked for by STK Push that day (any outcome). */
  expected: Type.Integer(),
  expectedCount: Type.Integer(),
  /** Completed payments (STK and C2B). */
  credited: Type.Integer(),
  creditedCount: Type.Integer(),
  unallocated: Type.Integer(),
  unallocatedCount: Type.Integer(),
  refunded: Type.Integer(),
  pending: Type.Integer(),
  failed: Type.Integer(),
});
export type ReconciliationView = Static<typeof ReconciliationView>;

export const StatementImport = Obj({
  /** The M-Pesa org portal's CSV export (Receipt No., Completion Time, Paid In, ...). */
  csv: Type.String({ minLength: 1, maxLength: 5_000_000, pattern: '^[^\\u0000\\ud800-\\udfff]*$' }),
});

const StatementLine = Obj({ receipt: Type.String(), amount: Type.Integer(), completedAt: Nullable(Type.String()) });
export const StatementReport = Obj({
  lines: Type.Integer(),
  matched: Type.Integer(),
  /** In the statement, not in the ledger. */
  missing: Type.Array(StatementLine),
  /** In the ledger (completed in the statement's period), not in the statement. */
  excess: Type.Array(StatementLine),
  /** In both, with different amounts (statement amount shown). */
  amountMismatch: Type.Array(StatementLine),
  /** Lines that could not be read (line number and why). */
  unreadable: Type.Array(Obj({ line: Type.Integer(), reason: Type.String() })),
});
export type StatementReport = Static<typeof StatementReport>;

/** A tenant's SMS settings as the API shows them: the API key is write-only (only whether it is set). */
export const SmsSettingsView = Obj({
  /** Off: the tenant's messages are not sent (marked failed, "SMS turned off"). */
  enabled: Type.Boolean(),
  /** The sender ID registered on the account that sends (null: the install's, or the provider's default). */
  senderId: Nullable(Type.String()),
  /** The tenant's own Africa's Talking username (null: the install's account sends). */
  username: Nullable(Type.String()),
  apiKeySet: Type.Boolean(),
  updatedAt: Nullable(Instant),
});
export type SmsSettingsView = Static<typeof SmsSettingsView>;

/** Username and API key are given together, or both null (back to the install's account). */
export const SmsSettingsPatch = Obj({
  enabled: Type.Optional(Type.Boolean()),
  senderId: Type.Optional(Nullable(Type.String({ pattern: '^[A-Za-z0-9 ]{1,11}$' }))),
  username: Type.Optional(Nullable(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }))),
  apiKey: Type.Optional(Nullable(Credential)),
});
export type SmsSettingsPatch = Static<typeof SmsSettingsPatch>;
