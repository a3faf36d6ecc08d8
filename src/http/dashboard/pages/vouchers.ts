/**
 * Vouchers: the batches, generating a batch (tenant admins), a batch's page (its vouchers and
 * their state, revoke), and its print sheet (VouchersService.print: each print issues new login
 * tokens, so it is a POST). The sheet opens in the browser to print; its own inline style is
 * allowed by hash and nothing else.
 */
import { createHash } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import {
  CreateBatch,
  PrintQuery,
  Revoke,
  VOUCHER_STATUSES,
  type BatchView,
  type VoucherView,
} from '../../../modules/vouchers/vouchers.schemas';
import { html, type SafeHtml } from '../../html';
import {
  defined,
  field,
  formMessage,
  formSchema,
  int,
  orRefuse,
  refusal,
  scaled,
  select,
  typed,
  type FieldErrors,
  type Typed,
} from '../form-input';
import { dayStart } from './payments';
import {
  bytes,
  done,
  duration,
  formStyles,
  idOf,
  money,
  mustAdmin,
  pager,
  serveFormStyles,
  staffOf,
  type Staff,
  when,
} from './common';
import { table, type DashboardContext } from '../layout';

const BASE = '/dashboard/vouchers';
const NAMES = ['planId', 'quantity', 'alphabet', 'deviceLimit', 'price', 'expiresOn', 'note'];
const DONE = {
  created: 'Batch generated: print its sheet below.',
  revoked: 'Batch revoked: its vouchers no longer log in.',
  voucherRevoked: 'Voucher revoked: it no longer logs in and its live sessions are disconnected.',
};
const checkCreate = formSchema<CreateBatch>(CreateBatch, {
  quantity: 'a whole number from 1 to 10000',
  deviceLimit: 'a whole number from 1 to 100',
  price: 'an amount, or empty for the plan’s price',
  planId: 'pick a plan',
});
const checkPrint = formSchema<PrintQuery>(PrintQuery);
const checkRevoke = formSchema<Revoke>(Revoke, { reason: 'at most 200 characters, on one line' });

/** The print sheet's CSP: its one inline style, by hash; no script, no request anywhere. */
export function sheetPolicy(sheet: string): string {
  const css = /<style>([\s\S]*?)<\/style>/.exec(sheet)?.[1] ?? '';
  const hash = createHash('sha256').update(css).digest('base64');
  return `default-src 'none'; style-src 'sha256-${hash}'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`;
}

export function batchesList(st: Staff, rows: readonly BatchView[]): SafeHtml {
  return table(
    ['Created', 'Plan', 'Vouchers', 'Price', 'Use by', 'Note'],
    rows.map(
      (b) =>
        html`<tr><td><a href="${BASE}/batches/${b.id}">${when(st, b.createdAt)}</a></td><td>${b.planName}</td><td>${b.quantity}</td><td>${money(st, b.price)}</td><td>${b.expiresAt ? when(st, b.expiresAt) : ''}</td><td>${b.note ?? ''}</td></tr>`,
    ),
    'No batches yet.',
  );
}

