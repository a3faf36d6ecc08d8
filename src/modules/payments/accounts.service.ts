/**
 * A tenant's M-Pesa collection accounts. Credentials are sealed (AEAD, lib/secret-box.ts) before
 * they are written and never leave the service but to the Daraja client; the callback token is
 * 32 random bytes (hex) in the callback URLs, rotated on request.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { withTransaction } from '../../db/knex';
import { AppError } from '../../lib/errors';
import { iso } from '../../lib/time';
import type { DarajaAccount } from '../../mpesa/daraja-client';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import {
  accountsQuery,
  deleteAccount,
  findAccount,
  insertAccount,
  updateAccount,
  type AccountRow,
} from './payments.repo';
import type { CreateMpesaAccount, MpesaAccountPatch, MpesaAccountView } from './payments.schemas';

/** Seals and opens secrets (lib/secret-box.ts SecretBox). */
export interface Sealer {
  /** `context` binds the sealed value to where it is stored (it opens only with the same context). */
  seal(plain: string, context?: string): string;
  open(sealed: string, context?: string): string;
}

/** What a credential is sealed for: its tenant, account and field (a copied value does not open elsewhere). */
const where = (tenantId: string, field: string) => `mpesa_accounts:${tenantId}:${field}`;

/**
 * 32 random bytes in hex: Daraja refuses C2B URLs containing "exe", "cmd", "sql", "query"...,
 * which base64 could spell by chance and hex cannot.
 */
export const newCallbackToken = (): string => randomBytes(32).toString('hex');

/**
 * The paths of an account's callbacks (under /callbacks; the public URL is
 * config.payments.publicUrl). "pay", not "mpesa": Daraja refuses "mpesa" in C2B URLs.
 */
export function callbackPaths(token: string) {
  return {
    stk: `/callbacks/pay/${token}/stk`,
    c2bValidation: `/callbacks/pay/${token}/c2b/validation`,
    c2bConfirmation: `/callbacks/pay/${token}/c2b/confirmation`,
  };
}

export function accountView(r: AccountRow): MpesaAccountView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    shortcode: r.shortcode,
    storeNumber: r.store_number,
    environment: r.environment,
    validateAccounts: r.validate_accounts,
    active: r.active,
    callbackPaths: callbackPaths(r.callback_token),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

const notFound = () => new AppError('MPESA_ACCOUNT_NOT_FOUND', 'M-Pesa account not found');

export class MpesaAccountsService {
  private readonly db: Knex;
  private readonly sealer: Sealer;
  private readonly sandboxUrl: string | undefined;

  constructor(deps: { db: Knex; sealer: Sealer; darajaSandboxUrl?: string | undefined }) {
    this.db = deps.db;
    this.sealer = deps.sealer;
    this.sandboxUrl = deps.darajaSandboxUrl;
  }

  /** What the Daraja client needs for this account (secrets opened). */
  darajaAccount(r: AccountRow): DarajaAccount {
    return {
      id: r.id,
      environment: r.environment,
      ...(r.environment === 'sandbox' && this.sandboxUrl ? { baseUrl: this.sandboxUrl } : {}),
      consumerKey: this.sealer.open(r.consumer_key_sealed, where(r.tenant_id, 'consumer_key')),
      consumerSecret: this.sealer.open(r.consumer_secret_sealed, where(r.tenant_id, 'consumer_secret')),
      passkey: this.sealer.open(r.passkey_sealed, where(r.tenant_id, 'passkey')),
      type: r.kind,
      shortcode: r.shortcode,
      ...(r.store_number ? { storeNumber: r.store_number } : {}),
    };
  }

  async list(tenantId: string): Promise<MpesaAccountView[]> {
    return (await accountsQuery(this.db, tenantId)).map(accountView);
  }

  async get(tenantId: string, id: string): Promise<MpesaAccountView> {
    const r = await findAccount(this.db, tenantId, id);
    if (!r) throw notFound();
    return accountView(r);
  }

