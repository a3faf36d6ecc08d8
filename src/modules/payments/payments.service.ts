/**
 * The ledger: callbacks in, payments settled once, money allocated or queued as unallocated.
 *
 * Exactly once: a payment moves only while it is `pending`, under its row lock, in one
 * transaction with everything it causes (ledger credit, subscription, outbox rows, SMS); the
 * receipt number is unique across all payments and the ledger credit is unique per payment,
 * so a duplicate that races past the state check still fails on a key and changes nothing.
 * Every raw callback was stored before any of this (CallbacksService.store), and its row is
 * given the outcome of its handling in the same transaction.
 */
import type { Knex } from 'knex';
import { withTransaction } from '../../db/knex';
import { sqlState } from '../../db/errors';
import type { Clock } from '../../lib/clock';
import { AppError } from '../../lib/errors';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isoOrNull } from '../../lib/time';
import type { C2bNotification, C2bRejectReason, Invalid, StkCallback } from '../../mpesa/callbacks';
import { parsePhone } from '../../mpesa/phone';
import { stkOutcome, stkPaymentState, STK_OUTCOME_MESSAGES } from '../../mpesa/result-codes';
import { audit } from '../audit/audit.repo';
import { SYSTEM, type Actor } from '../audit/actor';
import { allocate } from './activation';
import {
  accountByToken,
  callbacksQuery,
  insertCallback,
  completedBetween,
  findPayment,
  insertLedgerEntry,
  insertPaymentOnce,
  lockPayment,
  lockPaymentByCheckout,
  paymentsByReceipts,
  paymentsQuery,
  payerByAccountNumber,
  payersByPhoneHash,
  reconciliation,
  setCallbackOutcome,
  tenantLocale,
  updatePayment,
  type AccountRow,
  type CallbackRow,
  type PaymentRow,
} from './payments.repo';
import type {
  AssignPayment,
  CallbackQuery,
  CallbackView,
  PaymentQuery,
  PaymentView,
  ReconciliationView,
  StatementReport,
} from './payments.schemas';
import { parseStatement } from './statement';

/** What a callback's handling came to (recorded on its raw row). */
export type CallbackOutcome =
  | 'credited'
  | 'settled'
  | 'duplicate'
  | 'late'
  | 'receipt_recorded'
  | 'unknown_request'
  | 'account_mismatch'
  | 'amount_mismatch'
  | 'phone_mismatch'
  | 'duplicate_receipt'
  | 'invalid'
  | 'accepted'
  | 'rejected';

export function paymentMessage(p: Pick<PaymentRow, 'state' | 'result_code' | 'allocation'>): string {
  switch (p.state) {
    case 'pending':
      return 'Waiting for the M-Pesa payment to be confirmed.';
    case 'completed':
      return p.allocation === 'unallocated'
        ? 'Payment received; staff will assign it to an account.'
        : STK_OUTCOME_MESSAGES.paid;
    case 'expired':
      return p.result_code ? STK_OUTCOME_MESSAGES[stkOutcome(p.result_code)] : 'The payment was not confirmed in time.';
    default:
      return p.result_code ? STK_OUTCOME_MESSAGES[stkOutcome(p.result_code)] : STK_OUTCOME_MESSAGES.other;
  }
}

export function paymentView(r: PaymentRow): PaymentView {
  return {
    id: r.id,
    channel: r.channel,
    accountId: r.account_id,
    state: r.state,
    amount: Number(r.amount),
    phone: r.phone,
    accountRef: r.account_ref,
    checkoutRequestId: r.checkout_request_id,
    mpesaReceipt: r.mpesa_receipt,
    subscriberId: r.subscriber_id,
    planId: r.plan_id,
    subscriptionId: r.subscription_id,
    resultCode: r.result_code,
    resultDesc: r.result_desc,
    allocation: r.allocation,
    unallocatedReason: r.unallocated_reason,
    settledBy: r.settled_by,
    settledAt: isoOrNull(r.settled_at),
    queryAttempts: r.query_attempts,
    expiresAt: isoOrNull(r.expires_at),
    refundedAt: isoOrNull(r.refunded_at),
    refundNote: r.refund_note,
    transactionTime: isoOrNull(r.transaction_time),
    createdAt: iso(r.created_at),
    message: paymentMessage(r),
  };
}

