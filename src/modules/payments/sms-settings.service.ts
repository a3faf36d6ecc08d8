/**
 * A tenant's own SMS settings: on/off, sender ID, and its own Africa's Talking account (username
 * and API key; the key sealed like the M-Pesa credentials, bound to its tenant, never returned,
 * never logged or audited). The sender asks `providerFor` which account sends a tenant's messages:
 * the tenant's when it has credentials, else the install's (LANGO_SMS_*); the tenant's sender ID
 * when set, else the install's.
 */
import type { Knex } from 'knex';
import { withTransaction } from '../../db/knex';
import { AppError } from '../../lib/errors';
import { iso } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import type { Sealer } from './accounts.service';
import { findSmsSettings, upsertSmsSettings, type SmsSettingsRow } from './payments.repo';
import type { SmsSettingsPatch, SmsSettingsView } from './payments.schemas';
import type { SmsProviderOptions } from './sms';

const where = (tenantId: string) => `tenant_sms_settings:${tenantId}:api_key`;

function view(r: SmsSettingsRow | undefined): SmsSettingsView {
  return {
    enabled: r?.enabled ?? true,
    senderId: r?.sender_id ?? null,
    username: r?.username ?? null,
    apiKeySet: r?.api_key_sealed != null,
    updatedAt: r ? iso(r.updated_at) : null,
  };
}

/** Which account sends a tenant's messages, or `off` when the tenant turned SMS off. */
export type TenantSmsProvider = { off: true } | { off: false; options: SmsProviderOptions };

export class SmsSettingsService {
  private readonly db: Knex;
  private readonly sealer: Sealer;

  constructor(deps: { db: Knex; sealer: Sealer }) {
    this.db = deps.db;
    this.sealer = deps.sealer;
  }

  async get(tenantId: string): Promise<SmsSettingsView> {
    return view(await findSmsSettings(this.db, tenantId));
  }

  async update(actor: Actor, tenantId: string, patch: SmsSettingsPatch): Promise<SmsSettingsView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await findSmsSettings(trx, tenantId);
      const row: Partial<Omit<SmsSettingsRow, 'tenant_id' | 'updated_at'>> = {};
      if (patch.enabled !== undefined) row.enabled = patch.enabled;
      if (patch.senderId !== undefined) row.sender_id = patch.senderId;
      if (patch.username !== undefined) row.username = patch.username;
      if (patch.apiKey !== undefined)
        row.api_key_sealed = patch.apiKey === null ? null : this.sealer.seal(patch.apiKey, where(tenantId));
      const username = row.username !== undefined ? row.username : (cur?.username ?? null);
      const key = row.api_key_sealed !== undefined ? row.api_key_sealed : (cur?.api_key_sealed ?? null);
      if ((username === null) !== (key === null)) {
        const missing = username === null ? 'username' : 'apiKey';
        throw new AppError('VALIDATION_FAILED', "the tenant's own SMS account needs both its username and API key", {
          errors: [{ path: `body.${missing}`, message: 'give the username and API key together (or clear both)' }],
        });
      }
      const saved = await upsertSmsSettings(trx, tenantId, row);
      // Which fields changed, never the key.
      await audit(trx, {
        tenantId,
        actor,
        action: 'sms.settings',
        entity: 'tenant',
        entityId: tenantId,
        data: { fields: Object.keys(patch) },
      });
      return view(saved);
    });
  }

  /** The account and sender ID that send this tenant's messages (the key opened). */
  async providerFor(tenantId: string, install: SmsProviderOptions): Promise<TenantSmsProvider> {
    const r = await findSmsSettings(this.db, tenantId);
    if (!r) return { off: false, options: install };
    if (!r.enabled) return { off: true };
    const own = r.username !== null && r.api_key_sealed !== null;
    return {
      off: false,
      options: {
        ...install,
        ...(own ? { username: r.username!, apiKey: this.sealer.open(r.api_key_sealed!, where(tenantId)) } : {}),
        senderId: r.sender_id ?? install.senderId,
      },
    };
  }
}