  async create(actor: Actor, tenantId: string, input: CreateMpesaAccount): Promise<MpesaAccountView> {
    if (input.kind === 'till' && !input.storeNumber) {
      throw new AppError('VALIDATION_FAILED', 'a till needs its store number (the BusinessShortCode of its STK Push)', {
        errors: [{ path: 'body.storeNumber', message: 'required for a till' }],
      });
    }
    return withTransaction(this.db, async (trx) => {
      const r = await insertAccount(trx, {
        tenant_id: tenantId,
        name: input.name,
        kind: input.kind,
        shortcode: input.shortcode,
        store_number: input.kind === 'till' ? (input.storeNumber ?? null) : null,
        environment: input.environment,
        consumer_key_sealed: this.sealer.seal(input.consumerKey, where(tenantId, 'consumer_key')),
        consumer_secret_sealed: this.sealer.seal(input.consumerSecret, where(tenantId, 'consumer_secret')),
        passkey_sealed: this.sealer.seal(input.passkey, where(tenantId, 'passkey')),
        callback_token: newCallbackToken(),
        validate_accounts: input.validateAccounts ?? false,
      });
      await audit(trx, {
        tenantId,
        actor,
        action: 'mpesa_account.create',
        entity: 'mpesa_account',
        entityId: r.id,
        data: { kind: r.kind, shortcode: r.shortcode, environment: r.environment },
      });
      return accountView(r);
    });
  }

  async update(actor: Actor, tenantId: string, id: string, patch: MpesaAccountPatch): Promise<MpesaAccountView> {
    return withTransaction(this.db, async (trx) => {
      const cur = await findAccount(trx, tenantId, id);
      if (!cur) throw notFound();
      const row: Record<string, unknown> = {};
      if (patch.name !== undefined) row.name = patch.name;
      if (patch.environment !== undefined) row.environment = patch.environment;
      if (patch.validateAccounts !== undefined) row.validate_accounts = patch.validateAccounts;
      if (patch.active !== undefined) row.active = patch.active;
      if (patch.storeNumber !== undefined) {
        if (cur.kind !== 'till')
          throw new AppError('VALIDATION_FAILED', 'only a till has a store number', {
            errors: [{ path: 'body.storeNumber', message: 'paybills have none' }],
          });
        if (patch.storeNumber === null)
          throw new AppError('VALIDATION_FAILED', 'a till needs its store number', {
            errors: [{ path: 'body.storeNumber', message: 'required for a till' }],
          });
        row.store_number = patch.storeNumber;
      }
      if (patch.consumerKey !== undefined)
        row.consumer_key_sealed = this.sealer.seal(patch.consumerKey, where(tenantId, 'consumer_key'));
      if (patch.consumerSecret !== undefined)
        row.consumer_secret_sealed = this.sealer.seal(patch.consumerSecret, where(tenantId, 'consumer_secret'));
      if (patch.passkey !== undefined) row.passkey_sealed = this.sealer.seal(patch.passkey, where(tenantId, 'passkey'));
      const credentialsChanged =
        patch.consumerKey !== undefined || patch.consumerSecret !== undefined || patch.environment !== undefined;
      if (credentialsChanged) await trx('mpesa_tokens').where({ account_id: id }).del();
      const r = (await updateAccount(trx, tenantId, id, row))!;
      // Which fields changed, never their values.
      await audit(trx, {
        tenantId,
        actor,
        action: 'mpesa_account.update',
        entity: 'mpesa_account',
        entityId: id,
        data: { fields: Object.keys(patch) },
      });
      return accountView(r);
    });
  }

  /** A new callback token: the old URLs stop working at once (register the new ones with Daraja). */
  async rotateToken(actor: Actor, tenantId: string, id: string): Promise<MpesaAccountView> {
    return withTransaction(this.db, async (trx) => {
      const r = await updateAccount(trx, tenantId, id, { callback_token: newCallbackToken() });
      if (!r) throw notFound();
      await audit(trx, {
        tenantId,
        actor,
        action: 'mpesa_account.rotate_token',
        entity: 'mpesa_account',
        entityId: id,
      });
      return accountView(r);
    });
  }

  /** An account with payments is kept (deactivate it instead): MPESA_ACCOUNT_IN_USE. */
  async remove(actor: Actor, tenantId: string, id: string): Promise<void> {
    await withTransaction(this.db, async (trx) => {
      if ((await deleteAccount(trx, tenantId, id)) === 0) throw notFound();
      await audit(trx, { tenantId, actor, action: 'mpesa_account.delete', entity: 'mpesa_account', entityId: id });
    });
  }
}