export function callbackView(r: CallbackRow): CallbackView {
  const body = Buffer.from(r.body);
  const text = body.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(body);
  return {
    id: String(r.id),
    kind: r.kind,
    accountId: r.account_id,
    receivedAt: iso(r.received_at),
    sourceAddress: r.source_address,
    contentType: r.content_type,
    headers: r.headers ?? {},
    body: utf8 ? text : body.toString('base64'),
    bodyEncoding: utf8 ? 'utf8' : 'base64',
    bodyBytes: r.body_bytes,
    outcome: r.outcome,
    detail: r.detail,
    paymentId: r.payment_id,
    checkoutRequestId: r.checkout_request_id,
  };
}

const notFound = () => new AppError('PAYMENT_NOT_FOUND', 'payment not found');

/**
 * `fn` inside a savepoint of `trx`: a unique violation (a receipt recorded on another payment)
 * undoes `fn` alone and gives undefined; the transaction goes on.
 */
async function savepoint<T>(trx: Knex.Transaction, fn: () => Promise<T>): Promise<T | undefined> {
  await trx.raw('SAVEPOINT lango_receipt');
  try {
    const v = await fn();
    await trx.raw('RELEASE SAVEPOINT lango_receipt');
    return v;
  } catch (err) {
    await trx.raw('ROLLBACK TO SAVEPOINT lango_receipt');
    if (sqlState(err) === '23505') return undefined;
    throw err;
  }
}

export interface RawCallback {
  token: string;
  kind: 'stk' | 'c2b_validation' | 'c2b_confirmation';
  sourceAddress: string | undefined;
  contentType: string | undefined;
  headers: Record<string, string>;
  /** The bytes kept (at most the configured limit). */
  body: Buffer;
  /** The body's size as sent. */
  bodyBytes: number;
  truncated: boolean;
  /** The source address is outside the allowed networks. */
  refused: boolean;
}

/** A final STK result (callback or query) for a pending payment. */
export interface StkResult {
  resultCode: string;
  resultDesc: string;
  /** For a success from a callback: what was paid. */
  payment?: { amountMinor: number; receipt: string; phone?: string | undefined; transactedAt?: Date | undefined };
}

