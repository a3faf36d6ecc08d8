/**
 * The captive portal's rules: what a tenant's portal shows (settings, the plans it sells),
 * whether a router's redirect may be trusted (router-context.ts), and turning what the buyer
 * did (a voucher code, a QR token) into the hotspot credentials the page logs in with. The
 * guessing of codes is throttled per device and per router (rate-limiter-flexible counting in
 * PostgreSQL, shared by every API process).
 */
import { createHash, randomBytes } from 'node:crypto';
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
import { hashPhone, parsePhone } from '../../mpesa/phone';
import {
  findSubscriber,
  insertSubscriber,
  lockSubscriber,
  setGroup,
  setPassword,
  updateSubscriber,
} from '../subscribers/subscribers.repo';
import { startPeriod } from '../subscribers/periods';
import { findPlan } from '../plans/plans.repo';
import { allocate } from '../payments/activation';
import { lockCompletedByReceipt } from '../payments/payments.repo';
import { enqueueForUser } from '../enforcement/outbox.repo';
import {
  coveredUntil,
  findSellablePlan,
  findSettings,
  openSessions,
  planForAmount,
  findWalkInBuyer,
  hotspotPassword,
  insertTrial,
  nasAddresses,
  sellablePlans,
  trialConflict,
  upsertSettings,
  findLogo,
  findLogoMeta,
  upsertLogo,
  deleteLogo,
  type LogoRow,
  type PortalSettingsRow,
} from './portal.repo';
import { checkLogo } from './logo';
import type { PortalSettingsPatch, PortalSettingsView, RouterContext, RouterRedirect } from './portal.schemas';
import { routerContext } from './router-context';

export const DEFAULT_SETTINGS: Omit<PortalSettingsView, 'hotspotDnsNames'> & { hotspotDnsNames: string[] } = {
  displayName: null,
  logo: null,
  primaryColor: '#0b6e4f',
  backgroundColor: '#ffffff',
  hotspotDnsNames: [],
  paybill: null,
  till: null,
  supportPhone: null,
  trialPlanId: null,
  trialPeriodHours: 24,
};

type LogoMeta = { content_type: string; size: number; sha256: string } | undefined;

export function settingsView(r: PortalSettingsRow | undefined, logo: LogoMeta): PortalSettingsView {
  const l = logo ? { contentType: logo.content_type, bytes: logo.size, version: logo.sha256.slice(0, 16) } : null;
  if (!r) return { ...DEFAULT_SETTINGS, logo: l };
  return {
    displayName: r.display_name,
    logo: l,
    primaryColor: r.primary_color,
    backgroundColor: r.background_color,
    hotspotDnsNames: r.hotspot_dns_names,
    paybill: r.paybill,
    till: r.till,
    supportPhone: r.support_phone,
    trialPlanId: r.trial_plan_id,
    trialPeriodHours: r.trial_period_hours,
  };
}

const COLUMNS: Record<Exclude<keyof PortalSettingsPatch, 'logoDataUrl'>, keyof PortalSettingsRow> = {
  displayName: 'display_name',
  primaryColor: 'primary_color',
  backgroundColor: 'background_color',
  hotspotDnsNames: 'hotspot_dns_names',
  paybill: 'paybill',
  till: 'till',
  supportPhone: 'support_phone',
  trialPlanId: 'trial_plan_id',
  trialPeriodHours: 'trial_period_hours',
};

export interface CodeLimits {
  /** Wrong codes a device (MAC) may enter per window. */
  perDevice: number;
  /** Wrong codes all devices behind one router may enter per window. */
  perRouter: number;
  windowSeconds: number;
}

export const DEFAULT_CODE_LIMITS: CodeLimits = { perDevice: 10, perRouter: 200, windowSeconds: 900 };

export interface ReceiptLimits {
  /** Wrong phone+receipt pairs a device (MAC) may enter per window. */
  perDevice: number;
  /** Wrong receipts entered for one phone (from any device) per window. */
  perPhone: number;
  windowSeconds: number;
}

