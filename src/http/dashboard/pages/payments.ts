/**
 * Payments: the list with filters (state, channel, allocation, phone, days in the tenant's time
 * zone), and the queue of unallocated money (credited, matching no subscriber or plan), each
 * with an assign form: the subscriber's username and, optionally, the plan it buys
 * (PaymentsService.assign, as POST /api/v1/payments/:id/assign: any staff).
 */
import type { Request, Response, Router } from 'express';
import { AppError } from '../../../lib/errors';
import { parsePhone } from '../../../mpesa/phone';
import { PaymentQuery, type PaymentView } from '../../../modules/payments/payments.schemas';
import type { PlanView } from '../../../modules/plans/plans.schemas';
import { html, type SafeHtml } from '../../html';
import { compileQuery } from '../../validation';
import { fieldErrors, refusal, select, typed, type FieldErrors } from '../form-input';
import { done, formStyles, idOf, money, pager, serveFormStyles, staffOf, type Staff, when } from './common';
import { table, type DashboardContext } from '../layout';

const BASE = '/dashboard/payments';
const DONE = { assigned: 'Assigned: the subscriber has the plan.' };
const checkQuery = compileQuery(PaymentQuery);

/** The instant a day (YYYY-MM-DD) begins in a time zone. */
export function dayStart(timeZone: string, day: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(guess) || new Date(guess).toISOString().slice(0, 10) !== day) return undefined;
  // The zone's offset at that moment (twice: the offset may change on that day).
  const offsetAt = (t: number) => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(new Date(t));
    const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
    return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - t;
  };
  const first = guess - offsetAt(guess);
  return new Date(guess - offsetAt(first));
}

/** The list's filters from the query string, as PaymentQuery takes them, or the field errors. */
function filters(st: Staff, req: Request): { query: PaymentQuery; errors: FieldErrors } {
  const t = typed(req.query, ['state', 'channel', 'allocation', 'phone', 'from', 'to', 'offset']);
  const errors: FieldErrors = {};
  const q: Record<string, unknown> = {};
  for (const n of ['state', 'channel', 'allocation', 'offset'] as const) if (t[n]) q[n] = t[n];
  if (t.phone) {
    const p = parsePhone(t.phone);
    if (p.ok) q.phone = p.msisdn;
    else errors.phone = p.message;
  }
  for (const [n, plus] of [
    ['from', 0],
    ['to', 1],
  ] as const) {
    if (!t[n]) continue;
    const d = dayStart(st.tenant.timeZone, t[n]!);
    if (!d) errors[n] = 'a day, YYYY-MM-DD';
    // "to" is the whole day: up to the start of the next one.
    else q[n] = (plus ? (dayStart(st.tenant.timeZone, nextDay(t[n]!)) ?? d) : d).toISOString();
  }
  if (Object.keys(errors).length === 0 && !checkQuery(q)) Object.assign(errors, fieldErrors(checkQuery.errors));
  return Object.keys(errors).length
    ? { query: { limit: 50, offset: 0 }, errors }
    : { query: q as PaymentQuery, errors };
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
}

const STATES: Array<[string, string]> = [
  ['', 'any'],
  ...['pending', 'completed', 'failed', 'cancelled', 'expired'].map((x): [string, string] => [x, x]),
];
const CHANNELS: Array<[string, string]> = [
  ['', 'any'],
  ['stk', 'STK push'],
  ['c2b', 'paybill/till (C2B)'],
  ['manual', 'manual'],
];
const ALLOCATIONS: Array<[string, string]> = [
  ['', 'any'],
  ...['allocated', 'unallocated', 'refunded'].map((x): [string, string] => [x, x]),
];

export function paymentsList(st: Staff, rows: readonly PaymentView[]): SafeHtml {
  return table(
    ['When', 'Amount', 'Channel', 'State', 'Allocation', 'Phone', 'Account ref', 'Receipt'],
    rows.map(
      (p) =>
        html`<tr><td>${when(st, p.transactionTime ?? p.createdAt)}</td><td>${money(st, p.amount)}</td><td>${p.channel}</td><td>${p.state}</td><td>${p.allocation ?? ''}${p.unallocatedReason ? html` (${p.unallocatedReason.replace(/_/g, ' ')})` : ''}</td><td>${p.phone ?? ''}</td><td>${p.accountRef ?? ''}</td><td>${p.mpesaReceipt ?? ''}</td></tr>`,
    ),
    'No payments match.',
  );
}

