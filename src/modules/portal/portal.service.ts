/**
 * The captive portal's rules: what a tenant's portal shows (settings, the plans it sells),
 * whether a router's redirect may be trusted (router-context.ts), and turning what the buyer
 * did (a voucher code, a QR token) into the hotspot credentials the page logs in with. The
 * guessing of codes is throttled per device and per router (rate-limiter-flexible counting in
 * PostgreSQL, shared by every API process).
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Actor } from '../audit/actor';
import { audit } from '../audit/audit.repo';
import { mapDbError } from '../../db/errors';
import { withTransaction } from '../../db/knex';
import type { Clock } from '../../lib/clock';
import { AppError } from '../../lib/errors';
import type { PlanView } from '../plans/plans.schemas';
import { planView } from '../plans/plans.service';
import { findVoucherByCode } from '../vouchers/vouchers.repo';
import { normalizeCode } from '../vouchers/codes';
import { parsePhone } from '../../mpesa/phone';
import { insertSubscriber, setGroup, setPassword } from '../subscribers/subscribers.repo';
import {
  findSellablePlan,
  findSettings,
  findWalkInBuyer,
  hotspotPassword,
  nasAddresses,
  sellablePlans,
  upsertSettings,
  type PortalSettingsRow,
} from './portal.repo';
import type { PortalSettingsPatch, PortalSettingsView, RouterContext, RouterRedirect } from './portal.schemas';
import { routerContext } from './router-context';

export const DEFAULT_SETTINGS: Omit<PortalSettingsView, 'hotspotDnsNames'> & { hotspotDnsNames: string[] } = {
  displayName: null,
  logoDataUrl: null,
  primaryColor: '#0b6e4f',
  backgroundColor: '#ffffff',
  hotspotDnsNames: [],
  paybill: null,
  till: null,
  supportPhone: null,
};

export function settingsView(r: PortalSettingsRow | undefined): PortalSettingsView {
  if (!r) return { ...DEFAULT_SETTINGS };
  return {
    displayName: r.display_name,
    logoDataUrl: r.logo_data_url,
    primaryColor: r.primary_color,
    backgroundColor: r.background_color,
    hotspotDnsNames: r.hotspot_dns_names,
    paybill: r.paybill,
    till: r.till,
    supportPhone: r.support_phone,
  };
}

const COLUMNS: Record<keyof PortalSettingsPatch, keyof PortalSettingsRow> = {
  displayName: 'display_name',
  logoDataUrl: 'logo_data_url',
  primaryColor: 'primary_color',
  backgroundColor: 'background_color',
  hotspotDnsNames: 'hotspot_dns_names',
  paybill: 'paybill',
  till: 'till',
  supportPhone: 'support_phone',
};

export interface CodeLimits {
  /** Wrong codes a device (MAC) may enter per window. */
  perDevice: number;
  /** Wrong codes all devices behind one router may enter per window. */
  perRouter: number;
  windowSeconds: number;
}

export const DEFAULT_CODE_LIMITS: CodeLimits = { perDevice: 10, perRouter: 200, windowSeconds: 900 };

/** Hotspot credentials for the page's CHAP login (never shown to the buyer). */
export interface HotspotLogin {
  username: string;
  password: string;
}

