/**
 * Plans: the list, a new plan, a plan's edit form, delete (PlansService, as /api/v1/plans).
 * Prices are typed in the tenant's currency (stored in minor units), durations in minutes,
 * hours or days, data in MB or GB. Operators see; tenant admins change.
 */
import type { Request, Response, Router } from 'express';
import { CreatePlan, PlanPatch, type PlanView } from '../../../modules/plans/plans.schemas';
import { html, type SafeHtml } from '../../html';
import {
  checkbox,
  checked,
  defined,
  field,
  formMessage,
  formSchema,
  int,
  attempt,
  scaled,
  select,
  typed,
  type FieldErrors,
  type Typed,
} from '../form-input';
import {
  bytes,
  done,
  duration,
  formStyles,
  idOf,
  money,
  mustAdmin,
  serveFormStyles,
  staffOf,
  type Staff,
} from './common';
import { table, type DashboardContext } from '../layout';

const BASE = '/dashboard/plans';
const NAMES = ['name', 'price', 'duration', 'durationUnit', 'quota', 'quotaUnit', 'rateLimit', 'simultaneousUse'];
const UNITS = { minutes: 60, hours: 3600, days: 86400 } as const;
const DATA = { MB: 1024 ** 2, GB: 1024 ** 3 } as const;
const DONE = { created: 'Plan created.', saved: 'Plan saved.', deleted: 'Plan deleted.' };

const MESSAGES = {
  price: 'enter an amount, 0 or more',
  durationSeconds: 'enter a whole number of at least 1 minute',
  dataQuotaBytes: 'enter an amount, or leave empty for unlimited',
  simultaneousUse: 'enter a whole number from 1 to 1000',
  rateLimit: 'like 2M/5M (upload/download)',
};
const checkCreate = formSchema<CreatePlan>(CreatePlan, MESSAGES);
const checkPatch = formSchema<PlanPatch>(PlanPatch, MESSAGES);

/** The form's fields as they are stored; the errors carry the form's names (duration, quota). */
function toBody(t: Typed, body: unknown): Record<string, unknown> {
  const unit = UNITS[t.durationUnit as keyof typeof UNITS] ?? 60;
  const dataUnit = DATA[t.quotaUnit as keyof typeof DATA] ?? DATA.GB;
  const dur = int(t.duration!);
  return defined({
    name: t.name,
    price: scaled(t.price || '0', 100),
    durationSeconds: typeof dur === 'number' ? dur * unit : dur,
    dataQuotaBytes: t.quota ? scaled(t.quota, dataUnit) : null,
    rateLimit: t.rateLimit || null,
    simultaneousUse: int(t.simultaneousUse || '1'),
    active: checked(body, 'active'),
    sellable: checked(body, 'sellable'),
  });
}

/** Schema field names back to the form's. */
function formErrors(e: FieldErrors): FieldErrors {
  const rename: Record<string, string> = { durationSeconds: 'duration', dataQuotaBytes: 'quota' };
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [rename[k] ?? k, v]));
}

function typedOf(p: PlanView): Typed & { active: string; sellable: string } {
  const unit = p.durationSeconds % 86400 === 0 ? 'days' : p.durationSeconds % 3600 === 0 ? 'hours' : 'minutes';
  const gb = p.dataQuotaBytes !== null && p.dataQuotaBytes % DATA.GB === 0;
  return {
    name: p.name,
    price: String(p.price / 100),
    duration: String(p.durationSeconds / UNITS[unit]),
    durationUnit: unit,
    quota: p.dataQuotaBytes === null ? '' : String(Number((p.dataQuotaBytes / (gb ? DATA.GB : DATA.MB)).toFixed(3))),
    quotaUnit: gb || p.dataQuotaBytes === null ? 'GB' : 'MB',
    rateLimit: p.rateLimit ?? '',
    simultaneousUse: String(p.simultaneousUse),
    active: p.active ? 'on' : '',
    sellable: p.sellable ? 'on' : '',
  };
}

export function planForm(
  st: Staff,
  csrf: SafeHtml,
  o: {
    action: string;
    submit: string;
    values: Typed;
    on: { active: boolean; sellable: boolean };
    errors: FieldErrors;
    message?: string;
  },
): SafeHtml {
  const v = o.values;
  const e = o.errors;
  return html`<form method="post" action="${o.action}" class="form">${csrf}${formMessage(o.message, e)}
${field('Name', 'name', v.name ?? '', e, { required: true })}
${field(`Price (${st.tenant.currency})`, 'price', v.price ?? '', e, { inputmode: 'decimal', placeholder: '50' })}
<div class="row">${field('Duration', 'duration', v.duration ?? '', e, { inputmode: 'numeric', required: true })}
${select(
  'Unit',
  'durationUnit',
  v.durationUnit || 'days',
  [
    ['minutes', 'minutes'],
    ['hours', 'hours'],
    ['days', 'days'],
  ],
  e,
)}</div>
<div class="row">${field('Data allowance (empty: unlimited)', 'quota', v.quota ?? '', e, { inputmode: 'decimal' })}
${select(
  'Unit',
  'quotaUnit',
  v.quotaUnit || 'GB',
  [
    ['MB', 'MB'],
    ['GB', 'GB'],
  ],
  e,
)}</div>
${field('Speed (upload/download)', 'rateLimit', v.rateLimit ?? '', e, { placeholder: '2M/5M' })}
${field('Devices at once', 'simultaneousUse', v.simultaneousUse || '1', e, { inputmode: 'numeric' })}
${checkbox('On sale (active)', 'active', o.on.active)}
${checkbox('Sold on the captive portal', 'sellable', o.on.sellable)}
<p><button type="submit">${o.submit}</button></p></form>`;
}

