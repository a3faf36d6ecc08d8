/**
 * Queries of the payments area: collection accounts, raw callbacks, payments, the ledger and
 * the SMS outbox. Every query names the tenant except the two that find the tenant: the
 * callback token lookup and the worker's claims (which carry tenant_id on every row).
 */
import type { Knex } from 'knex';
import type { Handle } from '../../db/knex';

export interface AccountRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: 'paybill' | 'till';
  shortcode: string;
  store_number: string | null;
  environment: 'sandbox' | 'production';
  consumer_key_sealed: string;
  consumer_secret_sealed: string;
  passkey_sealed: string;
  callback_token: string;
  validate_accounts: boolean;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export type PaymentState = 'pending' | 'completed' | 'failed' | 'cancelled' | 'expired';
export type Allocation = 'allocated' | 'unallocated' | 'refunded';

export interface PaymentRow {
  id: string;
  tenant_id: string;
  account_id: string | null;
  channel: 'stk' | 'c2b' | 'manual';
  checkout_request_id: string | null;
  merchant_request_id: string | null;
  mpesa_receipt: string | null;
  phone: string | null;
  phone_hash: string | null;
  amount: string | number;
  account_ref: string | null;
  plan_id: string | null;
  subscriber_id: string | null;
  state: PaymentState;
  result_code: string | null;
  result_desc: string | null;
  query_attempts: number;
  next_query_at: Date | null;
  claimed_until: Date | null;
  expires_at: Date | null;
  settled_at: Date | null;
  settled_by: string | null;
  allocation: Allocation | null;
  unallocated_reason: string | null;
  subscription_id: string | null;
  allocated_at: Date | null;
  refunded_at: Date | null;
  refund_note: string | null;
  transaction_time: Date | null;
  payer_name: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface CallbackRow {
  id: string;
  tenant_id: string | null;
  account_id: string | null;
  kind: 'stk' | 'c2b_validation' | 'c2b_confirmation';
  received_at: Date;
  source_address: string | null;
  content_type: string | null;
  headers: Record<string, string>;
  body: Buffer;
  body_bytes: number;
  outcome: string;
  detail: string | null;
  payment_id: string | null;
  checkout_request_id: string | null;
}

// Accounts

export async function insertAccount(
  h: Handle,
  row: Omit<AccountRow, 'id' | 'created_at' | 'updated_at' | 'active'> & { active?: boolean },
): Promise<AccountRow> {
  const [r] = await h('mpesa_accounts').insert(row).returning('*');
  return r;
}

export async function findAccount(h: Handle, tenantId: string, id: string): Promise<AccountRow | undefined> {
  return h('mpesa_accounts').where({ tenant_id: tenantId, id }).first();
}

/** The tenant's account to collect with: the one named, or the oldest active one. */
export async function collectingAccount(h: Handle, tenantId: string, id?: string): Promise<AccountRow | undefined> {
  const q = h('mpesa_accounts').where({ tenant_id: tenantId, active: true });
  if (id) q.andWhere({ id });
  return q.orderBy('created_at').first();
}

/** The account a callback URL's token names (tokens are unique across tenants). */
export async function accountByToken(h: Handle, token: string): Promise<AccountRow | undefined> {
  return h('mpesa_accounts').where({ callback_token: token }).first();
}

export function accountsQuery(h: Handle, tenantId: string) {
  return h('mpesa_accounts')
    .where({ tenant_id: tenantId })
    .orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id' }]);
}

export async function updateAccount(
  h: Handle,
  tenantId: string,
  id: string,
  row: Record<string, unknown>,
): Promise<AccountRow | undefined> {
  const [r] = await h('mpesa_accounts')
    .where({ tenant_id: tenantId, id })
    .update({ ...row, updated_at: h.fn.now() })
    .returning('*');
  return r;
}

export async function deleteAccount(h: Handle, tenantId: string, id: string): Promise<number> {
  return h('mpesa_accounts').where({ tenant_id: tenantId, id }).del();
}

// Raw callbacks

export async function insertCallback(
  h: Handle,
  row: Pick<
    CallbackRow,
    | 'tenant_id'
    | 'account_id'
    | 'kind'
    | 'source_address'
    | 'content_type'
    | 'headers'
    | 'body'
    | 'body_bytes'
    | 'outcome'
    | 'detail'
  >,
): Promise<string> {
  const [r] = await h('mpesa_callbacks')
    .insert({ ...row, headers: JSON.stringify(row.headers) })
    .returning('id');
  return String(r.id);
}

export async function setCallbackOutcome(
  h: Handle,
  id: string,
  o: { outcome: string; detail?: string | null; paymentId?: string | null; checkoutRequestId?: string | null },
): Promise<void> {
  await h('mpesa_callbacks')
    .where({ id })
    .update({
      outcome: o.outcome,
      detail: o.detail?.slice(0, 500) ?? null,
      payment_id: o.paymentId ?? null,
      checkout_request_id: o.checkoutRequestId ?? null,
    });
}

/** STK callbacks kept as unknown that name this request (they came before it was recorded). */
export async function unknownCallbacksFor(
  h: Handle,
  tenantId: string,
  checkoutRequestId: string,
): Promise<CallbackRow[]> {
  return h('mpesa_callbacks')
    .where({ tenant_id: tenantId, checkout_request_id: checkoutRequestId, kind: 'stk', outcome: 'unknown_request' })
    .orderBy('id');
}

export function callbacksQuery(
  h: Handle,
  tenantId: string,
  q: { kind?: string | undefined; outcome?: string | undefined },
) {
  const b = h('mpesa_callbacks').where({ tenant_id: tenantId });
  if (q.kind) b.andWhere({ kind: q.kind });
  if (q.outcome) b.andWhere({ outcome: q.outcome });
  return b.orderBy([
    { column: 'received_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
}

// Payments

export async function insertPayment(
  h: Handle,
  row: Partial<PaymentRow> & Pick<PaymentRow, 'tenant_id' | 'channel' | 'amount'>,
): Promise<PaymentRow> {
  const [r] = await h('payments').insert(row).returning('*');
  return r;
}

/** A C2B payment, once per receipt: undefined when the receipt is already recorded. */
export async function insertPaymentOnce(
  h: Handle,
  row: Partial<PaymentRow> & Pick<PaymentRow, 'tenant_id' | 'channel' | 'amount' | 'mpesa_receipt'>,
): Promise<PaymentRow | undefined> {
  const r = await h('payments').insert(row).onConflict(h.raw('(mpesa_receipt)')).ignore().returning('*');
  return r[0];
}

export async function findPayment(h: Handle, tenantId: string, id: string): Promise<PaymentRow | undefined> {
  return h('payments').where({ tenant_id: tenantId, id }).first();
}

/** Locks the payment for the rest of the transaction: callbacks, queries and staff act on it in turn. */
export async function lockPayment(
  trx: Knex.Transaction,
  tenantId: string,
  id: string,
): Promise<PaymentRow | undefined> {
  return trx('payments').where({ tenant_id: tenantId, id }).forUpdate().first();
}

export async function lockPaymentByCheckout(
  trx: Knex.Transaction,
  tenantId: string,
  checkoutRequestId: string,
): Promise<PaymentRow | undefined> {
  return trx('payments').where({ tenant_id: tenantId, checkout_request_id: checkoutRequestId }).forUpdate().first();
}

/** A completed payment by its M-Pesa receipt, locked (the portal's "already paid" claim). */
export async function lockCompletedByReceipt(
  trx: Knex.Transaction,
  tenantId: string,
  receipt: string,
): Promise<PaymentRow | undefined> {
  return trx('payments').where({ tenant_id: tenantId, mpesa_receipt: receipt, state: 'completed' }).forUpdate().first();
}

export async function updatePayment(
  h: Handle,
  tenantId: string,
  id: string,
  row: Record<string, unknown>,
): Promise<PaymentRow> {
  const [r] = await h('payments')
    .where({ tenant_id: tenantId, id })
    .update({ ...row, updated_at: h.fn.now() })
    .returning('*');
  return r;
}

export interface PaymentFilter {
  state?: string | undefined;
  channel?: string | undefined;
  allocation?: string | undefined;
  subscriberId?: string | undefined;
  phone?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export function paymentsQuery(h: Handle, tenantId: string, q: PaymentFilter) {
  const b = h('payments').where({ tenant_id: tenantId });
  if (q.state) b.andWhere({ state: q.state });
  if (q.channel) b.andWhere({ channel: q.channel });
  if (q.allocation) b.andWhere({ allocation: q.allocation });
  if (q.subscriberId) b.andWhere({ subscriber_id: q.subscriberId });
  if (q.phone) b.andWhere({ phone: q.phone });
  if (q.from) b.andWhere('created_at', '>=', q.from);
  if (q.to) b.andWhere('created_at', '<', q.to);
  return b.orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
}

/**
 * Pending STK payments whose query is due, claimed for `leaseSeconds` (FOR UPDATE SKIP LOCKED:
 * two workers never take the same row; a worker that dies leaves its rows to the next claim
 * when the lease has run out).
 */
export async function claimDueQueries(
  trx: Knex.Transaction,
  now: Date,
  limit: number,
  leaseSeconds: number,
): Promise<PaymentRow[]> {
  return trx
    .raw(
      `UPDATE payments p SET claimed_until = ?::timestamptz + make_interval(secs => ?)
        WHERE p.id IN (
          SELECT id FROM payments
           WHERE state = 'pending' AND channel = 'stk' AND next_query_at <= ?
             AND (claimed_until IS NULL OR claimed_until <= ?)
           ORDER BY next_query_at LIMIT ? FOR UPDATE SKIP LOCKED)
        RETURNING p.*`,
      [now, leaseSeconds, now, now, limit],
    )
    .then((r: { rows: PaymentRow[] }) => r.rows);
}

// Ledger

export async function insertLedgerEntry(
  h: Handle,
  row: {
    tenant_id: string;
    payment_id: string;
    kind: 'credit' | 'refund';
    amount: number;
    subscriber_id: string | null;
    subscription_id: string | null;
    actor_type: string;
    actor_id: string | null;
    note?: string | null;
  },
): Promise<boolean> {
  const r = await h('ledger_entries').insert(row).onConflict(h.raw('(payment_id, kind)')).ignore().returning('id');
  return r.length > 0;
}

/** One day's totals in the tenant's time zone: asked (STK requested), credited, unallocated, refunded. */
export async function reconciliation(
  h: Handle,
  tenantId: string,
  day: string,
): Promise<{
  expected: number;
  expectedCount: number;
  credited: number;
  creditedCount: number;
  unallocated: number;
  unallocatedCount: number;
  refunded: number;
  pending: number;
  failed: number;
}> {
  const r = await h.raw(
    `WITH tz AS (SELECT time_zone FROM tenants WHERE id = ?),
          b AS (SELECT (?::date)::timestamp AT TIME ZONE tz.time_zone AS lo, ((?::date) + 1)::timestamp AT TIME ZONE tz.time_zone AS hi FROM tz)
     SELECT
       coalesce(sum(p.amount) FILTER (WHERE p.channel = 'stk'), 0)::bigint AS expected,
       count(*) FILTER (WHERE p.channel = 'stk')::int AS expected_count,
       coalesce(sum(p.amount) FILTER (WHERE p.state = 'completed'), 0)::bigint AS credited,
       count(*) FILTER (WHERE p.state = 'completed')::int AS credited_count,
       coalesce(sum(p.amount) FILTER (WHERE p.allocation = 'unallocated'), 0)::bigint AS unallocated,
       count(*) FILTER (WHERE p.allocation = 'unallocated')::int AS unallocated_count,
       coalesce(sum(p.amount) FILTER (WHERE p.allocation = 'refunded'), 0)::bigint AS refunded,
       count(*) FILTER (WHERE p.state = 'pending')::int AS pending,
       count(*) FILTER (WHERE p.state IN ('failed', 'cancelled', 'expired'))::int AS failed
     FROM payments p, b
     WHERE p.tenant_id = ? AND coalesce(p.transaction_time, p.created_at) >= b.lo AND coalesce(p.transaction_time, p.created_at) < b.hi`,
    [tenantId, day, day, tenantId],
  );
  const x = r.rows[0];
  return {
    expected: Number(x.expected),
    expectedCount: x.expected_count,
    credited: Number(x.credited),
    creditedCount: x.credited_count,
    unallocated: Number(x.unallocated),
    unallocatedCount: x.unallocated_count,
    refunded: Number(x.refunded),
    pending: x.pending,
    failed: x.failed,
  };
}

/** Completed payments of the tenant with these receipts (statement import). */
export async function paymentsByReceipts(
  h: Handle,
  tenantId: string,
  receipts: string[],
): Promise<Array<{ mpesa_receipt: string; amount: string | number; state: string }>> {
  if (receipts.length === 0) return [];
  return h('payments')
    .where({ tenant_id: tenantId })
    .whereIn('mpesa_receipt', receipts)
    .select('mpesa_receipt', 'amount', 'state');
}

/** Completed payments between two instants (statement import: what the ledger has that the statement lacks). */
export async function completedBetween(
  h: Handle,
  tenantId: string,
  lo: Date,
  hi: Date,
): Promise<Array<{ mpesa_receipt: string; amount: string | number; transaction_time: Date | null; created_at: Date }>> {
  return h('payments')
    .where({ tenant_id: tenantId, state: 'completed' })
    .andWhereRaw('coalesce(transaction_time, created_at) >= ? AND coalesce(transaction_time, created_at) <= ?', [
      lo,
      hi,
    ])
    .select('mpesa_receipt', 'amount', 'transaction_time', 'created_at');
}

// Subscribers as payments sees them

export interface PayerRow {
  id: string;
  username: string;
  status: 'active' | 'suspended';
  plan_id: string | null;
  phone: string | null;
  account_number: string;
}

export async function payerById(h: Handle, tenantId: string, id: string): Promise<PayerRow | undefined> {
  return h('subscribers')
    .where({ tenant_id: tenantId, id })
    .first('id', 'username', 'status', 'plan_id', 'phone', 'account_number');
}

export async function payerByAccountNumber(
  h: Handle,
  tenantId: string,
  accountNumber: string,
): Promise<PayerRow | undefined> {
  return h('subscribers')
    .where({ tenant_id: tenantId })
    .andWhereRaw('upper(account_number) = upper(?)', [accountNumber])
    .first('id', 'username', 'status', 'plan_id', 'phone', 'account_number');
}

/** Subscribers whose phone hashes to `hash` (at most 2 are read: more than one is ambiguous). */
export async function payersByPhoneHash(h: Handle, tenantId: string, hash: string): Promise<PayerRow[]> {
  return h('subscribers')
    .where({ tenant_id: tenantId, phone_hash: hash.toLowerCase() })
    .limit(2)
    .select('id', 'username', 'status', 'plan_id', 'phone', 'account_number');
}

export async function tenantLocale(
  h: Handle,
  tenantId: string,
): Promise<{ time_zone: string; language: 'en' | 'sw'; name: string; currency: string }> {
  return h('tenants').where({ id: tenantId }).first('time_zone', 'language', 'name', 'currency');
}

// SMS outbox

export async function enqueueSms(
  h: Handle,
  row: {
    tenant_id: string;
    kind: 'receipt' | 'credentials' | 'reminder';
    dedupe_key: string;
    phone: string;
    body: string;
  },
): Promise<void> {
  await h('sms_outbox').insert(row).onConflict(h.raw('(tenant_id, dedupe_key)')).ignore();
}

export interface SmsRow {
  id: string;
  tenant_id: string;
  kind: string;
  phone: string;
  body: string;
  attempts: number;
}

export async function claimDueSms(h: Handle, now: Date, limit: number, leaseSeconds: number): Promise<SmsRow[]> {
  const r = await h.raw(
    `UPDATE sms_outbox s SET status = 'sending', claimed_until = ?::timestamptz + make_interval(secs => ?), attempts = s.attempts + 1
      WHERE s.id IN (
        SELECT id FROM sms_outbox
         WHERE next_attempt_at <= ? AND (status = 'pending' OR (status = 'sending' AND claimed_until <= ?))
         ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)
      RETURNING s.id, s.tenant_id, s.kind, s.phone, s.body, s.attempts`,
    [now, leaseSeconds, now, now, limit],
  );
  return r.rows.map((x: SmsRow) => ({ ...x, id: String(x.id) }));
}

export async function smsOutcome(
  h: Handle,
  id: string,
  o: {
    status: 'sent' | 'failed' | 'pending';
    providerMessageId?: string | null;
    error?: string | null;
    nextAttemptAt?: Date;
    sentAt?: Date;
  },
): Promise<void> {
  await h('sms_outbox')
    .where({ id, status: 'sending' })
    .update({
      status: o.status,
      provider_message_id: o.providerMessageId ?? null,
      last_error: o.error?.slice(0, 500) ?? null,
      claimed_until: null,
      ...(o.nextAttemptAt ? { next_attempt_at: o.nextAttemptAt } : {}),
      ...(o.sentAt ? { sent_at: o.sentAt } : {}),
    });
}

export interface SmsSettingsRow {
  tenant_id: string;
  enabled: boolean;
  sender_id: string | null;
  username: string | null;
  api_key_sealed: string | null;
  updated_at: Date;
}

export async function findSmsSettings(h: Handle, tenantId: string): Promise<SmsSettingsRow | undefined> {
  return h('tenant_sms_settings').where({ tenant_id: tenantId }).first();
}

export async function upsertSmsSettings(
  h: Handle,
  tenantId: string,
  row: Partial<Omit<SmsSettingsRow, 'tenant_id' | 'updated_at'>>,
): Promise<SmsSettingsRow> {
  const [r] = await h('tenant_sms_settings')
    .insert({ tenant_id: tenantId, ...row, updated_at: h.fn.now() })
    .onConflict('tenant_id')
    .merge({ ...row, updated_at: h.fn.now() })
    .returning('*');
  return r as SmsSettingsRow;
}
