import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { parseRateLimit } from '../plans/rate-limit';
import { findSettings, updateSettings, type SettingsRow } from './enforcement.repo';
import type { EnforcementSettings, SettingsPatch } from './enforcement.schemas';

function settingsView(t: SettingsRow): EnforcementSettings {
  return {
    expiryAction: t.expiry_action,
    walledGardenList: t.walled_garden_list,
    softBlockRateLimit: t.soft_block_rate_limit,
    softBlockSessionTimeout: t.soft_block_session_timeout,
  };
}

const notFound = () => new AppError('TENANT_NOT_FOUND', 'tenant not found');

/**
 * A tenant's choice for users out of time or data: a Disconnect, or the soft block (the walled
 * garden at a trickle rate, built at authorize time from these columns by
 * lango_authorize_check() and freeradius/policy.d/lango-authorize; plans/radius-profile.ts softBlockReply
 * states the same reply in TypeScript).
 */
export class SettingsService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  async get(tenantId: string): Promise<EnforcementSettings> {
    const t = await findSettings(this.db, tenantId);
    if (!t) throw notFound();
    return settingsView(t);
  }

  async update(actor: Actor, tenantId: string, patch: SettingsPatch): Promise<EnforcementSettings> {
    if (patch.softBlockRateLimit !== undefined && !parseRateLimit(patch.softBlockRateLimit)) {
      throw new AppError('VALIDATION_FAILED', 'softBlockRateLimit is not a MikroTik rate-limit string', {
        errors: [{ path: 'body.softBlockRateLimit', message: 'invalid rate-limit' }],
      });
    }
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.expiryAction !== undefined) row.expiry_action = patch.expiryAction;
      if (patch.walledGardenList !== undefined) row.walled_garden_list = patch.walledGardenList;
      if (patch.softBlockRateLimit !== undefined) row.soft_block_rate_limit = patch.softBlockRateLimit;
      if (patch.softBlockSessionTimeout !== undefined) row.soft_block_session_timeout = patch.softBlockSessionTimeout;
      const t = await updateSettings(trx, tenantId, row);
      if (!t) throw notFound();
      await audit(trx, {
        tenantId,
        actor,
        action: 'enforcement.settings',
        entity: 'tenant',
        entityId: tenantId,
        data: patch as Record<string, unknown>,
      });
      return settingsView(t);
    });
  }
}
