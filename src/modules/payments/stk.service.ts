/**
 * STK Push: asking the buyer's phone for the money, and settling the answer when no callback
 * comes (STK Query, on a backoff schedule, until an expiry).
 *
 * The payment row is written (pending) before the push, so nothing Daraja accepts is unknown
 * here; the push's CheckoutRequestID is recorded after it, and a callback that was faster than
 * that record (kept as unknown_request) is handled again then.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { withTransaction } from '../../db/knex';
import type { Clock } from '../../lib/clock';
import { AppError } from '../../lib/errors';
import { retryDelay } from '../../lib/retry-delay';
import { parseStkCallback } from '../../mpesa/callbacks';
import type { DarajaAccount, DarajaClient } from '../../mpesa/daraja-client';
import type { DarajaError } from '../../mpesa/result-codes';
import { audit } from '../audit/audit.repo';
import { SYSTEM, type Actor } from '../audit/actor';
import { findPlan } from '../plans/plans.repo';
import type { MpesaAccountsService } from './accounts.service';
import { callbackPaths } from './accounts.service';
import {
  claimDueQueries,
  collectingAccount,
  findAccount,
  insertPayment,
  lockPayment,
  payerById,
  unknownCallbacksFor,
  updatePayment,
  type PaymentRow,
} from './payments.repo';
import type { InitiateStk, PaymentView } from './payments.schemas';
import { msisdnOf, paymentView, type PaymentsService } from './payments.service';

export type DarajaFactory = (account: DarajaAccount) => Pick<DarajaClient, 'stkPush' | 'stkQuery' | 'registerC2bUrls'>;

export interface StkOptions {
  publicUrl: string | undefined;
  stkExpirySeconds: number;
  stkFirstQuerySeconds: number;
  stkQueryBaseSeconds: number;
  stkQueryCapSeconds: number;
  portalPushesPerPhone: number;
}

/** What the buyer is told when Daraja could not take the request. */
function pushError(e: DarajaError): AppError {
  switch (e.kind) {
    case 'busy':
    case 'quota':
    case 'subscriber-locked':
      return new AppError(
        'PAYMENT_PROVIDER_BUSY',
        e.kind === 'subscriber-locked'
          ? 'another M-Pesa request is open on this phone; try again in a minute'
          : 'M-Pesa is busy; try again in a moment',
        { kind: e.kind },
      );
    case 'timeout':
    case 'network':
    case 'internal':
    case 'unexpected':
      return new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'M-Pesa did not answer; try again in a moment', {
        kind: e.kind,
      });
    case 'invalid-request':
      return new AppError('VALIDATION_FAILED', `M-Pesa refused the request: ${e.message}`.slice(0, 300), {
        kind: e.kind,
        ...(e.field ? { field: e.field } : {}),
      });
    default:
      return new AppError(
        'PAYMENT_PROVIDER_ERROR',
        'the collection account is not set up correctly (credentials or shortcode); tell the operator',
        { kind: e.kind },
      );
  }
}

export class StkService {
  constructor(
    private readonly deps: {
      db: Knex;
      clock: Clock;
      accounts: MpesaAccountsService;
      payments: PaymentsService;
      daraja: DarajaFactory;
      options: StkOptions;
      logger?: Logger;
    },
  ) {}