export function registerVouchersPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);

  async function listPage(
    req: Request,
    res: Response,
    st: Staff,
    form: { values: Typed; errors: FieldErrors; message?: string; status?: number },
  ) {
    const offset = Math.min(Math.max(0, Number(typed(req.query, ['offset']).offset) || 0), 10000000);
    const [batches, plans] = await Promise.all([
      s.vouchers.listBatches(st.tenantId, { limit: 50, offset }),
      s.plans.list(st.tenantId, { limit: 200, offset: 0, active: true }),
    ]);
    const v = form.values;
    const e = form.errors;
    ctx.render(req, res, {
      nav: 'vouchers',
      title: 'Vouchers',
      status: form.status ?? 200,
      body: html`${formStyles}${batchesList(st, batches.data)}${pager(req, batches.page)}
${
  st.admin
    ? html`<h2>Generate a batch</h2><form method="post" action="${BASE}/batches" class="form">${st.csrf}${formMessage(form.message, e)}
${select(
  'Plan',
  'planId',
  v.planId ?? '',
  [['', 'pick a plan'], ...plans.data.map((p): [string, string] => [p.id, `${p.name} (${money(st, p.price)})`])],
  e,
)}
${field('How many', 'quantity', v.quantity ?? '', e, { inputmode: 'numeric', required: true })}
${select(
  'Codes',
  'alphabet',
  v.alphabet || 'alphanumeric',
  [
    ['alphanumeric', 'letters and digits'],
    ['numeric', 'digits only'],
  ],
  e,
)}
${field('Devices per voucher', 'deviceLimit', v.deviceLimit || '1', e, { inputmode: 'numeric' })}
${field(`Price (${st.tenant.currency}; empty: the plan's)`, 'price', v.price ?? '', e, { inputmode: 'decimal' })}
${field('Use by (empty: no limit)', 'expiresOn', v.expiresOn ?? '', e, { type: 'date' })}
${field('Note (who sells it)', 'note', v.note ?? '', e)}
<p><button type="submit">Generate</button></p></form>`
    : ''
}`,
    });
  }

  r.get('/vouchers', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await listPage(req, res, st, { values: {}, errors: {} });
  });

  r.post('/vouchers/batches', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, NAMES);
    let expiresAt: string | undefined;
    if (t.expiresOn) {
      // Usable through the whole of that day in the tenant's time zone.
      const next = dayStart(
        st.tenant.timeZone,
        new Date(Date.parse(`${t.expiresOn}T00:00:00Z`) + 86400000).toISOString().slice(0, 10),
      );
      if (!dayStart(st.tenant.timeZone, t.expiresOn) || !next)
        return listPage(req, res, st, { values: t, errors: { expiresOn: 'a day, YYYY-MM-DD' }, status: 400 });
      expiresAt = next.toISOString();
    }
    const c = checkCreate(
      defined({
        planId: t.planId,
        quantity: int(t.quantity!),
        alphabet: t.alphabet || undefined,
        deviceLimit: t.deviceLimit ? int(t.deviceLimit) : undefined,
        price: t.price ? scaled(t.price, 100) : undefined,
        expiresAt,
        note: t.note || undefined,
      }),
    );
    if (!c.ok) return listPage(req, res, st, { values: t, errors: c.errors, status: 400 });
    let batchId: string;
    try {
      batchId = (await s.vouchers.createBatch(st.actor, st.tenantId, c.body)).batch.id;
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return listPage(req, res, st, { values: t, ...why });
    }
    done(ctx, req, res, `${BASE}/batches/${batchId}`, DONE['created']);
  });

  async function batchPage(
    req: Request,
    res: Response,
    st: Staff,
    batch: BatchView,
    o: { message?: string; status?: number } = {},
  ) {
    const status = typed(req.query, ['status']).status;
    const wanted = (VOUCHER_STATUSES as readonly string[]).includes(status!)
      ? (status as VoucherView['status'])
      : undefined;
    const offset = Math.min(Math.max(0, Number(typed(req.query, ['offset']).offset) || 0), 10000000);
    const vouchers = await s.vouchers.list(st.tenantId, {
      batchId: batch.id,
      limit: 100,
      offset,
      ...(wanted ? { status: wanted } : {}),
    });
    const csrf = st.csrf;
    ctx.render(req, res, {
      nav: 'vouchers',
      title: `Vouchers: ${batch.planName}`,
      status: o.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Vouchers</a></p>${formMessage(o.message, {})}
<table class="facts"><tr><th>Allowance</th><td>${duration(batch.durationSeconds)} · ${bytes(batch.dataQuotaBytes)}</td></tr>
<tr><th>Price</th><td>${money(st, batch.price)}</td></tr><tr><th>Devices per voucher</th><td>${batch.deviceLimit}</td></tr>
<tr><th>Use by</th><td>${batch.expiresAt ? when(st, batch.expiresAt) : 'no limit'}</td></tr>
<tr><th>Created</th><td>${when(st, batch.createdAt)}</td></tr><tr><th>Note</th><td>${batch.note ?? ''}</td></tr></table>
<h2>Print</h2><form method="post" action="${BASE}/batches/${batch.id}/print" class="form">${csrf}
${select(
  'Paper',
  'layout',
  'a4',
  [
    ['a4', 'A4 sheet (grid of cards)'],
    ['thermal', '58 mm receipt printer'],
  ],
  {},
)}
${select(
  'Which',
  'which',
  'unused',
  [
    ['unused', 'unused vouchers'],
    ['all', 'all but revoked'],
  ],
  {},
)}
${select(
  'As',
  'format',
  'html',
  [
    ['html', 'page to print'],
    ['pdf', 'PDF file'],
  ],
  {},
)}
<p><small>Each print makes new QR login links; links of an earlier print stop working.</small></p>
<p><button type="submit">Open print sheet</button></p></form>
<p><a href="${BASE}/batches/${batch.id}/vouchers.csv">Download the codes (CSV)</a></p>
<h2>Vouchers</h2><form method="get" action="${BASE}/batches/${batch.id}" class="filters">${select(
        'Status',
        'status',
        wanted ?? '',
        [['', 'any'], ...VOUCHER_STATUSES.map((x): [string, string] => [x, x])],
        {},
      )}<p><button type="submit">Show</button></p></form>
${table(
  ['Code', 'Status', 'Devices', 'First login', 'Valid until', ...(st.admin ? [''] : [])],
  vouchers.data.map(
    (v) =>
      html`<tr><td><code>${v.code}</code></td><td>${v.status}</td><td>${v.devicesBound}/${v.deviceLimit}</td><td>${when(st, v.activatedAt)}</td><td>${when(st, v.validUntil)}</td>${
        st.admin
          ? html`<td>${
              v.status === 'revoked'
                ? ''
                : html`<form method="post" action="${BASE}/${v.id}/revoke">${csrf}<button type="submit" class="danger" aria-label="Revoke ${v.code}">Revoke</button></form>`
            }</td>`
          : ''
      }</tr>`,
  ),
  'No vouchers in this state.',
)}${pager(req, vouchers.page)}
${
  st.admin
    ? html`<h2>Revoke</h2><form method="post" action="${BASE}/batches/${batch.id}/revoke" class="form">${csrf}
<p>Lost or stolen: every voucher of the batch stops working and live sessions are disconnected.</p>
<p><label for="reason">Reason</label><input id="reason" name="reason" maxlength="200"></p>
<p><button type="submit" class="danger">Revoke the batch</button></p></form>`
    : ''
}`,
    });
  }

  r.get('/vouchers/batches/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await batchPage(req, res, st, await s.vouchers.getBatch(st.tenantId, idOf(req)));
  });

  r.post('/vouchers/batches/:id/print', async (req, res) => {
    const st = staffOf(ctx, req, res);
    const batch = await s.vouchers.getBatch(st.tenantId, idOf(req));
    const t = typed(req.body, ['layout', 'which', 'format']);
    let out;
    try {
      const q = orRefuse(
        checkPrint(
          defined({ layout: t.layout || undefined, which: t.which || undefined, format: t.format || undefined }),
        ),
      );
      out = await s.vouchers.print(st.actor, st.tenantId, batch.id, q);
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return batchPage(req, res, st, batch, why);
    }
    res.status(200).type(out.contentType).set('Cache-Control', 'no-store');
    if (out.contentType.startsWith('text/html')) {
      res.set('Content-Security-Policy', sheetPolicy(String(out.body)));
      res.set('Content-Disposition', `inline; filename="${out.filename}"`);
    } else res.set('Content-Disposition', `attachment; filename="${out.filename}"`);
    res.send(out.body);
  });

  r.get('/vouchers/batches/:id/vouchers.csv', async (req, res) => {
    const st = staffOf(ctx, req, res);
    const out = await s.vouchers.csv(st.tenantId, idOf(req));
    res
      .status(200)
      .type(out.contentType)
      .set('Cache-Control', 'no-store')
      .set('Content-Disposition', `attachment; filename="${out.filename}"`)
      .send(out.body);
  });

  r.post('/vouchers/batches/:id/revoke', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const batch = await s.vouchers.getBatch(st.tenantId, idOf(req));
    const reason = typed(req.body, ['reason']).reason;
    try {
      const body = orRefuse(checkRevoke(defined({ reason: reason || undefined })));
      await s.vouchers.revokeBatch(st.actor, st.tenantId, batch.id, body.reason);
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return batchPage(req, res, st, batch, why);
    }
    done(ctx, req, res, `${BASE}/batches/${batch.id}`, DONE['revoked']);
  });

  // One voucher (lost, refunded, misused): the service disconnects its live sessions too.
  r.post('/vouchers/:id/revoke', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const v = await s.vouchers.revoke(st.actor, st.tenantId, idOf(req));
    done(ctx, req, res, `${BASE}/batches/${v.batchId}`, DONE['voucherRevoked']);
  });
}
