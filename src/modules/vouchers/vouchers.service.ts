import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import type { Clock } from '../../lib/clock';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isoOrNull } from '../../lib/time';
import { audit } from '../audit/audit.repo';
import type { Actor } from '../audit/actor';
import { onSubscriberSuspended } from '../enforcement/hooks';
import { findPlan } from '../plans/plans.repo';
import { DEFAULT_LENGTH, keyspaceBits, MIN_LENGTH, randomCodes } from './codes';
import { renderHtml, renderPdf, toCsv, type PrintCard } from './printing';
import {
  batchesQuery,
  batchVouchers,
  findBatch,
  findVoucher,
  insertBatch,
  insertVoucherCodes,
  lockVoucher,
  markRevoked,
  replaceLoginTokens,
  revokeBatchVouchers,
  tenantInfo,
  useLoginToken,
  voucherDevices,
  voucherUsage,
  vouchersQuery,
  type BatchRow,
  type VoucherRow,
} from './vouchers.repo';
import type {
  BatchQuery,
  BatchRevoked,
  BatchView,
  CreateBatch,
  CreatedBatch,
  PrintQuery,
  VoucherQuery,
  VoucherUsage,
  VoucherView,
} from './vouchers.schemas';

export function batchView(r: BatchRow): BatchView {
  return {
    id: r.id,
    planId: r.plan_id,
    planName: r.plan_name,
    durationSeconds: r.duration_seconds,
    dataQuotaBytes: r.data_quota_bytes === null ? null : Number(r.data_quota_bytes),
    quantity: r.quantity,
    alphabet: r.alphabet,
    codeLength: r.code_length,
    keyspaceBits: Math.round(keyspaceBits(r.alphabet, r.code_length) * 10) / 10,
    deviceLimit: r.device_limit,
    price: r.price,
    expiresAt: isoOrNull(r.expires_at),
    note: r.note,
    createdAt: iso(r.created_at),
  };
}

export function voucherView(r: VoucherRow): VoucherView {
  return {
    id: r.id,
    code: r.code,
    batchId: r.batch_id,
    planName: r.plan_name,
    status: r.status,
    deviceLimit: r.device_limit,
    devicesBound: Number(r.devices_bound),
    price: r.price,
    note: r.note,
    expiresAt: isoOrNull(r.expires_at),
    activatedAt: isoOrNull(r.activated_at),
    validUntil: isoOrNull(r.valid_until),
    revokedAt: isoOrNull(r.revoked_at),
    revokedReason: r.revoked_reason,
    createdAt: iso(r.created_at),
  };
}

/** "1 day", "3 hours", "30 days · 6 GB". */
export function allowanceText(durationSeconds: number, quotaBytes: number | null): string {
  const units: Array<[number, string]> = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  let time = `${durationSeconds} seconds`;
  for (const [size, name] of units) {
    if (durationSeconds >= size && durationSeconds % size === 0) {
      const n = durationSeconds / size;
      time = `${n} ${name}${n === 1 ? '' : 's'}`;
      break;
    }
  }
  if (quotaBytes === null) return time;
  const gb = quotaBytes / 1e9;
  const data = gb >= 1 ? `${Number(gb.toFixed(1))} GB` : `${Math.max(1, Math.round(quotaBytes / 1e6))} MB`;
  return `${time} · ${data}`;
}

/** Minor units as the tenant's currency with two decimals (KES, UGX, TZS ... as Lango stores them). */
export function priceText(minor: number, currency: string): string {
  return `${currency} ${(minor / 100).toFixed(2)}`;
}

export const tokenHash = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const notFound = () => new AppError('VOUCHER_NOT_FOUND', 'voucher not found');
const batchNotFound = () => new AppError('VOUCHER_BATCH_NOT_FOUND', 'voucher batch not found');

export interface PrintOutput {
  contentType: string;
  filename: string;
  body: string | Buffer;
}

