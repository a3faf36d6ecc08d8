/**
 * Queries of voucher batches, vouchers, their bound devices and one-time login tokens, and of
 * what FreeRADIUS reads for a voucher: a subscriber of kind 'voucher' (username = password =
 * the code), its radcheck Cleartext-Password and radusergroup plan group, all written by one
 * set-based statement per batch.
 */
import type { Handle } from '../../db/knex';

export interface BatchRow {
  id: string;
  tenant_id: string;
  plan_id: string | null;
  plan_name: string;
  duration_seconds: number;
  data_quota_bytes: string | number | null;
  session_timeout_seconds: number | null;
  quantity: number;
  alphabet: 'numeric' | 'alphanumeric';
  code_length: number;
  device_limit: number;
  price: number;
  expires_at: Date | null;
  note: string | null;
  created_at: Date;
}

export interface VoucherRow {
  id: string;
  tenant_id: string;
  batch_id: string;
  subscriber_id: string;
  code: string;
  activated_at: Date | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
  created_at: Date;
  // from the batch and the state
  plan_name: string;
  device_limit: number;
  price: number;
  note: string | null;
  expires_at: Date | null;
  valid_until: Date | null;
  devices_bound: string | number;
  status: 'unused' | 'active' | 'expired' | 'revoked';
}

export async function insertBatch(h: Handle, row: Omit<BatchRow, 'id' | 'created_at'>): Promise<BatchRow> {
  const [r] = await h('voucher_batches').insert(row).returning('*');
  return r;
}

export async function findBatch(h: Handle, tenantId: string, id: string): Promise<BatchRow | undefined> {
  return h('voucher_batches').where({ tenant_id: tenantId, id }).first();
}

export function batchesQuery(h: Handle, tenantId: string, q: { planId?: string | undefined }) {
  const b = h('voucher_batches').where({ tenant_id: tenantId });
  if (q.planId) b.andWhere({ plan_id: q.planId });
  return b.select('*').orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
}

/**
 * The vouchers of `codes` with their subscribers and FreeRADIUS rows, in one statement. A code
 * whose username the tenant already has (a subscriber or another voucher) is skipped by the
 * unique constraint and not returned; the caller draws new ones for those.
 */
export async function insertVoucherCodes(
  h: Handle,
  v: { tenantId: string; batchId: string; planId: string; groupname: string; codes: string[] },
): Promise<string[]> {
  const r = await h.raw<{ rows: Array<{ code: string }> }>(
    `WITH s AS (
       INSERT INTO subscribers (tenant_id, username, plan_id, kind)
       SELECT :tenant, c, :plan, 'voucher' FROM unnest(CAST(:codes AS text[])) AS c
       ON CONFLICT (tenant_id, username) DO NOTHING
       RETURNING id, username
     ), v AS (
       INSERT INTO vouchers (tenant_id, batch_id, subscriber_id, code)
       SELECT :tenant, :batch, s.id, s.username FROM s
       RETURNING code
     ), pw AS (
       INSERT INTO radcheck (tenant_id, username, attribute, op, value)
       SELECT :tenant, s.username, 'Cleartext-Password', ':=', s.username FROM s
     ), g AS (
       INSERT INTO radusergroup (tenant_id, username, groupname, priority)
       SELECT :tenant, s.username, :group, 1 FROM s
     )
     SELECT code FROM v`,
    { tenant: v.tenantId, plan: v.planId, batch: v.batchId, group: v.groupname, codes: v.codes },
  );
  return r.rows.map((x) => x.code);
}