export function registerPaymentsPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);

  r.get('/payments', async (req, res) => {
    const st = staffOf(ctx, req, res);
    const { query, errors } = filters(st, req);
    const list = await s.payments.list(st.tenantId, query);
    const v = typed(req.query, ['state', 'channel', 'allocation', 'phone', 'from', 'to']);
    const err = (n: string) => (errors[n] ? html`<span class="error">${errors[n]}</span>` : '');
    ctx.render(req, res, {
      nav: 'payments',
      title: 'Payments',
      status: Object.keys(errors).length ? 400 : 200,
      body: html`${formStyles}<p><a href="${BASE}/unallocated">Unallocated money</a></p>
<form method="get" action="${BASE}" class="filters">
${select('State', 'state', v.state!, STATES, errors)}${select('Channel', 'channel', v.channel!, CHANNELS, errors)}${select('Allocation', 'allocation', v.allocation!, ALLOCATIONS, errors)}
<p><label for="phone">Phone</label><input id="phone" name="phone" type="tel" value="${v.phone}">${err('phone')}</p>
<p><label for="from">From (day)</label><input id="from" name="from" type="date" value="${v.from}">${err('from')}</p>
<p><label for="to">To (day)</label><input id="to" name="to" type="date" value="${v.to}">${err('to')}</p>
<p><button type="submit">Filter</button></p></form>
${Object.keys(errors).length ? html`<p class="error" role="alert">Some filters were not understood (marked above); showing the latest payments.</p>` : ''}
${paymentsList(st, list.data)}${pager(req, list.page)}`,
    });
  });

  async function queuePage(
    req: Request,
    res: Response,
    st: Staff,
    o: { failed?: { id: string; message: string; username: string }; status?: number } = {},
  ) {
    const offset = Number(typed(req.query, ['offset']).offset) || 0;
    const [list, plans] = await Promise.all([
      s.payments.list(st.tenantId, {
        allocation: 'unallocated',
        limit: 50,
        offset: Math.min(Math.max(0, offset), 10000000),
      }),
      s.plans.list(st.tenantId, { limit: 200, offset: 0, active: true }),
    ]);
    const csrf = st.csrf;
    const planOptions: Array<[string, string]> = [
      ['', "the subscriber's plan"],
      ...plans.data.map((p: PlanView): [string, string] => [p.id, `${p.name} (${money(st, p.price)})`]),
    ];
    ctx.render(req, res, {
      nav: 'payments',
      title: 'Unallocated money',
      status: o.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Payments</a></p>
<p>Money credited that bought nothing yet: give it to a subscriber, and it buys the plan.</p>
${
  list.data.length === 0
    ? html`<p class="empty">Nothing waiting.</p>`
    : list.data.map(
        (
          p,
        ) => html`<section class="item" id="p-${p.id}"><p><b>${money(st, p.amount)}</b> · ${p.channel} · ${when(st, p.transactionTime ?? p.createdAt)}<br>
phone ${p.phone ?? 'hidden'} · account ref "${p.accountRef ?? ''}" · receipt ${p.mpesaReceipt ?? ''}<br>why: ${(p.unallocatedReason ?? '').replace(/_/g, ' ')}</p>
${o.failed?.id === p.id ? html`<p class="error" role="alert">${o.failed.message}</p>` : ''}
<form method="post" action="${BASE}/${p.id}/assign">${csrf}
<p><label for="u-${p.id}">Subscriber (username)</label><input id="u-${p.id}" name="username" required value="${o.failed?.id === p.id ? o.failed.username : ''}"></p>
<p><label for="pl-${p.id}">Plan</label><select id="pl-${p.id}" name="planId">${planOptions.map(([v, t]) => html`<option value="${v}">${t}</option>`)}</select></p>
<p><button type="submit">Assign</button></p></form></section>`,
      )
}${pager(req, list.page)}`,
    });
  }

  r.get('/payments/unallocated', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await queuePage(req, res, st);
  });

  r.post('/payments/:id/assign', async (req, res) => {
    const st = staffOf(ctx, req, res);
    const id = idOf(req);
    const t = typed(req.body, ['username', 'planId']);
    try {
      if (!t.username) throw new AppError('VALIDATION_FAILED', 'type the username of the subscriber it belongs to');
      const found = await s.subscribers.list(st.tenantId, { q: t.username.slice(0, 100), limit: 200, offset: 0 });
      const sub = found.data.find((x) => x.username === t.username);
      if (!sub) throw new AppError('SUBSCRIBER_NOT_FOUND', `no subscriber is called "${t.username}"`);
      if (t.planId && !/^[0-9a-f-]{36}$/i.test(t.planId))
        throw new AppError('VALIDATION_FAILED', 'pick a plan from the list');
      await s.payments.assign(st.actor, st.tenantId, id, {
        subscriberId: sub.id,
        ...(t.planId ? { planId: t.planId } : {}),
      });
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return queuePage(req, res, st, {
        failed: { id, message: why.message, username: t.username! },
        status: why.status,
      });
    }
    done(ctx, req, res, `${BASE}/unallocated`, DONE['assigned']);
  });
}