  /** Ask `subscriberId`'s phone (or `phone`) to pay for a plan. `portal`: the buyer's own request (rate-limited per phone). */
  async initiate(
    actor: Actor,
    tenantId: string,
    input: InitiateStk,
    o: { portal?: boolean } = {},
  ): Promise<PaymentView> {
    const { db, clock, options } = this.deps;
    if (!options.publicUrl)
      throw new AppError('NOT_CONFIGURED', 'payments need LANGO_PUBLIC_URL (the address Daraja sends callbacks to)');
    const now = clock.date();
    const { payment, account } = await withTransaction(db, async (trx) => {
      const payer = await payerById(trx, tenantId, input.subscriberId);
      if (!payer) throw new AppError('SUBSCRIBER_NOT_FOUND', 'subscriber not found');
      if (payer.status !== 'active') throw new AppError('INVALID_STATE', 'the subscriber is suspended');
      const planId = input.planId ?? payer.plan_id;
      if (!planId)
        throw new AppError('VALIDATION_FAILED', 'name a plan (the subscriber has none)', {
          errors: [{ path: 'body.planId', message: 'required' }],
        });
      const plan = await findPlan(trx, tenantId, planId);
      if (!plan) throw new AppError('PLAN_NOT_FOUND', 'plan not found');
      if (!plan.active) throw new AppError('INVALID_STATE', 'this plan is not active');
      if (plan.price <= 0 || plan.price % 100 !== 0)
        throw new AppError(
          'INVALID_STATE',
          'M-Pesa takes whole shillings: the plan price must be a positive whole amount',
        );
      const phoneInput = input.phone ?? payer.phone;
      if (!phoneInput)
        throw new AppError('VALIDATION_FAILED', 'the subscriber has no phone; give one', {
          errors: [{ path: 'body.phone', message: 'required' }],
        });
      const phone = msisdnOf(phoneInput);
      const account = await collectingAccount(trx, tenantId, input.accountId);
      if (!account)
        throw new AppError(
          input.accountId ? 'MPESA_ACCOUNT_NOT_FOUND' : 'NOT_CONFIGURED',
          input.accountId ? 'M-Pesa account not found or inactive' : 'the tenant has no active M-Pesa account',
        );
      if (o.portal) {
        const recent = await trx('payments')
          .where({ tenant_id: tenantId, phone, channel: 'stk' })
          .andWhere('created_at', '>', new Date(now.getTime() - 120_000))
          .count<{ n: string }[]>({ n: '*' });
        if (Number(recent[0]?.n ?? 0) >= options.portalPushesPerPhone)
          throw new AppError('RATE_LIMITED', 'a payment request was just sent to this phone; wait two minutes');
      }
      const payment = await insertPayment(trx, {
        tenant_id: tenantId,
        account_id: account.id,
        channel: 'stk',
        phone,
        amount: plan.price,
        account_ref: payer.account_number,
        plan_id: plan.id,
        subscriber_id: payer.id,
        expires_at: new Date(now.getTime() + options.stkExpirySeconds * 1000),
        created_at: now,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'payment.stk_push',
        entity: 'payment',
        entityId: payment.id,
        data: { subscriberId: payer.id, planId: plan.id, amount: plan.price, portal: o.portal ?? false },
      });
      return { payment, account };
    });
    const client = this.deps.daraja(this.deps.accounts.darajaAccount(account));
    const r = await client.stkPush({
      phone: payment.phone!,
      amountMinor: Number(payment.amount),
      accountReference: payment.account_ref!.slice(0, 12),
      description: 'Internet',
      callbackUrl: `${options.publicUrl}${callbackPaths(account.callback_token).stk}`,
    });
    if (!r.ok) {
      await withTransaction(db, (trx) =>
        updatePayment(trx, tenantId, payment.id, {
          state: 'failed',
          result_code: `daraja:${r.error.kind}`.slice(0, 60),
          result_desc: r.error.message.slice(0, 300),
          settled_at: clock.date(),
          settled_by: 'push',
        }),
      );
      this.deps.logger?.warn({ paymentId: payment.id, kind: r.error.kind, code: r.error.code }, 'STK push refused');
      throw pushError(r.error);
    }
    const row = await withTransaction(db, async (trx) => {
      const p = await lockPayment(trx, tenantId, payment.id);
      const updated = await updatePayment(trx, tenantId, payment.id, {
        checkout_request_id: r.value.checkoutRequestId,
        merchant_request_id: r.value.merchantRequestId,
        next_query_at: p?.state === 'pending' ? new Date(clock.now() + options.stkFirstQuerySeconds * 1000) : null,
      });
      return updated;
    });
    await this.replayEarlyCallbacks(tenantId, r.value.checkoutRequestId);
    return paymentView((await lockFree(db, tenantId, row.id)) ?? row);
  }

  /**
   * Register the account's C2B URLs with Daraja (production allows this once; later changes go
   * through Safaricom). ResponseType Completed: a validation that does not answer in time accepts.
   */
  async registerC2b(
    actor: Actor,
    tenantId: string,
    accountId: string,
  ): Promise<{ confirmationUrl: string; validationUrl: string; responseDescription: string }> {
    const { db, options } = this.deps;
    if (!options.publicUrl)
      throw new AppError('NOT_CONFIGURED', 'payments need LANGO_PUBLIC_URL (the address Daraja sends callbacks to)');
    const account = await findAccount(db, tenantId, accountId);
    if (!account) throw new AppError('MPESA_ACCOUNT_NOT_FOUND', 'M-Pesa account not found');
    const paths = callbackPaths(account.callback_token);
    const urls = {
      confirmationUrl: `${options.publicUrl}${paths.c2bConfirmation}`,
      validationUrl: `${options.publicUrl}${paths.c2bValidation}`,
    };
    const r = await this.deps
      .daraja(this.deps.accounts.darajaAccount(account))
      .registerC2bUrls({ ...urls, responseType: 'Completed' });
    if (!r.ok) throw pushError(r.error);
    await withTransaction(db, (trx) =>
      audit(trx, {
        tenantId,
        actor,
        action: 'mpesa_account.register_c2b',
        entity: 'mpesa_account',
        entityId: accountId,
      }),
    );
    return { ...urls, responseDescription: r.value.responseDescription };
  }