export class PaymentsService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    this.db = deps.db;
    this.clock = deps.clock;
  }

  /**
   * Settle a pending STK payment, under its lock, in `trx`. Returns the outcome; only a pending
   * payment moves. A success credits and allocates it.
   */
  async settleStk(
    trx: Knex.Transaction,
    p: PaymentRow,
    r: StkResult,
    by: 'callback' | 'query',
  ): Promise<{ outcome: CallbackOutcome; detail?: string; payment: PaymentRow }> {
    // Our expiry is a guess, not Daraja's answer: a success callback that comes after it is the
    // truth about the buyer's money and is credited (decisions.md, Payments: late successes).
    const lateSuccess =
      p.state === 'expired' && p.settled_by === 'expiry' && r.payment !== undefined && r.resultCode === '0';
    if (p.state !== 'pending' && !lateSuccess) {
      // A late callback may bring the receipt of a payment the query completed without one.
      if (r.payment && p.state === 'completed' && !p.mpesa_receipt && Number(p.amount) === r.payment.amountMinor) {
        const row = await this.recordReceipt(trx, p, r.payment.receipt);
        if (row) return { outcome: 'receipt_recorded', payment: row };
        return { outcome: 'duplicate_receipt', payment: p };
      }
      const same = p.result_code === r.resultCode && (!r.payment || r.payment.receipt === p.mpesa_receipt);
      return { outcome: same ? 'duplicate' : 'late', detail: `payment is ${p.state}`, payment: p };
    }
    const now = this.clock.date();
    const state = stkPaymentState(stkOutcome(r.resultCode));
    if (state !== 'completed') {
      const row = await updatePayment(trx, p.tenant_id, p.id, {
        state,
        result_code: r.resultCode,
        result_desc: r.resultDesc.slice(0, 300),
        settled_at: now,
        settled_by: by,
        next_query_at: null,
        claimed_until: null,
      });
      await audit(trx, {
        tenantId: p.tenant_id,
        actor: SYSTEM,
        action: `payment.${state}`,
        entity: 'payment',
        entityId: p.id,
        data: { resultCode: r.resultCode, by },
      });
      return { outcome: 'settled', payment: row };
    }
    if (r.payment) {
      if (r.payment.amountMinor !== Number(p.amount))
        return {
          outcome: 'amount_mismatch',
          detail: `asked ${p.amount}, callback says ${r.payment.amountMinor}`,
          payment: p,
        };
      if (r.payment.phone && p.phone && r.payment.phone !== p.phone)
        return { outcome: 'phone_mismatch', detail: 'the callback names another phone', payment: p };
    }
    const receipt = r.payment?.receipt ?? null;
    const row0 = await savepoint(trx, () =>
      updatePayment(trx, p.tenant_id, p.id, {
        state: 'completed',
        result_code: r.resultCode,
        result_desc: r.resultDesc.slice(0, 300),
        mpesa_receipt: receipt,
        settled_at: now,
        settled_by: by,
        transaction_time: r.payment?.transactedAt ?? now,
        next_query_at: null,
        claimed_until: null,
      }),
    );
    if (!row0)
      return { outcome: 'duplicate_receipt', detail: 'this receipt is recorded on another payment', payment: p };
    let row = row0;
    row = await allocate(trx, row, { now, actor: SYSTEM });
    return { outcome: 'credited', payment: row };
  }

  private async recordReceipt(trx: Knex.Transaction, p: PaymentRow, receipt: string): Promise<PaymentRow | undefined> {
    return savepoint(trx, () => updatePayment(trx, p.tenant_id, p.id, { mpesa_receipt: receipt }));
  }

  /**
   * Store a callback as received, before anything is made of it (its own transaction: the
   * bytes are kept even if handling fails). The token names the account (and tenant); an
   * unknown token is kept without a tenant, outcome bad_token.
   */
  async storeCallback(input: RawCallback): Promise<{ id: string; account: AccountRow | undefined }> {
    const account = /^[0-9a-f]{64}$/.test(input.token) ? await accountByToken(this.db, input.token) : undefined;
    const outcome = !account ? 'bad_token' : input.refused ? 'source_refused' : 'received';
    const id = await insertCallback(this.db, {
      tenant_id: account?.tenant_id ?? null,
      account_id: account?.id ?? null,
      kind: input.kind,
      source_address: input.sourceAddress?.slice(0, 100) ?? null,
      content_type: input.contentType?.slice(0, 200) ?? null,
      headers: input.headers,
      body: input.body,
      body_bytes: input.bodyBytes,
      outcome,
      detail: input.truncated ? `body of ${input.bodyBytes} bytes cut to ${input.body.length}` : null,
    });
    return { id, account: outcome === 'received' ? account : undefined };
  }

  /** A stored callback whose handling failed (the row keeps the bytes for review). */
  async callbackFailed(id: string, detail: string): Promise<void> {
    await setCallbackOutcome(this.db, id, { outcome: 'error', detail });
  }

  /** An STK callback that came through `account`'s URL; `callbackId` is its stored raw row. */
  async handleStkCallback(
    account: AccountRow,
    callbackId: string,
    parsed: StkCallback | Invalid,
  ): Promise<CallbackOutcome> {
    return withTransaction(this.db, async (trx) => {
      if (!parsed.ok) {
        await setCallbackOutcome(trx, callbackId, { outcome: 'invalid', detail: parsed.reason });
        return 'invalid';
      }
      const checkoutRequestId = parsed.checkoutRequestId;
      const p = await lockPaymentByCheckout(trx, account.tenant_id, checkoutRequestId);
      let result: { outcome: CallbackOutcome; detail?: string | undefined; paymentId?: string | null };
      if (!p) result = { outcome: 'unknown_request', detail: 'no payment has this CheckoutRequestID' };
      else if (p.account_id !== account.id)
        result = {
          outcome: 'account_mismatch',
          detail: 'the payment was asked through another account',
          paymentId: p.id,
        };
      else if (p.merchant_request_id && p.merchant_request_id !== parsed.merchantRequestId)
        result = { outcome: 'account_mismatch', detail: 'MerchantRequestID differs from the request', paymentId: p.id };
      else {
        const s = await this.settleStk(
          trx,
          p,
          {
            resultCode: parsed.resultCode,
            resultDesc: parsed.resultDesc,
            ...(parsed.payment
              ? {
                  payment: {
                    amountMinor: parsed.payment.amountMinor,
                    receipt: parsed.payment.receipt,
                    phone: parsed.payment.phone,
                    transactedAt: parsed.payment.transactedAt,
                  },
                }
              : {}),
          },
          'callback',
        );
        result = { outcome: s.outcome, detail: s.detail, paymentId: p.id };
      }
      await setCallbackOutcome(trx, callbackId, {
        outcome: result.outcome,
        detail: result.detail ?? null,
        paymentId: result.paymentId ?? null,
        checkoutRequestId,
      });
      return result.outcome;
    });
  }

  /**
   * The payer a C2B payment names: the account reference (a subscriber's account number), else
   * the phone (plain, or its SHA-256 as Daraja sends it since July 2024). A masked phone, or a
   * hash two subscribers share, names nobody.
   */
  private async c2bPayer(
    h: Knex.Transaction,
    tenantId: string,
    n: C2bNotification,
  ): Promise<{ subscriberId: string | null; ambiguous: boolean }> {
    const ref = n.billRefNumber.trim();
    if (ref) {
      const byRef = await payerByAccountNumber(h, tenantId, ref);
      if (byRef) return { subscriberId: byRef.id, ambiguous: false };
    }
    const hash = n.msisdn.kind === 'plain' || n.msisdn.kind === 'hashed' ? n.msisdn.hash : null;
    if (!hash) return { subscriberId: null, ambiguous: false };
    const byPhone = await payersByPhoneHash(h, tenantId, hash);
    if (byPhone.length === 1) return { subscriberId: byPhone[0]!.id, ambiguous: false };
    return { subscriberId: null, ambiguous: byPhone.length > 1 };
  }

  /** C2B validation (Daraja asks before it takes the money): accept unless the account checks it and it names nobody. */
  async validateC2b(
    account: AccountRow,
    callbackId: string,
    parsed: C2bNotification | Invalid,
  ): Promise<{ accept: boolean; reason?: C2bRejectReason }> {
    return withTransaction(this.db, async (trx) => {
      let decision: { accept: boolean; reason?: C2bRejectReason };
      let detail: string | null = null;
      if (!parsed.ok) {
        decision = { accept: false, reason: 'other' };
        detail = parsed.reason;
      } else if (!this.shortcodeMatches(account, parsed.businessShortCode)) {
        decision = { accept: false, reason: 'shortcode' };
        detail = `BusinessShortCode ${parsed.businessShortCode} is not this account's`;
      } else if (account.validate_accounts && account.kind === 'paybill') {
        const payer = await this.c2bPayer(trx, account.tenant_id, parsed);
        decision = payer.subscriberId ? { accept: true } : { accept: false, reason: 'account' };
        if (!payer.subscriberId) detail = 'the account reference names no subscriber';
      } else decision = { accept: true };
      await setCallbackOutcome(trx, callbackId, { outcome: decision.accept ? 'accepted' : 'rejected', detail });
      return decision;
    });
  }

  private shortcodeMatches(account: AccountRow, shortcode: string): boolean {
    return shortcode === account.shortcode || (account.store_number !== null && shortcode === account.store_number);
  }

  /** C2B confirmation: the money is in. Recorded once per receipt, credited, allocated or left unallocated. */
  async confirmC2b(
    account: AccountRow,
    callbackId: string,
    parsed: C2bNotification | Invalid,
  ): Promise<CallbackOutcome> {
    return withTransaction(this.db, async (trx) => {
      if (!parsed.ok) {
        await setCallbackOutcome(trx, callbackId, { outcome: 'invalid', detail: parsed.reason });
        return 'invalid';
      }
      if (!this.shortcodeMatches(account, parsed.businessShortCode)) {
        await setCallbackOutcome(trx, callbackId, {
          outcome: 'account_mismatch',
          detail: `BusinessShortCode ${parsed.businessShortCode} is not this account's`,
        });
        return 'account_mismatch';
      }
      const now = this.clock.date();
      const payer = await this.c2bPayer(trx, account.tenant_id, parsed);
      const phone = parsed.msisdn.kind === 'plain' ? parsed.msisdn.msisdn : null;
      const hash = parsed.msisdn.kind === 'plain' || parsed.msisdn.kind === 'hashed' ? parsed.msisdn.hash : null;
      const row = await insertPaymentOnce(trx, {
        tenant_id: account.tenant_id,
        account_id: account.id,
        channel: 'c2b',
        mpesa_receipt: parsed.transId,
        amount: parsed.amountMinor,
        phone,
        phone_hash: hash,
        account_ref: parsed.billRefNumber.slice(0, 100) || null,
        subscriber_id: payer.subscriberId,
        state: 'completed',
        result_code: '0',
        result_desc: parsed.transactionType.slice(0, 100) || 'C2B',
        settled_at: now,
        settled_by: 'c2b',
        transaction_time: parsed.transactedAt ?? now,
        payer_name:
          [parsed.firstName, parsed.middleName, parsed.lastName].filter(Boolean).join(' ').slice(0, 200) || null,
      });
      if (!row) {
        await setCallbackOutcome(trx, callbackId, {
          outcome: 'duplicate',
          detail: `receipt ${parsed.transId} is already recorded`,
        });
        return 'duplicate';
      }
      const done = await allocate(trx, row, {
        now,
        actor: SYSTEM,
        ...(payer.ambiguous ? { reason: 'ambiguous_phone' as const } : {}),
      });
      await setCallbackOutcome(trx, callbackId, {
        outcome: 'credited',
        paymentId: done.id,
        detail: done.allocation === 'unallocated' ? `unallocated: ${done.unallocated_reason}` : null,
      });
      return 'credited';
    });
  }

  async get(tenantId: string, id: string): Promise<PaymentView> {
    const row = await findPayment(this.db, tenantId, id);
    if (!row) throw notFound();
    return paymentView(row);
  }

  async list(tenantId: string, q: PaymentQuery): Promise<Page<PaymentView>> {
    return paginate(paymentsQuery(this.db, tenantId, q), q.limit, q.offset, paymentView);
  }

  async callbacks(tenantId: string, q: CallbackQuery): Promise<Page<CallbackView>> {
    return paginate(callbacksQuery(this.db, tenantId, q), q.limit, q.offset, callbackView);
  }

  /** Staff assign unallocated money to a subscriber (and plan): it activates as a paid one would. */
  async assign(actor: Actor, tenantId: string, id: string, input: AssignPayment): Promise<PaymentView> {
    return withTransaction(this.db, async (trx) => {
      const p = await lockPayment(trx, tenantId, id);
      if (!p) throw notFound();
      if (p.state !== 'completed' || p.allocation !== 'unallocated')
        throw new AppError('INVALID_STATE', 'only unallocated money can be assigned');
      const row = await allocate(trx, p, { now: this.clock.date(), actor, target: input });
      if (row.allocation !== 'allocated')
        throw new AppError('INVALID_STATE', `the payment cannot buy access: ${row.unallocated_reason}`, {
          reason: row.unallocated_reason,
        });
      await audit(trx, {
        tenantId,
        actor,
        action: 'payment.assign',
        entity: 'payment',
        entityId: id,
        data: { subscriberId: input.subscriberId, planId: input.planId ?? null },
      });
      return paymentView(row);
    });
  }

  /** Refunds are made in the M-Pesa portal; this records one (once), with a negative ledger entry. */
  async markRefunded(actor: Actor, tenantId: string, id: string, note: string): Promise<PaymentView> {
    return withTransaction(this.db, async (trx) => {
      const p = await lockPayment(trx, tenantId, id);
      if (!p) throw notFound();
      if (p.state !== 'completed') throw new AppError('INVALID_STATE', 'only a completed payment can be refunded');
      if (p.allocation === 'refunded') throw new AppError('INVALID_STATE', 'this payment is already marked refunded');
      await insertLedgerEntry(trx, {
        tenant_id: tenantId,
        payment_id: id,
        kind: 'refund',
        amount: -Number(p.amount),
        subscriber_id: p.subscriber_id,
        subscription_id: p.subscription_id,
        actor_type: actor.type,
        actor_id: actor.id,
        note,
      });
      const row = await updatePayment(trx, tenantId, id, {
        allocation: 'refunded',
        refunded_at: this.clock.date(),
        refund_note: note,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'payment.refund',
        entity: 'payment',
        entityId: id,
        data: { note, amount: Number(p.amount) },
      });
      return paymentView(row);
    });
  }

  /** One day in the tenant's time zone: asked, credited, unallocated. */
  async reconciliation(tenantId: string, date: string): Promise<ReconciliationView> {
    const t = await tenantLocale(this.db, tenantId);
    const r = await reconciliation(this.db, tenantId, date);
    return { date, timeZone: t.time_zone, currency: t.currency.trim(), ...r };
  }

  /** Compare an M-Pesa statement (CSV) with the ledger: what the ledger is missing, or has in excess. */
  async importStatement(tenantId: string, csv: string): Promise<StatementReport> {
    const st = parseStatement(csv);
    const receipts = st.lines.map((l) => l.receipt);
    const known = new Map<string, { amount: number; state: string }>();
    for (let i = 0; i < receipts.length; i += 1000) {
      for (const r of await paymentsByReceipts(this.db, tenantId, receipts.slice(i, i + 1000)))
        known.set(r.mpesa_receipt, { amount: Number(r.amount), state: r.state });
    }
    const missing: StatementReport['missing'] = [];
    const amountMismatch: StatementReport['amountMismatch'] = [];
    let matched = 0;
    for (const l of st.lines) {
      const k = known.get(l.receipt);
      const line = {
        receipt: l.receipt,
        amount: l.amount,
        completedAt: l.completedAt ? l.completedAt.toISOString() : null,
      };
      if (!k || k.state !== 'completed') missing.push(line);
      else if (k.amount !== l.amount) amountMismatch.push(line);
      else matched++;
    }
    const excess: StatementReport['excess'] = [];
    if (st.from && st.to) {
      const inStatement = new Set(receipts);
      for (const r of await completedBetween(this.db, tenantId, st.from, st.to)) {
        if (!r.mpesa_receipt || inStatement.has(r.mpesa_receipt)) continue;
        excess.push({
          receipt: r.mpesa_receipt,
          amount: Number(r.amount),
          completedAt: iso(r.transaction_time ?? r.created_at),
        });
      }
    }
    return { lines: st.lines.length, matched, missing, excess, amountMismatch, unreadable: st.unreadable };
  }
}

/** The payer's phone as M-Pesa writes it, or a VALIDATION_FAILED naming the problem. */
export function msisdnOf(phone: string, path = 'body.phone'): string {
  const r = parsePhone(phone);
  if (!r.ok) throw new AppError('VALIDATION_FAILED', r.message, { errors: [{ path, message: r.message }] });
  return r.msisdn;
}