/** The voucher columns of a view, with its state at `now` (the service's clock). */
function voucherSelect(h: Handle, now: Date) {
  return h('vouchers as v')
    .join('voucher_batches as b', function () {
      this.on('b.tenant_id', 'v.tenant_id').andOn('b.id', 'v.batch_id');
    })
    .select(
      'v.*',
      'b.plan_name',
      'b.device_limit',
      'b.price',
      'b.note',
      'b.expires_at',
      h.raw(
        `(SELECT max(sb.ends_at) FROM subscriptions sb WHERE sb.subscriber_id = v.subscriber_id AND sb.status = 'active') AS valid_until`,
      ),
      h.raw('(SELECT count(*) FROM voucher_devices d WHERE d.voucher_id = v.id) AS devices_bound'),
      h.raw(
        `CASE WHEN v.revoked_at IS NOT NULL THEN 'revoked'
              WHEN v.activated_at IS NULL THEN CASE WHEN b.expires_at IS NOT NULL AND b.expires_at <= ?::timestamptz THEN 'expired' ELSE 'unused' END
              WHEN EXISTS (SELECT 1 FROM lango_covering_subscription(v.subscriber_id, ?::timestamptz)) THEN 'active'
              ELSE 'expired' END AS status`,
        [now, now],
      ),
    );
}

export async function findVoucher(h: Handle, tenantId: string, id: string, now: Date): Promise<VoucherRow | undefined> {
  return voucherSelect(h, now).where('v.tenant_id', tenantId).andWhere('v.id', id).first();
}

