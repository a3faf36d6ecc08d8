/**
 * What other modules call inside their transactions when a change must reach live sessions:
 * each queues outbox rows (outbox.repo.ts) in the caller's transaction and is a no-op for a
 * subscriber without open sessions.
 */
import type { Knex } from 'knex';
import type { Actor } from '../audit/actor';
import { planCoaAttributes, type ProfilePlan } from '../plans/radius-profile';
import { SOFT_BLOCK_CLASS_RADACCT } from './contract';
import { enqueueForTenant, enqueueForUser } from './outbox.repo';

type SubscriberRef = { id: string; username: string };

/** Suspension: Disconnect every open session (RADIUS rejects the next login). */
export async function onSubscriberSuspended(
  trx: Knex.Transaction,
  tenantId: string,
  s: SubscriberRef,
  actor: Actor,
  reason?: string,
): Promise<void> {
  await enqueueForUser(trx, {
    tenantId,
    username: s.username,
    subscriberId: s.id,
    kind: 'disconnect',
    reason: 'suspended',
    actor,
    context: { suspendedReason: reason ?? null },
  });
}

/**
 * Plan change: CoA-Request with what a CoA can change of the new plan's RADIUS profile
 * (plans/radius-profile.ts planCoaAttributes) to every open session (the session is kept). A plan
 * without a rate limit has nothing a CoA can set: RouterOS cannot clear a rate limit by CoA, and
 * the data allowance (Mikrotik-Total-Limit) cannot be changed by CoA at all (protocols.md G5).
 * Both apply at the next login; the worker's quota check enforces the new allowance meanwhile.
 * (The expiry timer is re-armed by the trigger on subscriptions: the new period may end sooner
 * than the one it replaces.)
 */
export async function onPlanChanged(
  trx: Knex.Transaction,
  tenantId: string,
  s: SubscriberRef,
  plan: { id: string } & ProfilePlan,
  actor: Actor,
  fromPlanId: string | null,
): Promise<void> {
  const attributes = planCoaAttributes(plan);
  if (attributes.length === 0) return;
  await enqueueForUser(trx, {
    tenantId,
    username: s.username,
    subscriberId: s.id,
    kind: 'coa',
    reason: 'plan_change',
    attributes,
    context: { fromPlanId, toPlanId: plan.id },
    actor,
  });
}

/**
 * Tenant suspension (TenantsService, in its transaction): Disconnect every open session of
 * the tenant; FreeRADIUS rejects the re-logins. The worker cancels what is still queued when
 * the tenant is active again.
 */
export async function onTenantSuspended(trx: Knex.Transaction, tenantId: string, actor: Actor): Promise<string[]> {
  return enqueueForTenant(trx, { tenantId, kind: 'disconnect', reason: 'tenant_suspended', actor });
}

/** Deletion: Disconnect every open session (radacct keeps the history). */
export async function onSubscriberDeleted(
  trx: Knex.Transaction,
  tenantId: string,
  s: SubscriberRef,
  actor: Actor,
): Promise<void> {
  await enqueueForUser(trx, {
    tenantId,
    username: s.username,
    subscriberId: s.id,
    kind: 'disconnect',
    reason: 'deleted',
    actor,
    context: { subscriberId: s.id },
  });
}

/**
 * Renewal: a soft-blocked session (accepted into the walled garden) is disconnected so that
 * the router's re-login gets the full service; a CoA cannot take it off the address list.
 */
export async function onRenewed(
  trx: Knex.Transaction,
  tenantId: string,
  s: SubscriberRef,
  actor: Actor,
): Promise<void> {
  await enqueueForUser(trx, {
    tenantId,
    username: s.username,
    subscriberId: s.id,
    kind: 'disconnect',
    reason: 'unblock',
    actor,
    onlyClass: SOFT_BLOCK_CLASS_RADACCT,
  });
}