/**
 * Voucher batches and vouchers. A voucher is a subscriber of kind 'voucher' (username and
 * password: its code) on the batch's plan, so FreeRADIUS authenticates it like any subscriber;
 * lango_authorize_check() decides its own rules and lango_voucher_login() binds devices and
 * starts the clock at the first Accept (CONTEXT.md).
 */
export class VouchersService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly portalUrl: string | undefined;

  constructor(deps: { db: Knex; clock: Clock; portalUrl: string | undefined }) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.portalUrl = deps.portalUrl?.replace(/\/+$/, '');
  }

  /**
   * Up to 10,000 codes with their subscribers and FreeRADIUS rows, in one transaction and one
   * statement per draw; codes the tenant already has are drawn again.
   */
  async createBatch(actor: Actor, tenantId: string, input: CreateBatch): Promise<CreatedBatch> {
    const alphabet = input.alphabet;
    const length = input.length ?? DEFAULT_LENGTH[alphabet];
    if (length < MIN_LENGTH[alphabet]) {
      throw new AppError(
        'VALIDATION_FAILED',
        `length must be at least ${MIN_LENGTH[alphabet]} for ${alphabet} codes (guessing must stay impractical)`,
        {
          errors: [{ path: 'body.length', message: `at least ${MIN_LENGTH[alphabet]}` }],
        },
      );
    }
    const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= this.clock.now()) {
      throw new AppError('VALIDATION_FAILED', 'expiresAt must be in the future', {
        errors: [{ path: 'body.expiresAt', message: 'in the past' }],
      });
    }
    return withTransaction(this.db, async (trx) => {
      const plan = await findPlan(trx, tenantId, input.planId);
      if (!plan) throw new AppError('PLAN_NOT_FOUND', 'plan not found');
      if (!plan.active) throw new AppError('INVALID_STATE', 'this plan is not active');
      const batch = await insertBatch(trx, {
        tenant_id: tenantId,
        plan_id: plan.id,
        plan_name: plan.name,
        duration_seconds: plan.duration_seconds,
        data_quota_bytes: plan.data_quota_bytes,
        session_timeout_seconds: plan.session_timeout_seconds,
        quantity: input.quantity,
        alphabet,
        code_length: length,
        device_limit: input.deviceLimit,
        price: input.price ?? plan.price,
        expires_at: expiresAt,
        note: input.note ?? null,
      });
      const codes: string[] = [];
      const tried = new Set<string>();
      for (let draw = 0; codes.length < input.quantity; draw++) {
        // 2^43 codes and more: a second draw is already unlikely, a tenth one means something is wrong.
        if (draw >= 10) throw new AppError('CONFLICT', 'could not draw enough distinct codes; use longer codes');
        const fresh = randomCodes(alphabet, length, input.quantity - codes.length, tried);
        for (const c of fresh) tried.add(c);
        codes.push(
          ...(await insertVoucherCodes(trx, {
            tenantId,
            batchId: batch.id,
            planId: plan.id,
            groupname: plan.groupname,
            codes: fresh,
          })),
        );
      }
      await audit(trx, {
        tenantId,
        actor,
        action: 'voucher_batch.create',
        entity: 'voucher_batch',
        entityId: batch.id,
        data: {
          planId: plan.id,
          quantity: input.quantity,
          alphabet,
          length,
          deviceLimit: input.deviceLimit,
          price: batch.price,
        },
      });
      return { batch: batchView(batch), codes: codes.sort() };
    });
  }

  async listBatches(tenantId: string, q: BatchQuery): Promise<Page<BatchView>> {
    return paginate(batchesQuery(this.db, tenantId, q), q.limit, q.offset, batchView);
  }

  async getBatch(tenantId: string, id: string): Promise<BatchView> {
    const b = await findBatch(this.db, tenantId, id);
    if (!b) throw batchNotFound();
    return batchView(b);
  }

  async list(tenantId: string, q: VoucherQuery): Promise<Page<VoucherView>> {
    const code = q.code?.replace(/[\s-]+/g, '').toUpperCase();
    return paginate(
      vouchersQuery(this.db, tenantId, this.clock.date(), { ...q, code: code || undefined }),
      q.limit,
      q.offset,
      voucherView,
    );
  }

  async get(tenantId: string, id: string): Promise<VoucherView> {
    const v = await findVoucher(this.db, tenantId, id, this.clock.date());
    if (!v) throw notFound();
    return voucherView(v);
  }

  /**
   * Revoked: RADIUS refuses it from now on and every live session gets a Disconnect through the
   * outbox, in the same transaction. Revoking again changes nothing.
   */
  async revoke(actor: Actor, tenantId: string, id: string, reason?: string): Promise<VoucherView> {
    return withTransaction(this.db, async (trx) => {
      const v = await lockVoucher(trx, tenantId, id);
      if (!v) throw notFound();
      if (!v.revoked_at) {
        await markRevoked(
          trx,
          tenantId,
          { id: v.id, subscriberId: v.subscriber_id },
          this.clock.date(),
          reason ?? null,
        );
        await onSubscriberSuspended(trx, tenantId, { id: v.subscriber_id, username: v.code }, actor, 'voucher revoked');
        await audit(trx, {
          tenantId,
          actor,
          action: 'voucher.revoke',
          entity: 'voucher',
          entityId: v.id,
          data: { reason: reason ?? null },
        });
      }
      const row = await findVoucher(trx, tenantId, id, this.clock.date());
      return voucherView(row!);
    });
  }

  /** A lost or stolen batch: every voucher of it revoked at once, live sessions disconnected. */
  async revokeBatch(actor: Actor, tenantId: string, batchId: string, reason?: string): Promise<BatchRevoked> {
    return withTransaction(this.db, async (trx) => {
      const batch = await findBatch(trx, tenantId, batchId);
      if (!batch) throw batchNotFound();
      const revoked = await revokeBatchVouchers(trx, tenantId, batchId, this.clock.date(), reason ?? null);
      const live = revoked.filter((v) => v.open);
      for (const v of live)
        await onSubscriberSuspended(trx, tenantId, { id: v.subscriber_id, username: v.code }, actor, 'voucher revoked');
      if (revoked.length > 0) {
        await audit(trx, {
          tenantId,
          actor,
          action: 'voucher_batch.revoke',
          entity: 'voucher_batch',
          entityId: batchId,
          data: { reason: reason ?? null, revoked: revoked.length },
        });
      }
      return { revoked: revoked.length, disconnecting: live.length };
    });
  }

  async usage(tenantId: string, id: string): Promise<VoucherUsage> {
    const v = await findVoucher(this.db, tenantId, id, this.clock.date());
    if (!v) throw notFound();
    const [devices, u] = await Promise.all([voucherDevices(this.db, v.id), voucherUsage(this.db, tenantId, v.code)]);
    return {
      voucher: voucherView(v),
      devices: devices.map((d) => ({ macAddress: d.mac_address, boundAt: iso(d.bound_at) })),
      sessions: Number(u.sessions),
      openSessions: Number(u.open_sessions),
      inputBytes: Number(u.input_bytes),
      outputBytes: Number(u.output_bytes),
      sessionSeconds: Number(u.session_seconds),
      lastSeenAt: isoOrNull(u.last_seen_at),
    };
  }

  /**
   * A printable sheet of a batch. Each printed voucher gets a new one-time login token (only its
   * SHA-256 is stored; the unused tokens of an earlier print stop working), so printing writes.
   */
  async print(actor: Actor, tenantId: string, batchId: string, q: PrintQuery): Promise<PrintOutput> {
    if (!this.portalUrl)
      throw new AppError('INVALID_STATE', 'LANGO_PUBLIC_URL is not set: the QR codes need the portal address');
    const portalUrl = this.portalUrl;
    const { cards, tenantName } = await withTransaction(this.db, async (trx) => {
      const batch = await findBatch(trx, tenantId, batchId);
      if (!batch) throw batchNotFound();
      const tenant = (await tenantInfo(trx, tenantId))!;
      const vouchers = (await batchVouchers(trx, tenantId, batchId, this.clock.date()))
        .filter((v) => (q.which === 'all' ? v.status !== 'revoked' : v.status === 'unused'))
        .slice(q.offset, q.offset + q.limit);
      const tokens = vouchers.map((v) => ({ voucherId: v.id, token: randomBytes(32).toString('base64url') }));
      await replaceLoginTokens(
        trx,
        tenantId,
        tokens.map((t) => ({ voucherId: t.voucherId, hash: tokenHash(t.token) })),
      );
      await audit(trx, {
        tenantId,
        actor,
        action: 'voucher_batch.print',
        entity: 'voucher_batch',
        entityId: batchId,
        data: { format: q.format, layout: q.layout, which: q.which, offset: q.offset, vouchers: vouchers.length },
      });
      const dateFmt = new Intl.DateTimeFormat('en-GB', { timeZone: tenant.time_zone, dateStyle: 'medium' });
      const allowance = allowanceText(
        batch.duration_seconds,
        batch.data_quota_bytes === null ? null : Number(batch.data_quota_bytes),
      );
      const printCards: PrintCard[] = vouchers.map((v, i) => ({
        code: v.code,
        loginUrl: `${portalUrl}/portal/${encodeURIComponent(tenant.slug)}/voucher?token=${tokens[i]!.token}`,
        planName: v.plan_name,
        price: priceText(v.price, tenant.currency),
        allowance,
        expiresAt: v.expires_at ? dateFmt.format(new Date(v.expires_at)) : null,
        note: v.note,
      }));
      return { cards: printCards, tenantName: tenant.name };
    });
    const sheet = { tenantName, layout: q.layout, cards };
    const name = `vouchers-${batchId.slice(0, 8)}-${q.layout}`;
    if (q.format === 'pdf')
      return { contentType: 'application/pdf', filename: `${name}.pdf`, body: await renderPdf(sheet) };
    return { contentType: 'text/html; charset=utf-8', filename: `${name}.html`, body: await renderHtml(sheet) };
  }

  /** The batch as CSV (codes, state, dates), safe to open in a spreadsheet. */
  async csv(tenantId: string, batchId: string): Promise<PrintOutput> {
    const batch = await findBatch(this.db, tenantId, batchId);
    if (!batch) throw batchNotFound();
    const rows = await batchVouchers(this.db, tenantId, batchId, this.clock.date());
    const body = toCsv(
      [
        'code',
        'plan',
        'price',
        'status',
        'device_limit',
        'devices_bound',
        'expires_at',
        'activated_at',
        'valid_until',
        'note',
      ],
      rows.map((v) => [
        v.code,
        v.plan_name,
        v.price,
        v.status,
        v.device_limit,
        Number(v.devices_bound),
        isoOrNull(v.expires_at),
        isoOrNull(v.activated_at),
        isoOrNull(v.valid_until),
        v.note,
      ]),
    );
    return { contentType: 'text/csv; charset=utf-8', filename: `vouchers-${batchId.slice(0, 8)}.csv`, body };
  }

  /**
   * The portal's side of a QR code: the token is used up (a replay finds nothing) and the
   * voucher's code is returned for the login, unless the voucher is revoked or expired.
   */
  async redeemLoginToken(tenantId: string, token: string): Promise<{ voucherId: string; code: string }> {
    const invalid = () => new AppError('VOUCHER_NOT_FOUND', 'this login link is not valid (used, replaced or unknown)');
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw invalid();
    return withTransaction(this.db, async (trx) => {
      const voucherId = await useLoginToken(trx, tenantId, tokenHash(token), this.clock.date());
      if (!voucherId) throw invalid();
      const v = await findVoucher(trx, tenantId, voucherId, this.clock.date());
      if (!v) throw invalid();
      if (v.status === 'revoked' || v.status === 'expired')
        throw new AppError('INVALID_STATE', `this voucher is ${v.status}`);
      return { voucherId: v.id, code: v.code };
    });
  }
}