/** The list of vouchers, filtered; `status` is computed, so the filter wraps the select. */
export function vouchersQuery(
  h: Handle,
  tenantId: string,
  now: Date,
  q: { batchId?: string | undefined; status?: string | undefined; code?: string | undefined },
) {
  const inner = voucherSelect(h, now).where('v.tenant_id', tenantId);
  if (q.batchId) inner.andWhere('v.batch_id', q.batchId);
  if (q.code) inner.andWhereLike('v.code', `${q.code.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const outer = h.from(inner.as('x')).select('x.*');
  if (q.status) outer.where('x.status', q.status);
  return outer.orderBy([
    { column: 'x.created_at', order: 'desc' },
    { column: 'x.code', order: 'asc' },
  ]);
}

/** Every voucher of a batch (printing, CSV), by code. */
export async function batchVouchers(h: Handle, tenantId: string, batchId: string, now: Date): Promise<VoucherRow[]> {
  return voucherSelect(h, now).where('v.tenant_id', tenantId).andWhere('v.batch_id', batchId).orderBy('v.code');
}

/** Locks the voucher's row (the same lock lango_voucher_login() takes). */
export async function lockVoucher(
  h: Handle,
  tenantId: string,
  id: string,
): Promise<{ id: string; subscriber_id: string; code: string; revoked_at: Date | null } | undefined> {
  return h('vouchers')
    .where({ tenant_id: tenantId, id })
    .forUpdate()
    .first('id', 'subscriber_id', 'code', 'revoked_at');
}

export async function markRevoked(
  h: Handle,
  tenantId: string,
  v: { id: string; subscriberId: string },
  at: Date,
  reason: string | null,
): Promise<void> {
  await h('vouchers').where({ tenant_id: tenantId, id: v.id }).update({ revoked_at: at, revoked_reason: reason });
  // The subscriber row is what FreeRADIUS and the outbox know; suspended keeps the worker from
  // cancelling the Disconnect (it cancels "suspended" ones of active subscribers).
  await h('subscribers')
    .where({ tenant_id: tenantId, id: v.subscriberId })
    .update({ status: 'suspended', suspended_reason: 'voucher revoked', updated_at: at });
}

/**
 * Revokes every voucher of a batch not revoked yet, in two set-based statements (voucher rows
 * locked first, as lango_voucher_login() locks them); returns those revoked now, with whether
 * they have an open session.
 */
export async function revokeBatchVouchers(
  h: Handle,
  tenantId: string,
  batchId: string,
  at: Date,
  reason: string | null,
): Promise<Array<{ id: string; subscriber_id: string; code: string; open: boolean }>> {
  const r = await h.raw<{ rows: Array<{ id: string; subscriber_id: string; code: string; open: boolean }> }>(
    `WITH locked AS (
       SELECT id FROM vouchers WHERE tenant_id = :tenant AND batch_id = :batch AND revoked_at IS NULL ORDER BY id FOR UPDATE
     ), v AS (
       UPDATE vouchers vo SET revoked_at = :at, revoked_reason = :reason FROM locked WHERE vo.id = locked.id
       RETURNING vo.id, vo.subscriber_id, vo.code
     ), s AS (
       UPDATE subscribers su SET status = 'suspended', suspended_reason = 'voucher revoked', updated_at = :at
       FROM v WHERE su.tenant_id = :tenant AND su.id = v.subscriber_id
     )
     SELECT v.id, v.subscriber_id, v.code,
            EXISTS (SELECT 1 FROM radacct a WHERE a.tenant_id = :tenant AND a.username = v.code AND a.acctstoptime IS NULL) AS open
       FROM v`,
    { tenant: tenantId, batch: batchId, at, reason },
  );
  return r.rows;
}

export async function voucherDevices(
  h: Handle,
  voucherId: string,
): Promise<Array<{ mac_address: string; bound_at: Date }>> {
  return h('voucher_devices').where({ voucher_id: voucherId }).orderBy('bound_at').select('mac_address', 'bound_at');
}

export interface UsageRow {
  sessions: string;
  open_sessions: string;
  input_bytes: string;
  output_bytes: string;
  session_seconds: string;
  last_seen_at: Date | null;
}

/** Accounting of the voucher's username in the tenant (radacct_tenant_open_user_idx and friends). */
export async function voucherUsage(h: Handle, tenantId: string, code: string): Promise<UsageRow> {
  const r = await h.raw<{ rows: UsageRow[] }>(
    `SELECT count(*) AS sessions,
            count(*) FILTER (WHERE a.acctstoptime IS NULL) AS open_sessions,
            coalesce(sum(a.acctinputoctets), 0) AS input_bytes,
            coalesce(sum(a.acctoutputoctets), 0) AS output_bytes,
            coalesce(sum(a.acctsessiontime), 0) AS session_seconds,
            max(greatest(a.acctupdatetime, a.acctstoptime, a.acctstarttime)) AS last_seen_at
       FROM radacct a WHERE a.tenant_id = ? AND a.username = ?`,
    [tenantId, code],
  );
  return r.rows[0]!;
}

/** What a printed voucher shows of its tenant (and the slug of its portal URL). */
export async function tenantInfo(
  h: Handle,
  tenantId: string,
): Promise<{ slug: string; name: string; currency: string; time_zone: string } | undefined> {
  return h('tenants').where({ id: tenantId }).first('slug', 'name', 'currency', 'time_zone');
}

/**
 * New one-time login tokens (their SHA-256) for these vouchers; the unused ones of an earlier
 * print of the same vouchers stop working (a lost sheet is not a live key).
 */
export async function replaceLoginTokens(
  h: Handle,
  tenantId: string,
  tokens: Array<{ voucherId: string; hash: Buffer }>,
): Promise<void> {
  if (tokens.length === 0) return;
  await h.raw(
    `DELETE FROM voucher_login_tokens WHERE tenant_id = ? AND used_at IS NULL AND voucher_id = ANY(?::uuid[])`,
    [tenantId, tokens.map((t) => t.voucherId)],
  );
  await h.raw(
    `INSERT INTO voucher_login_tokens (token_hash, tenant_id, voucher_id, created_at)
     SELECT t.h, ?, t.v, ? FROM unnest(?::bytea[], ?::uuid[]) AS t(h, v)`,
    [tenantId, new Date(), tokens.map((t) => t.hash), tokens.map((t) => t.voucherId)],
  );
}

/** Uses a token once: the voucher it was printed for, or nothing (unknown, used, foreign tenant). */
export async function useLoginToken(h: Handle, tenantId: string, hash: Buffer, at: Date): Promise<string | undefined> {
  const r = await h.raw<{ rows: Array<{ voucher_id: string }> }>(
    `UPDATE voucher_login_tokens SET used_at = ? WHERE token_hash = ? AND tenant_id = ? AND used_at IS NULL RETURNING voucher_id`,
    [at, hash, tenantId],
  );
  return r.rows[0]?.voucher_id;
}

/** The voucher with this code (exact, already normalised), with its status (the portal's code entry). */
export async function findVoucherByCode(
  h: Handle,
  tenantId: string,
  code: string,
  now: Date,
): Promise<VoucherRow | undefined> {
  return voucherSelect(h, now).where('v.tenant_id', tenantId).andWhere('v.code', code).first();
}