export class PortalService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly device: RateLimiterPostgres;
  private readonly router: RateLimiterPostgres;

  constructor(deps: { db: Knex; clock: Clock; codeLimits?: CodeLimits }) {
    this.db = deps.db;
    this.clock = deps.clock;
    const limits = deps.codeLimits ?? DEFAULT_CODE_LIMITS;
    const store = {
      storeClient: deps.db,
      storeType: 'knex',
      tableName: 'login_throttle',
      tableCreated: true,
      duration: limits.windowSeconds,
      clearExpiredByTimeout: false,
    };
    this.device = new RateLimiterPostgres({ ...store, keyPrefix: 'portal-code-device', points: limits.perDevice });
    this.router = new RateLimiterPostgres({ ...store, keyPrefix: 'portal-code-router', points: limits.perRouter });
  }

  async settings(tenantId: string): Promise<PortalSettingsView> {
    return settingsView(await findSettings(this.db, tenantId));
  }

  async updateSettings(actor: Actor, tenantId: string, patch: PortalSettingsPatch): Promise<PortalSettingsView> {
    return withTransaction(this.db, async (trx) => {
      const row: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(patch)) {
        const column = COLUMNS[k as keyof PortalSettingsPatch];
        if (!column) continue;
        row[column] =
          k === 'hotspotDnsNames'
            ? (v as string[]).map((n) => n.toLowerCase())
            : k.endsWith('Color')
              ? (v as string).toLowerCase()
              : v;
      }
      const saved = await upsertSettings(trx, tenantId, row);
      await audit(trx, {
        tenantId,
        actor,
        action: 'portal.settings',
        entity: 'tenant',
        entityId: tenantId,
        data: { fields: Object.keys(patch) },
      });
      return settingsView(saved);
    });
  }

  async plans(tenantId: string): Promise<PlanView[]> {
    return (await sellablePlans(this.db, tenantId)).map(planView);
  }

  async plan(tenantId: string, id: string): Promise<PlanView> {
    const p = /^[0-9a-f-]{36}$/i.test(id) ? await findSellablePlan(this.db, tenantId, id) : undefined;
    if (!p) throw new AppError('PLAN_NOT_FOUND', 'this package is not on sale');
    return planView(p);
  }

  /** The router's redirect checked against this tenant's routers (PORTAL_REDIRECT_INVALID). */
  async routerContext(tenantId: string, q: RouterRedirect & Record<string, unknown>): Promise<RouterContext> {
    const [nas, settings] = await Promise.all([nasAddresses(this.db, tenantId), this.settings(tenantId)]);
    return routerContext(q, new Set([...nas, ...settings.hotspotDnsNames]));
  }

  /**
   * A typed voucher code -> the login (a voucher's username and password are its code). Each
   * wrong code costs the device and its router a point (RATE_LIMITED when used up); an unknown,
   * revoked or expired code is told apart for the buyer, nothing is bound: FreeRADIUS binds the
   * device at the login (lango_voucher_login).
   */
  async voucherLogin(tenantId: string, typed: string, ctx: RouterContext): Promise<HotspotLogin> {
    const code = normalizeCode(typed);
    const deviceKey = `${tenantId}:${ctx.mac}`;
    const routerKey = `${tenantId}:${new URL(ctx.loginUrl).hostname}`;
    await Promise.all([blocked(this.device, deviceKey), blocked(this.router, routerKey)]);
    const v = /^[A-Z0-9]{6,32}$/.test(code)
      ? await findVoucherByCode(this.db, tenantId, code, this.clock.date())
      : undefined;
    if (!v) {
      await Promise.all([take(this.device, deviceKey), take(this.router, routerKey)]);
      throw new AppError('VOUCHER_NOT_FOUND', 'this code is not valid; check it and try again');
    }
    if (v.status === 'revoked' || v.status === 'expired')
      throw new AppError('INVALID_STATE', `this voucher is ${v.status}`);
    return { username: v.code, password: v.code };
  }

  /**
   * The buyer paying from this phone: the portal's own account for the phone (hs-<random>,
   * a random password, FreeRADIUS rows) found or created in one transaction, so that repeat
   * purchases from the same phone extend one subscription, and a new (randomised) MAC logs in
   * to it within the plan's device limit. Returns what the STK push names.
   */
  async walkInBuyer(
    tenantId: string,
    planId: string,
    phone: string,
  ): Promise<{ subscriberId: string; planId: string; phone: string }> {
    const parsed = parsePhone(phone);
    if (!parsed.ok)
      throw new AppError('VALIDATION_FAILED', parsed.message, {
        errors: [{ path: 'body.phone', message: parsed.message }],
      });
    const plan = await this.plan(tenantId, planId);
    return withTransaction(this.db, async (trx) => {
      const found = await findWalkInBuyer(trx, tenantId, parsed.msisdn);
      if (found) {
        if (found.status !== 'active')
          throw new AppError('INVALID_STATE', 'this phone cannot buy here; ask the operator');
        return { subscriberId: found.id, planId: plan.id, phone: parsed.msisdn };
      }
      const username = `hs-${randomBytes(6).toString('hex')}`;
      const { id } = await insertSubscriber(trx, {
        tenant_id: tenantId,
        username,
        plan_id: plan.id,
        full_name: null,
        phone: parsed.msisdn,
        email: null,
        mac_address: null,
        static_ip: null,
        notes: 'captive portal',
      });
      await setPassword(trx, tenantId, username, randomPassword());
      await setGroup(trx, tenantId, username, plan.groupname);
      await audit(trx, {
        tenantId,
        actor: PORTAL_ACTOR,
        action: 'subscriber.create',
        entity: 'subscriber',
        entityId: id,
        data: { username, planId: plan.id, via: 'portal' },
      });
      return { subscriberId: id, planId: plan.id, phone: parsed.msisdn };
    });
  }

  /** The login of a paid buyer (their hotspot username and random password). */
  async buyerLogin(tenantId: string, subscriberId: string): Promise<HotspotLogin> {
    const r = await hotspotPassword(this.db, tenantId, subscriberId);
    if (!r) throw new AppError('SUBSCRIBER_NOT_FOUND', 'the account of this payment is gone; ask the operator');
    return r;
  }
}

/** The portal acting for a walk-in buyer (audit log). */
export const PORTAL_ACTOR: Actor = { type: 'system', id: null };

/** A random hotspot password: 24 characters the buyer never sees nor types. */
const randomPassword = () => randomBytes(18).toString('base64url');

async function blocked(limiter: RateLimiterPostgres, key: string): Promise<void> {
  let res: RateLimiterRes | null;
  try {
    res = await limiter.get(key);
  } catch (err) {
    throw mapDbError(err);
  }
  if (res && res.remainingPoints <= 0) {
    throw new AppError('RATE_LIMITED', 'too many wrong codes; wait a few minutes and try again', {
      retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    });
  }
}

async function take(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key, 1);
  } catch (res) {
    if (!(res instanceof RateLimiterRes)) throw mapDbError(res);
  }
}