export function plansList(st: Staff, plans: readonly PlanView[]): SafeHtml {
  return table(
    ['Name', 'Price', 'Duration', 'Data', 'Speed', 'Status'],
    plans.map(
      (p) =>
        html`<tr><td><a href="${BASE}/${p.id}">${p.name}</a></td><td>${money(st, p.price)}</td><td>${duration(p.durationSeconds)}</td><td>${bytes(p.dataQuotaBytes)}</td><td>${p.rateLimit ?? 'plan default'}</td><td>${p.active ? (p.sellable ? 'on sale, portal' : 'on sale') : 'retired'}</td></tr>`,
    ),
    'No plans yet.',
  );
}

export function registerPlansPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);

  async function listPage(
    req: Request,
    res: Response,
    st: Staff,
    form: {
      values: Typed;
      on: { active: boolean; sellable: boolean };
      errors: FieldErrors;
      message?: string;
      status?: number;
    },
  ) {
    const plans = await s.plans.list(st.tenantId, { limit: 200, offset: 0 });
    ctx.render(req, res, {
      nav: 'plans',
      title: 'Plans',
      status: form.status ?? 200,
      body: html`${formStyles}${plansList(st, plans.data)}
${st.admin ? html`<h2>New plan</h2>${planForm(st, st.csrf, { action: BASE, submit: 'Create plan', ...form })}` : ''}`,
    });
  }

  r.get('/plans', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await listPage(req, res, st, { values: {}, on: { active: true, sellable: true }, errors: {} });
  });

  r.post('/plans', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, NAMES);
    const on = { active: checked(req.body, 'active'), sellable: checked(req.body, 'sellable') };
    const c = checkCreate(toBody(t, req.body));
    if (!c.ok) return listPage(req, res, st, { values: t, on, errors: formErrors(c.errors), status: 400 });
    const why = await attempt(() => s.plans.create(st.actor, st.tenantId, c.body));
    if (why)
      return listPage(req, res, st, {
        values: t,
        on,
        errors: formErrors(why.errors),
        message: why.message,
        status: why.status,
      });
    done(ctx, req, res, BASE, DONE['created']);
  });

  async function editPage(
    req: Request,
    res: Response,
    st: Staff,
    plan: PlanView,
    form?: {
      values: Typed;
      on: { active: boolean; sellable: boolean };
      errors: FieldErrors;
      message?: string;
      status?: number;
    },
  ) {
    const v = typedOf(plan);
    const f = form ?? { values: v, on: { active: plan.active, sellable: plan.sellable }, errors: {} };
    const csrf = st.csrf;
    ctx.render(req, res, {
      nav: 'plans',
      title: plan.name,
      status: form?.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Plans</a></p>
<p>${money(st, plan.price)} · ${duration(plan.durationSeconds)} · ${bytes(plan.dataQuotaBytes)} · ${plan.rateLimit ?? 'no speed limit'} · FreeRADIUS group <code>${plan.groupname}</code></p>
${
  st.admin
    ? html`<h2>Change</h2><p><small>A new speed applies at the next login; a new allowance applies to new periods.</small></p>
${planForm(st, csrf, { action: `${BASE}/${plan.id}`, submit: 'Save', ...f })}
<form method="post" action="${BASE}/${plan.id}/delete" class="form">${csrf}<p>Delete this plan (only when no one uses it; else take it off sale).</p><p><button type="submit" class="danger">Delete plan</button></p></form>`
    : ''
}`,
    });
  }

  r.get('/plans/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await editPage(req, res, st, await s.plans.get(st.tenantId, idOf(req)));
  });

  r.post('/plans/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const plan = await s.plans.get(st.tenantId, idOf(req));
    const t = typed(req.body, NAMES);
    const on = { active: checked(req.body, 'active'), sellable: checked(req.body, 'sellable') };
    const c = checkPatch(toBody(t, req.body));
    if (!c.ok) return editPage(req, res, st, plan, { values: t, on, errors: formErrors(c.errors), status: 400 });
    const why = await attempt(() => s.plans.update(st.actor, st.tenantId, plan.id, c.body));
    if (why)
      return editPage(req, res, st, plan, {
        values: t,
        on,
        errors: formErrors(why.errors),
        message: why.message,
        status: why.status,
      });
    done(ctx, req, res, `${BASE}/${plan.id}`, DONE['saved']);
  });

  r.post('/plans/:id/delete', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const plan = await s.plans.get(st.tenantId, idOf(req));
    const why = await attempt(() => s.plans.remove(st.actor, st.tenantId, plan.id));
    if (why)
      return editPage(req, res, st, plan, {
        values: typedOf(plan),
        on: { active: plan.active, sellable: plan.sellable },
        errors: {},
        message: why.message,
        status: why.status,
      });
    done(ctx, req, res, BASE, DONE['deleted']);
  });
}