  /** Callbacks that came before their request was recorded are handled now (their rows keep the bytes). */
  private async replayEarlyCallbacks(tenantId: string, checkoutRequestId: string): Promise<void> {
    const early = await unknownCallbacksFor(this.deps.db, tenantId, checkoutRequestId);
    for (const cb of early) {
      const account = cb.account_id ? await findAccount(this.deps.db, tenantId, cb.account_id) : undefined;
      if (!account) continue;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(cb.body).toString('utf8'));
      } catch {
        continue;
      }
      await this.deps.payments.handleStkCallback(account, String(cb.id), parseStkCallback(body));
    }
  }

  private nextQueryAt(attempts: number): Date {
    const o = this.deps.options;
    return new Date(
      this.deps.clock.now() +
        retryDelay(attempts, { baseMs: o.stkQueryBaseSeconds * 1000, capMs: o.stkQueryCapSeconds * 1000 }),
    );
  }

  /**
   * One pass of the settlement loop: claim due pending payments (SKIP LOCKED, a lease), ask
   * Daraja for each, settle, reschedule or expire. Returns how many were claimed.
   */
  async settleDue(limit = 50): Promise<{ claimed: number; settled: number; expired: number }> {
    const { db, clock } = this.deps;
    const claimed = await withTransaction(db, (trx) => claimDueQueries(trx, clock.date(), limit, 120));
    let settled = 0;
    let expired = 0;
    for (const p of claimed) {
      const r = await this.settleOne(p);
      if (r === 'settled') settled++;
      if (r === 'expired') expired++;
    }
    return { claimed: claimed.length, settled, expired };
  }

  private async settleOne(p: PaymentRow): Promise<'settled' | 'expired' | 'waiting'> {
    const { db, clock } = this.deps;
    const account = p.account_id ? await findAccount(db, p.tenant_id, p.account_id) : undefined;
    const pastExpiry = () => p.expires_at !== null && clock.now() >= new Date(p.expires_at).getTime();
    const reschedule = async (note: string | null) =>
      withTransaction(db, async (trx) => {
        const cur = await lockPayment(trx, p.tenant_id, p.id);
        if (!cur || cur.state !== 'pending') return;
        await updatePayment(trx, p.tenant_id, p.id, {
          query_attempts: cur.query_attempts + 1,
          next_query_at: this.nextQueryAt(cur.query_attempts + 1),
          claimed_until: null,
          ...(note ? { result_desc: note.slice(0, 300) } : {}),
        });
      });
    if (!account || !p.checkout_request_id) {
      if (pastExpiry()) return (await this.expire(p)) ? 'expired' : 'waiting';
      await reschedule(null);
      return 'waiting';
    }
    const q = await this.deps.daraja(this.deps.accounts.darajaAccount(account)).stkQuery(p.checkout_request_id);
    if (q.ok && q.value.state === 'final') {
      const final = q.value;
      await withTransaction(db, async (trx) => {
        const cur = await lockPayment(trx, p.tenant_id, p.id);
        if (!cur || cur.state !== 'pending') return;
        await updatePayment(trx, p.tenant_id, p.id, { query_attempts: cur.query_attempts + 1 });
        await this.deps.payments.settleStk(
          trx,
          { ...cur, query_attempts: cur.query_attempts + 1 },
          { resultCode: final.resultCode, resultDesc: final.resultDesc },
          'query',
        );
      });
      return 'settled';
    }
    if (pastExpiry()) return (await this.expire(p)) ? 'expired' : 'waiting';
    await reschedule(q.ok ? null : `query: ${q.error.kind}`);
    if (!q.ok) this.deps.logger?.info({ paymentId: p.id, kind: q.error.kind }, 'STK query failed; will retry');
    return 'waiting';
  }

  /** No final answer before expires_at: the payment ends as expired (a later success callback still credits it: decisions.md). */
  private async expire(p: PaymentRow): Promise<boolean> {
    const { db, clock } = this.deps;
    return withTransaction(db, async (trx) => {
      const cur = await lockPayment(trx, p.tenant_id, p.id);
      if (!cur || cur.state !== 'pending') return false;
      await updatePayment(trx, p.tenant_id, p.id, {
        state: 'expired',
        settled_at: clock.date(),
        settled_by: 'expiry',
        next_query_at: null,
        claimed_until: null,
      });
      await audit(trx, {
        tenantId: p.tenant_id,
        actor: SYSTEM,
        action: 'payment.expired',
        entity: 'payment',
        entityId: p.id,
        data: { queryAttempts: cur.query_attempts },
      });
      return true;
    });
  }
}

async function lockFree(db: Knex, tenantId: string, id: string): Promise<PaymentRow | undefined> {
  return db('payments').where({ tenant_id: tenantId, id }).first();
}
