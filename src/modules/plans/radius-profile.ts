/**
 * One plan, one RADIUS profile: what a plan means on the wire, written once. The plan's group
 * rows (radgroupreply/radgroupcheck), the CoA sent when a subscriber changes plan, and the
 * soft block's rate limit (enforcement/soft-block.ts) are all built here.
 */
import { parseRateLimit } from './rate-limit';

/**
 * Acct-Interim-Interval of a login whose reply has none: freeradius/policy.d/lango-authorize sets this
 * floor for users without a plan group (tests/unit/core/contract.test.ts checks the file says
 * the same), a plan takes it by default, and the stale-session check assumes it for sessions
 * of users without a plan. Without interim updates neither quota nor stale-session
 * enforcement works.
 */
export const INTERIM_FLOOR_SECONDS = 300;

/** RADIUS integers are 32-bit unsigned: WISPr bandwidths above that are clamped. */
const UINT32_MAX = 4294967295;

/** What of a plan reaches RADIUS. */
export interface ProfilePlan {
  rateLimit: string | null;
  interimIntervalSeconds: number;
  idleTimeoutSeconds: number | null;
  simultaneousUse: number;
}

export interface ReplyAttribute {
  attribute: string;
  value: string;
}

/**
 * A MikroTik rate-limit string as reply attributes: Mikrotik-Rate-Limit, and with `wispr` the
 * standard equivalent for NAS that do not read MikroTik's VSA (MikroTik prefers its own).
 * Throws on a string the grammar refuses (validated on input, rate-limit.ts).
 */
export function rateLimitReply(rateLimit: string, o: { wispr: boolean }): ReplyAttribute[] {
  const r = parseRateLimit(rateLimit);
  if (!r) throw new Error(`not a MikroTik rate-limit string: ${rateLimit}`);
  const out = [{ attribute: 'Mikrotik-Rate-Limit', value: rateLimit }];
  if (o.wispr) {
    out.push({ attribute: 'WISPr-Bandwidth-Max-Up', value: String(Math.min(r.uploadBps, UINT32_MAX)) });
    out.push({ attribute: 'WISPr-Bandwidth-Max-Down', value: String(Math.min(r.downloadBps, UINT32_MAX)) });
  }
  return out;
}

/**
 * A plan's reply (speed, interim interval, idle timeout): its group's radgroupreply rows,
 * applied to every member at their next login, so a speed change reaches existing customers.
 * The time and data allowance are not here: they are copied into each subscription when sold
 * and applied by lango_authorize_check().
 */
export function planReply(p: ProfilePlan): ReplyAttribute[] {
  const reply: ReplyAttribute[] = [{ attribute: 'Acct-Interim-Interval', value: String(p.interimIntervalSeconds) }];
  if (p.rateLimit) reply.push(...rateLimitReply(p.rateLimit, { wispr: true }));
  if (p.idleTimeoutSeconds) reply.push({ attribute: 'Idle-Timeout', value: String(p.idleTimeoutSeconds) });
  return reply;
}

/** A plan's check items: its group's radgroupcheck rows. */
export function planCheck(p: ProfilePlan): ReplyAttribute[] {
  return [{ attribute: 'Simultaneous-Use', value: String(p.simultaneousUse) }];
}

/**
 * The part of a plan's reply a CoA-Request can change on a live session: RouterOS applies
 * Mikrotik-Rate-Limit by CoA; the rest applies at the next login (protocols.md G5).
 */
const COA_SETTABLE = new Set(['Mikrotik-Rate-Limit']);

export function planCoaAttributes(p: ProfilePlan): Array<{ name: string; value: string }> {
  return planReply(p)
    .filter((a) => COA_SETTABLE.has(a.attribute))
    .map((a) => ({ name: a.attribute, value: a.value }));
}

/** The group rows of a plan, as FreeRADIUS's tables hold them (op := each). */
export function groupRows(tenantId: string, groupname: string, p: ProfilePlan) {
  const row = (a: ReplyAttribute) => ({
    tenant_id: tenantId,
    groupname,
    attribute: a.attribute,
    op: ':=',
    value: a.value,
  });
  return { reply: planReply(p).map(row), check: planCheck(p).map(row) };
}
