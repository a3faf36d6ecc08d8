/**
 * What the API, the worker, PostgreSQL and FreeRADIUS agree on about enforcement: the NOTIFY
 * channel, the soft-block Class (freeradius/policy.d/lango-authorize writes it; tests/unit/core/
 * contract.test.ts checks the policy file says the same), and the outbox's vocabulary.
 */

export type EnforcementKind = 'disconnect' | 'coa';
export const ENFORCEMENT_REASONS = [
  'expired',
  'quota',
  'suspended',
  'plan_change',
  'staff',
  'soft_block',
  'deleted',
  'unblock',
  'tenant_suspended',
] as const;
export type EnforcementReason = (typeof ENFORCEMENT_REASONS)[number];
export const ENFORCEMENT_STATUSES = ['pending', 'sending', 'ack', 'nak', 'timeout', 'failed', 'cancelled'] as const;
export type EnforcementStatus = (typeof ENFORCEMENT_STATUSES)[number];

/**
 * Reasons queued once per session (enforcement_actions_once_unique): the worker's checks
 * rediscover them on every run, so an answered action, or one that timed out or failed less than
 * requeueAfterSeconds ago, stands in the way of another.
 */
export const ONCE_REASONS: readonly EnforcementReason[] = [
  'expired',
  'quota',
  'suspended',
  'soft_block',
  'deleted',
  'unblock',
  'tenant_suspended',
];

/**
 * NOTIFY channel the worker LISTENs on; payload 'outbox' (send) or 'schedule' (re-arm the expiry
 * timer; sent by a trigger on subscriptions, see the enforcement migration).
 */
export const ENFORCEMENT_CHANNEL = 'lango_enforcement';

/**
 * Class of a soft-blocked session's Access-Accept (freeradius/policy.d/lango-authorize). FreeRADIUS
 * prints octets as 0x<hex> when it writes radacct.class.
 */
export const SOFT_BLOCK_CLASS = 'lango-soft-block';
export const SOFT_BLOCK_CLASS_RADACCT = `0x${Buffer.from(SOFT_BLOCK_CLASS, 'utf8').toString('hex')}`;

export interface RadiusAttributeValue {
  name: string;
  value: string | number;
}