export const DEFAULT_RECEIPT_LIMITS: ReceiptLimits = { perDevice: 5, perPhone: 5, windowSeconds: 900 };

/** An M-Pesa receipt code as the SMS shows it: 10 letters and digits (e.g. QJK3ABC12D). */
const RECEIPT = /^[A-Z0-9]{10}$/;

/** Unallocated money the payer may claim at the portal (staff decide about a suspended account's). */
const CLAIMABLE = new Set([
  'no_subscriber',
  'subscriber_deleted',
  'no_plan',
  'plan_inactive',
  'amount_below_price',
  'ambiguous_phone',
]);

/** What "already paid" did: claimed unallocated money, or restored a running package. */
export interface Restored extends HotspotLogin {
  outcome: 'claimed' | 'restored';
  endsAt: Date;
  /** Open sessions of other devices disconnected to make room within the device limit. */
  displaced: number;
}

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
  private readonly receiptDevice: RateLimiterPostgres;
  private readonly receiptPhone: RateLimiterPostgres;

  constructor(deps: { db: Knex; clock: Clock; codeLimits?: CodeLimits; receiptLimits?: ReceiptLimits }) {
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
    const r = deps.receiptLimits ?? DEFAULT_RECEIPT_LIMITS;
    const rstore = { ...store, duration: r.windowSeconds };
    this.receiptDevice = new RateLimiterPostgres({ ...rstore, keyPrefix: 'portal-paid-device', points: r.perDevice });
    this.receiptPhone = new RateLimiterPostgres({ ...rstore, keyPrefix: 'portal-paid-phone', points: r.perPhone });
  }

  async settings(tenantId: string): Promise<PortalSettingsView> {
    const [r, logo] = await Promise.all([findSettings(this.db, tenantId), findLogoMeta(this.db, tenantId)]);
    return settingsView(r, logo);
  }

  /** The logo's bytes for the portal to serve (undefined: none). */
  logo(tenantId: string): Promise<LogoRow | undefined> {
    return findLogo(this.db, tenantId);
  }

  /** A new logo (checkLogo: PNG/JPEG/WebP by its bytes, at most 200 KB), or null to remove it. */
  async setLogo(actor: Actor, tenantId: string, bytes: Buffer | null): Promise<PortalSettingsView> {
    await withTransaction(this.db, async (trx) => {
      await this.writeLogo(trx, tenantId, bytes);
      await audit(trx, {
        tenantId,
        actor,
        action: bytes ? 'portal.logo' : 'portal.logo_removed',
        entity: 'tenant',
        entityId: tenantId,
        ...(bytes ? { data: { bytes: bytes.length } } : {}),
      });
    });
    return this.settings(tenantId);
  }

  private async writeLogo(trx: Knex.Transaction, tenantId: string, bytes: Buffer | null): Promise<void> {
    if (bytes === null) return deleteLogo(trx, tenantId);
    const type = checkLogo(bytes, 'body.logo');
    await upsertLogo(trx, {
      tenant_id: tenantId,
      content_type: type,
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  }

  async updateSettings(actor: Actor, tenantId: string, patch: PortalSettingsPatch): Promise<PortalSettingsView> {
    return withTransaction(this.db, async (trx) => {
      if (patch.trialPlanId) {
        const plan = await findPlan(trx, tenantId, patch.trialPlanId);
        if (!plan || !plan.active)
          throw new AppError('PLAN_NOT_FOUND', 'the trial plan is not an active plan of yours');
      }
      if (patch.logoDataUrl !== undefined) {
        const bytes = patch.logoDataUrl === null ? null : Buffer.from(patch.logoDataUrl.split(',')[1]!, 'base64');
        if (bytes) checkLogo(bytes, 'body.logoDataUrl');
        await this.writeLogo(trx, tenantId, bytes);
      }
      const row: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(patch)) {
        const column = COLUMNS[k as Exclude<keyof PortalSettingsPatch, 'logoDataUrl'>];
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
      return settingsView(saved, await findLogoMeta(trx, tenantId));
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
      const buyer = await walkInBuyerFor(trx, tenantId, parsed.msisdn, plan);
      return { subscriberId: buyer.id, planId: plan.id, phone: parsed.msisdn };
    });
  }

  /**
   * "Already paid": the phone that paid and its M-Pesa receipt prove the payment (both are in
   * the payer's SMS); the phone must match the payment's number, plain or as Daraja's SHA-256.
   *  - Money that arrived but bought nothing (a paybill payment with an unknown account, ...)
   *    is claimed: it is allocated to the phone's walk-in account and buys the dearest sellable
   *    package it covers (allocate(), once: the ledger credit is unique per payment).
   *  - A payment that bought a walk-in package still running restores it on this device.
   * Either way the device gets the account's login. The money never moves to another phone's
   * account: a second claim of the same receipt (from this or another device) restores the
   * same package and credits nothing. Within the plan's device limit (Simultaneous-Use) the
   * oldest other device gives way: its open session is disconnected (enforcement outbox) and a
   * device bound to the account (subscribers.mac_address) becomes this one.
   * A wrong pair costs the device and the phone a point (RATE_LIMITED when used up) and changes
   * nothing; the answer does not tell a wrong phone from a wrong code.
   */
  async restorePaid(
    tenantId: string,
    input: { phone: string; receipt: string },
    ctx: RouterContext,
  ): Promise<Restored> {
    const parsed = parsePhone(input.phone);
    if (!parsed.ok)
      throw new AppError('VALIDATION_FAILED', parsed.message, {
        errors: [{ path: 'body.phone', message: parsed.message }],
      });
    const receipt = input.receipt.replace(/[\s-]/g, '').toUpperCase();
    if (!RECEIPT.test(receipt))
      throw new AppError('VALIDATION_FAILED', 'an M-Pesa code has 10 letters and digits, as in the SMS', {
        errors: [{ path: 'body.receipt', message: 'an M-Pesa code has 10 letters and digits' }],
      });
    const msisdn = parsed.msisdn;
    const deviceKey = `${tenantId}:${ctx.mac}`;
    const phoneKey = `${tenantId}:${hashPhone(msisdn)}`;
    await Promise.all([
      blocked(this.receiptDevice, deviceKey, RECEIPT_LIMITED),
      blocked(this.receiptPhone, phoneKey, RECEIPT_LIMITED),
    ]);
    const done = await withTransaction(this.db, async (trx) => {
      const p = await lockCompletedByReceipt(trx, tenantId, receipt);
      if (!p || !(p.phone === msisdn || p.phone_hash === hashPhone(msisdn))) return undefined;
      // After the lock: a claim that waited for another's sees the period it started as running.
      const now = this.clock.date();
      let subscriberId: string;
      let outcome: Restored['outcome'];
      if (p.allocation === 'unallocated') {
        if (!CLAIMABLE.has(p.unallocated_reason ?? ''))
          throw new AppError('INVALID_STATE', 'this payment waits for the operator; call them with the M-Pesa code');
        const planRow = await planForAmount(trx, tenantId, Number(p.amount));
        if (!planRow)
          throw new AppError('INVALID_STATE', 'this payment is too little for any package; call the operator');
        const plan = planView(planRow);
        const buyer = await walkInBuyerFor(trx, tenantId, msisdn, plan);
        const row = await allocate(trx, p, {
          now,
          actor: PORTAL_ACTOR,
          target: { subscriberId: buyer.id, planId: plan.id },
        });
        if (row.allocation !== 'allocated' || !row.subscriber_id)
          throw new AppError('INVALID_STATE', 'this payment cannot buy a package here; call the operator');
        await audit(trx, {
          tenantId,
          actor: PORTAL_ACTOR,
          action: 'payment.claim',
          entity: 'payment',
          entityId: p.id,
          data: { subscriberId: buyer.id, planId: plan.id, mac: ctx.mac, via: 'portal' },
        });
        subscriberId = row.subscriber_id;
        outcome = 'claimed';
      } else if (p.allocation === 'allocated' && p.subscriber_id) {
        subscriberId = p.subscriber_id;
        outcome = 'restored';
      } else {
        throw new AppError('INVALID_STATE', 'this payment was refunded');
      }
      const s = await findSubscriber(trx, tenantId, subscriberId);
      if (!s || !s.username.startsWith('hs-'))
        throw new AppError('INVALID_STATE', 'this payment is for an account with its own login; use that account');
      if (s.status !== 'active') throw new AppError('INVALID_STATE', 'this account is suspended; call the operator');
      const endsAt = await coveredUntil(trx, s.id, now);
      if (!endsAt) throw new AppError('INVALID_STATE', 'the package this payment bought has ended; buy a new one');
      const displaced = await this.makeRoom(trx, tenantId, s, ctx.mac);
      if (outcome === 'restored')
        await audit(trx, {
          tenantId,
          actor: PORTAL_ACTOR,
          action: 'portal.restore',
          entity: 'subscriber',
          entityId: s.id,
          data: { paymentId: p.id, mac: ctx.mac, displaced },
        });
      const login = await hotspotPassword(trx, tenantId, s.id);
      if (!login) throw new AppError('SUBSCRIBER_NOT_FOUND', 'the account of this payment is gone; ask the operator');
      return { ...login, outcome, endsAt, displaced };
    });
    if (!done) {
      await Promise.all([take(this.receiptDevice, deviceKey), take(this.receiptPhone, phoneKey)]);
      throw new AppError(
        'PAYMENT_NOT_FOUND',
        'no M-Pesa payment with this code from this phone; check both and try again',
      );
    }
    return done;
  }

  /** The trial plan on offer, if the tenant has one (portal settings, off by default). */
  async trialPlan(tenantId: string): Promise<PlanView | undefined> {
    const id = (await findSettings(this.db, tenantId))?.trial_plan_id;
    const p = id ? await findPlan(this.db, tenantId, id) : undefined;
    return p && p.active ? planView(p) : undefined;
  }

  /**
   * The free trial: the tenant's trial plan for this phone's walk-in account, once per device
   * (MAC) and once per phone per trial period. The database decides (portal_trials' exclusion
   * constraints), so two devices or two requests at once cannot both get one. A phone with a
   * running package is sent to "Already paid?" instead (a trial would replace its plan).
   */
  async freeTrial(tenantId: string, phone: string, ctx: RouterContext): Promise<HotspotLogin & { endsAt: Date }> {
    const parsed = parsePhone(phone);
    if (!parsed.ok)
      throw new AppError('VALIDATION_FAILED', parsed.message, {
        errors: [{ path: 'body.phone', message: parsed.message }],
      });
    const settings = await findSettings(this.db, tenantId);
    const plan = await this.trialPlan(tenantId);
    if (!settings || !plan) throw new AppError('INVALID_STATE', 'this network offers no free trial');
    const now = this.clock.date();
    try {
      return await withTransaction(this.db, async (trx) => {
        const buyer = await walkInBuyerFor(trx, tenantId, parsed.msisdn, plan);
        await lockSubscriber(trx, tenantId, buyer.id);
        if (await coveredUntil(trx, buyer.id, now))
          throw new AppError(
            'INVALID_STATE',
            'this phone has a package running: use "Already paid?" with its M-Pesa code',
          );
        await insertTrial(
          trx,
          {
            tenant_id: tenantId,
            mac_address: ctx.mac,
            phone_hash: hashPhone(parsed.msisdn),
            subscriber_id: buyer.id,
            plan_id: plan.id,
          },
          now,
          new Date(now.getTime() + settings.trial_period_hours * 3600_000),
        );
        const s = await findSubscriber(trx, tenantId, buyer.id);
        if (s && s.plan_id !== plan.id) {
          await updateSubscriber(trx, tenantId, buyer.id, { plan_id: plan.id, updated_at: trx.fn.now() });
          await setGroup(trx, tenantId, buyer.username, plan.groupname);
        }
        const sub = await startPeriod(trx, { tenantId, subscriberId: buyer.id, plan, from: now, source: 'trial' });
        await audit(trx, {
          tenantId,
          actor: PORTAL_ACTOR,
          action: 'portal.trial',
          entity: 'subscriber',
          entityId: buyer.id,
          data: { planId: plan.id, subscriptionId: sub.id, mac: ctx.mac },
        });
        const login = await hotspotPassword(trx, tenantId, buyer.id);
        if (!login) throw new AppError('SUBSCRIBER_NOT_FOUND', 'the trial account is gone; ask the operator');
        return { ...login, endsAt: new Date(sub.ends_at) };
      });
    } catch (err) {
      const used = trialConflict(err);
      if (used === 'device')
        throw new AppError('INVALID_STATE', 'this device has had its free trial; choose a package');
      if (used === 'phone') throw new AppError('INVALID_STATE', 'this phone has had its free trial; choose a package');
      throw err;
    }
  }

  /**
   * This device joins the account within its plan's device limit (Simultaneous-Use): when the
   * open sessions of other devices fill it, the oldest are disconnected; an account bound to
   * one MAC is bound to this one. Returns how many sessions were asked to end.
   */
  private async makeRoom(
    trx: Knex.Transaction,
    tenantId: string,
    s: { id: string; username: string; plan_id: string | null; mac_address: string | null },
    mac: string,
  ): Promise<number> {
    if (s.mac_address !== null && s.mac_address !== mac)
      await updateSubscriber(trx, tenantId, s.id, { mac_address: mac, updated_at: trx.fn.now() });
    const plan = s.plan_id ? await findPlan(trx, tenantId, s.plan_id) : undefined;
    const limit = plan?.simultaneous_use ?? 1;
    const sessions = await openSessions(trx, tenantId, s.username);
    if (sessions.some((x) => x.mac === mac)) return 0;
    const others = sessions.filter((x) => x.mac !== mac);
    const excess = others.length - limit + 1;
    const giveWay = excess > 0 ? others.slice(0, excess) : [];
    for (const x of giveWay)
      await enqueueForUser(trx, {
        tenantId,
        username: s.username,
        subscriberId: s.id,
        kind: 'disconnect',
        reason: 'staff',
        actor: PORTAL_ACTOR,
        radacctId: x.radacctid,
        context: { via: 'portal-restore', newDevice: mac },
      });
    return giveWay.length;
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

const RECEIPT_LIMITED = 'too many wrong M-Pesa codes; wait a few minutes and try again';

/**
 * The portal's own account for this phone (hs-<random>, a random password, FreeRADIUS rows),
 * found or created in the caller's transaction, so that every purchase from the phone extends
 * one subscription. A suspended one is refused.
 */
async function walkInBuyerFor(
  trx: Knex.Transaction,
  tenantId: string,
  msisdn: string,
  plan: PlanView,
): Promise<{ id: string; username: string }> {
  const found = await findWalkInBuyer(trx, tenantId, msisdn);
  if (found) {
    if (found.status !== 'active') throw new AppError('INVALID_STATE', 'this phone cannot buy here; ask the operator');
    return found;
  }
  const username = `hs-${randomBytes(6).toString('hex')}`;
  const { id } = await insertSubscriber(trx, {
    tenant_id: tenantId,
    username,
    plan_id: plan.id,
    full_name: null,
    phone: msisdn,
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
  return { id, username };
}

async function blocked(
  limiter: RateLimiterPostgres,
  key: string,
  message = 'too many wrong codes; wait a few minutes and try again',
): Promise<void> {
  let res: RateLimiterRes | null;
  try {
    res = await limiter.get(key);
  } catch (err) {
    throw mapDbError(err);
  }
  if (res && res.remainingPoints <= 0) {
    throw new AppError('RATE_LIMITED', message, {
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
