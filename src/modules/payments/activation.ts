/**
 * Turning money into access, inside the caller's transaction (the callback's, the query's or
 * the staff assignment's): the ledger credit, the subscription it buys, the live session
 * changed through the enforcement outbox, the receipt SMS queued. Money that cannot buy access
 * (no subscriber, suspended, deleted, no plan, too little) is credited and left unallocated.
 */
import type { Knex } from 'knex';
import type { Actor } from '../audit/actor';
import { audit } from '../audit/audit.repo';
import { onPlanChanged, onRenewed } from '../enforcement/hooks';
import { findPlan } from '../plans/plans.repo';
import { planView } from '../plans/plans.service';
import {
  endPeriodsAt,
  lastActiveEnd,
  lockSubscriber,
  setGroup,
  updateSubscriber,
} from '../subscribers/subscribers.repo';
import { startPeriod } from '../subscribers/periods';
import { receiptMessage, unallocatedMessage, type Locale } from './messages';
import {
  enqueueSms,
  insertLedgerEntry,
  payerById,
  tenantLocale,
  updatePayment,
  type PaymentRow,
} from './payments.repo';

export type UnallocatedReason =
  | 'no_subscriber'
  | 'subscriber_deleted'
  | 'subscriber_suspended'
  | 'no_plan'
  | 'plan_inactive'
  | 'amount_below_price'
  | 'ambiguous_phone';

export async function locale(trx: Knex.Transaction, tenantId: string): Promise<Locale> {
  const t = await tenantLocale(trx, tenantId);
  return { language: t.language, timeZone: t.time_zone, currency: t.currency.trim(), tenantName: t.name };
}

/**
 * Allocate a completed payment: to `target` (staff) or the subscriber and plan it names. Runs
 * once per payment and allocation (the ledger credit is unique per payment); returns the
 * payment as written.
 */
export async function allocate(
  trx: Knex.Transaction,
  p: PaymentRow,
  o: {
    now: Date;
    actor: Actor;
    target?: { subscriberId: string; planId?: string | undefined };
    reason?: UnallocatedReason;
  },
): Promise<PaymentRow> {
  const amount = Number(p.amount);
  const subscriberId = o.target?.subscriberId ?? p.subscriber_id;
  const l = await locale(trx, p.tenant_id);
  const leave = async (reason: UnallocatedReason): Promise<PaymentRow> => {
    await insertLedgerEntry(trx, {
      tenant_id: p.tenant_id,
      payment_id: p.id,
      kind: 'credit',
      amount,
      subscriber_id: null,
      subscription_id: null,
      actor_type: o.actor.type,
      actor_id: o.actor.id,
      note: reason,
    });
    const row = await updatePayment(trx, p.tenant_id, p.id, {
      allocation: 'unallocated',
      unallocated_reason: reason,
      allocated_at: null,
    });
    await audit(trx, {
      tenantId: p.tenant_id,
      actor: o.actor,
      action: 'payment.unallocated',
      entity: 'payment',
      entityId: p.id,
      data: { reason, amount },
    });
    if (p.phone)
      await enqueueSms(trx, {
        tenant_id: p.tenant_id,
        kind: 'receipt',
        dedupe_key: `unallocated:${p.id}`,
        phone: p.phone,
        body: unallocatedMessage(l, { amount, receipt: p.mpesa_receipt }),
      });
    return row;
  };
  if (o.reason) return leave(o.reason);
  if (!subscriberId) return leave('no_subscriber');
  await lockSubscriber(trx, p.tenant_id, subscriberId);
  const payer = await payerById(trx, p.tenant_id, subscriberId);
  if (!payer) return leave('subscriber_deleted');
  if (payer.status !== 'active') return leave('subscriber_suspended');
  const planId = o.target?.planId ?? p.plan_id ?? payer.plan_id;
  if (!planId) return leave('no_plan');
  const planRow = await findPlan(trx, p.tenant_id, planId);
  if (!planRow || !planRow.active) return leave(planRow ? 'plan_inactive' : 'no_plan');
  const plan = planView(planRow);
  if (amount < plan.price) return leave('amount_below_price');

  const now = o.now;
  let from = now;
  if (payer.plan_id === plan.id) {
    const lastEnd = await lastActiveEnd(trx, payer.id);
    if (lastEnd && lastEnd.getTime() > now.getTime()) from = lastEnd;
  } else {
    // Another plan: it starts now (as change-plan does), the running period ends.
    await endPeriodsAt(trx, payer.id, now);
    await updateSubscriber(trx, p.tenant_id, payer.id, { plan_id: plan.id, updated_at: trx.fn.now() });
    await setGroup(trx, p.tenant_id, payer.username, plan.groupname);
  }
  const sub = await startPeriod(trx, { tenantId: p.tenant_id, subscriberId: payer.id, plan, from, source: 'mpesa' });
  const credited = await insertLedgerEntry(trx, {
    tenant_id: p.tenant_id,
    payment_id: p.id,
    kind: 'credit',
    amount,
    subscriber_id: payer.id,
    subscription_id: sub.id,
    actor_type: o.actor.type,
    actor_id: o.actor.id,
    note: null,
  });
  if (!credited) {
    // Credited earlier as unallocated: the same credit now names what it bought.
    await trx('ledger_entries')
      .where({ payment_id: p.id, kind: 'credit' })
      .update({ subscriber_id: payer.id, subscription_id: sub.id });
  }
  const row = await updatePayment(trx, p.tenant_id, p.id, {
    allocation: 'allocated',
    unallocated_reason: null,
    subscriber_id: payer.id,
    plan_id: plan.id,
    subscription_id: sub.id,
    allocated_at: now,
  });
  // A buyer online now gets the plan's limits on the live session (CoA), and a soft-blocked
  // session is disconnected so that the re-login gets the full service.
  const ref = { id: payer.id, username: payer.username };
  await onPlanChanged(trx, p.tenant_id, ref, plan, o.actor, payer.plan_id);
  await onRenewed(trx, p.tenant_id, ref, o.actor);
  await audit(trx, {
    tenantId: p.tenant_id,
    actor: o.actor,
    action: 'payment.allocated',
    entity: 'payment',
    entityId: p.id,
    data: { subscriberId: payer.id, planId: plan.id, subscriptionId: sub.id, endsAt: sub.ends_at },
  });
  const phone = p.phone ?? payer.phone;
  if (phone) {
    await enqueueSms(trx, {
      tenant_id: p.tenant_id,
      kind: 'receipt',
      dedupe_key: `receipt:${p.id}`,
      phone,
      body: receiptMessage(l, {
        amount,
        receipt: p.mpesa_receipt,
        planName: plan.name,
        endsAt: new Date(sub.ends_at),
        accountNumber: payer.account_number,
      }),
    });
  }
  return row;
}
