/**
 * The soft block's Access-Accept, in TypeScript. FreeRADIUS builds it at authorize time
 * (lango_authorize_check() puts the tenant's settings into control attributes, and
 * freeradius/policy.d/lango-authorize copies them into the reply); this is the same reply from the same
 * settings, with the rate limit as plans/radius-profile.ts writes it (without the WISPr
 * attributes, which the policy removes), for whoever needs to know what a soft-blocked user
 * gets (tests compare it with FreeRADIUS's answer).
 */
import { rateLimitReply, type ReplyAttribute } from '../plans/radius-profile';
import { SOFT_BLOCK_CLASS } from './contract';
import type { EnforcementSettings } from './enforcement.schemas';

export function softBlockReply(
  s: Pick<EnforcementSettings, 'walledGardenList' | 'softBlockRateLimit' | 'softBlockSessionTimeout'>,
): ReplyAttribute[] {
  return [
    { attribute: 'Mikrotik-Address-List', value: s.walledGardenList },
    ...rateLimitReply(s.softBlockRateLimit, { wispr: false }),
    { attribute: 'Class', value: SOFT_BLOCK_CLASS },
    { attribute: 'Session-Timeout', value: String(s.softBlockSessionTimeout) },
  ];
}
