/**
 * Subscribers: search and list, a new subscriber (with a plan started at once or not), a
 * subscriber's page: profile, suspend/activate (any staff, as the API), renew, change plan,
 * new password, delete (tenant admins), and their subscription periods. Passwords are never
 * shown again, nor kept in a form shown back.
 */
import type { Request, Response, Router } from 'express';
import {
  ChangePlan,
  CreateSubscriber,
  ResetPassword,
  SubscriberPatch,
  SubscriberQuery,
  Suspend,
  type SubscriberView,
} from '../../../modules/subscribers/subscribers.schemas';
import type { PlanView } from '../../../modules/plans/plans.schemas';
import { html, type SafeHtml } from '../../html';
import { compileQuery } from '../../validation';
import {
  checkbox,
  checked,
  defined,
  field,
  formMessage,
  formSchema,
  orRefuse,
  raw,
  attempt,
  refusal,
  select,
  typed,
  type FieldErrors,
  type Typed,
} from '../form-input';
import { done, formStyles, idOf, mustAdmin, pager, serveFormStyles, staffOf, type Staff, when } from './common';
import { table, type DashboardContext } from '../layout';

const BASE = '/dashboard/subscribers';
const CREATE_NAMES = ['username', 'planId', 'fullName', 'phone', 'email'];
const PROFILE_NAMES = ['fullName', 'phone', 'email', 'macAddress', 'staticIp', 'notes'];
const DONE = {
  created: 'Subscriber created.',
  saved: 'Profile saved.',
  suspended: 'Suspended: RADIUS now refuses them, and live sessions are being disconnected.',
  activated: 'Active again.',
  renewed: 'One more period added.',
  'plan-changed': 'Plan changed.',
  password: 'New password set.',
  deleted: 'Subscriber deleted.',
};

const checkCreate = formSchema<CreateSubscriber>(CreateSubscriber, {
  phone: 'digits, like 0712345678 or +254712345678',
  planId: 'pick a plan',
});
const checkProfile = formSchema<SubscriberPatch>(SubscriberPatch, {
  phone: 'digits, like 0712345678 or +254712345678',
  staticIp: 'an IPv4 address, or empty',
});
const checkQuery = compileQuery(SubscriberQuery);

const optional = (v: string | undefined) => (v ? v : undefined);

function planOptions(plans: readonly PlanView[], none: string): Array<[string, string]> {
  return [['', none], ...plans.filter((p) => p.active).map((p): [string, string] => [p.id, p.name])];
}

function statusText(st: Staff, s: SubscriberView): string {
  if (s.status === 'suspended') return 'suspended';
  if (!s.expiresAt) return 'no plan running';
  return new Date(s.expiresAt).getTime() > Date.now()
    ? `until ${when(st, s.expiresAt)}`
    : `expired ${when(st, s.expiresAt)}`;
}

export function subscribersList(st: Staff, rows: readonly SubscriberView[], plans: readonly PlanView[]): SafeHtml {
  const planName = new Map(plans.map((p) => [p.id, p.name]));
  return table(
    ['Username', 'Name', 'Phone', 'Plan', 'Status', 'Account'],
    rows.map(
      (s) =>
        html`<tr><td><a href="${BASE}/${s.id}">${s.username}</a></td><td>${s.fullName ?? ''}</td><td>${s.phone ?? ''}</td><td>${s.planId ? (planName.get(s.planId) ?? '') : ''}</td><td>${statusText(st, s)}</td><td>${s.accountNumber}</td></tr>`,
    ),
    'No subscribers match.',
  );
}

function createForm(
  st: Staff,
  csrf: SafeHtml,
  plans: readonly PlanView[],
  o: { values: Typed; start: boolean; errors: FieldErrors; message?: string },
): SafeHtml {
  const v = o.values;
  const e = o.errors;
  return html`<form method="post" action="${BASE}" class="form">${csrf}${formMessage(o.message, e)}
${field('Username', 'username', v.username ?? '', e, { required: true, autocomplete: 'off' })}
${field('Password', 'password', '', e, { type: 'password', required: true, autocomplete: 'new-password' })}
${select('Plan', 'planId', v.planId ?? '', planOptions(plans, 'none yet'), e)}
${checkbox('Start the plan now', 'startSubscription', o.start)}
${field('Full name', 'fullName', v.fullName ?? '', e, { autocomplete: 'off' })}
${field('Phone (M-Pesa)', 'phone', v.phone ?? '', e, { type: 'tel', inputmode: 'tel' })}
${field('Email', 'email', v.email ?? '', e, { type: 'email' })}
<p><button type="submit">Create subscriber</button></p></form>`;
}

export function registerSubscribersPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);
  const activePlans = async (st: Staff) => (await s.plans.list(st.tenantId, { limit: 200, offset: 0 })).data;

  async function listPage(
    req: Request,
    res: Response,
    st: Staff,
    form: { values: Typed; start: boolean; errors: FieldErrors; message?: string; status?: number },
  ) {
    const q: Record<string, unknown> = {};
    for (const n of ['q', 'status', 'planId', 'offset'] as const) {
      const v = req.query[n];
      if (typeof v === 'string' && v !== '') q[n] = v;
    }
    const queryOk = checkQuery(q);
    const query = queryOk ? (q as SubscriberQuery) : { limit: 50, offset: 0 };
    const [list, plans] = await Promise.all([s.subscribers.list(st.tenantId, query), activePlans(st)]);
    const sv = (n: string) => (typeof req.query[n] === 'string' ? (req.query[n] as string) : '');
    ctx.render(req, res, {
      nav: 'subscribers',
      title: 'Subscribers',
      status: form.status ?? (queryOk ? 200 : 400),
      body: html`${formStyles}
<form method="get" action="${BASE}" class="filters" role="search">
<p><label for="q">Search</label><input id="q" name="q" value="${sv('q')}" placeholder="username, name or phone" type="search"></p>
${select(
  'Status',
  'status',
  sv('status'),
  [
    ['', 'any'],
    ['active', 'active'],
    ['suspended', 'suspended'],
  ],
  {},
  'q',
)}
${select('Plan', 'planId', sv('planId'), planOptions(plans, 'any'), {}, 'q')}
<p><button type="submit">Search</button></p></form>
${queryOk ? '' : html`<p class="error" role="alert">The search was not understood; showing everyone.</p>`}
${subscribersList(st, list.data, plans)}${pager(req, list.page)}
${st.admin ? html`<h2>New subscriber</h2>${createForm(st, st.csrf, plans, form)}` : ''}`,
    });
  }

  r.get('/subscribers', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await listPage(req, res, st, { values: {}, start: true, errors: {} });
  });

  r.post('/subscribers', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, CREATE_NAMES);
    const start = checked(req.body, 'startSubscription');
    const c = checkCreate(
      defined({
        username: t.username,
        password: raw(req.body, 'password'),
        planId: optional(t.planId),
        startSubscription: t.planId ? start : undefined,
        fullName: optional(t.fullName),
        phone: optional(t.phone),
        email: optional(t.email),
      }),
    );
    if (!c.ok) return listPage(req, res, st, { values: t, start, errors: c.errors, status: 400 });
    let created: SubscriberView;
    try {
      created = await s.subscribers.create(st.actor, st.tenantId, c.body);
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return listPage(req, res, st, { values: t, start, errors: why.errors, message: why.message, status: why.status });
    }
    done(ctx, req, res, `${BASE}/${created.id}`, DONE['created']);
  });

  async function detailPage(
    req: Request,
    res: Response,
    st: Staff,
    sub: SubscriberView,
    o: { form?: 'profile' | 'action'; values?: Typed; errors?: FieldErrors; message?: string; status?: number } = {},
  ) {
    const [plans, periods] = await Promise.all([
      activePlans(st),
      s.subscribers.subscriptions(st.tenantId, sub.id, 20, 0),
    ]);
    const csrf = st.csrf;
    const pv: Typed =
      o.form === 'profile' && o.values
        ? o.values
        : {
            fullName: sub.fullName ?? '',
            phone: sub.phone ?? '',
            email: sub.email ?? '',
            macAddress: sub.macAddress ?? '',
            staticIp: sub.staticIp ?? '',
            notes: sub.notes ?? '',
          };
    const pe = o.form === 'profile' ? (o.errors ?? {}) : {};
    const action = (path: string, label: string, extra: SafeHtml | string = '', cls = '') =>
      html`<form method="post" action="${BASE}/${sub.id}/${path}" class="inline">${csrf}${extra}<button type="submit"${cls ? html` class="${cls}"` : ''}>${label}</button></form>`;
    const plan = plans.find((p) => p.id === sub.planId);
    ctx.render(req, res, {
      nav: 'subscribers',
      title: sub.username,
      status: o.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Subscribers</a></p>
${o.form === 'action' ? formMessage(o.message, o.errors ?? {}) : ''}
<table class="facts"><tr><th>Status</th><td>${sub.status}${sub.suspendedReason ? html` (${sub.suspendedReason})` : ''}</td></tr>
<tr><th>Plan</th><td>${plan?.name ?? (sub.planId ? '(retired plan)' : 'none')}</td></tr>
<tr><th>Access until</th><td>${sub.expiresAt ? when(st, sub.expiresAt) : 'no period'}</td></tr>
<tr><th>M-Pesa account number</th><td>${sub.accountNumber}</td></tr></table>
<h2>Actions</h2><div class="actions">
${
  sub.status === 'active'
    ? action(
        'suspend',
        'Suspend',
        html`<label for="reason">Reason</label><input id="reason" name="reason" maxlength="200">`,
      )
    : action('activate', 'Activate')
}
${st.admin && sub.planId ? action('renew', 'Renew one period') : ''}
${
  st.admin
    ? action(
        'change-plan',
        'Change plan',
        select('New plan', 'planId', '', planOptions(plans, 'pick a plan').slice(1), {}),
      )
    : ''
}
${
  st.admin
    ? action(
        'reset-password',
        'Set password',
        html`<label for="pw">New password</label><input id="pw" name="password" type="password" autocomplete="new-password" required>`,
      )
    : ''
}
${st.admin ? action('delete', 'Delete subscriber', '', 'danger') : ''}
</div>
${
  st.admin
    ? html`<h2>Profile</h2><form method="post" action="${BASE}/${sub.id}" class="form">${csrf}${o.form === 'profile' ? formMessage(o.message, pe) : ''}
${field('Full name', 'fullName', pv.fullName ?? '', pe)}
${field('Phone (M-Pesa)', 'phone', pv.phone ?? '', pe, { type: 'tel', inputmode: 'tel' })}
${field('Email', 'email', pv.email ?? '', pe, { type: 'email' })}
${field('Device MAC (empty: any device)', 'macAddress', pv.macAddress ?? '', pe)}
${field('Static IP (empty: from the pool)', 'staticIp', pv.staticIp ?? '', pe)}
${field('Notes', 'notes', pv.notes ?? '', pe)}
<p><button type="submit">Save profile</button></p></form>`
    : html`<h2>Profile</h2><table class="facts"><tr><th>Name</th><td>${sub.fullName ?? ''}</td></tr><tr><th>Phone</th><td>${sub.phone ?? ''}</td></tr><tr><th>Email</th><td>${sub.email ?? ''}</td></tr><tr><th>MAC</th><td>${sub.macAddress ?? ''}</td></tr><tr><th>Static IP</th><td>${sub.staticIp ?? ''}</td></tr></table>`
}
<h2>Periods</h2>${table(
        ['Plan', 'From', 'Until', 'Status', 'How'],
        periods.data.map(
          (p) =>
            html`<tr><td>${p.planName}</td><td>${when(st, p.startsAt)}</td><td>${when(st, p.endsAt)}</td><td>${p.status}</td><td>${p.source}</td></tr>`,
        ),
        'No periods yet.',
      )}`,
    });
  }

  r.get('/subscribers/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await detailPage(req, res, st, await s.subscribers.get(st.tenantId, idOf(req)));
  });

  r.post('/subscribers/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const sub = await s.subscribers.get(st.tenantId, idOf(req));
    const t = typed(req.body, PROFILE_NAMES);
    const c = checkProfile(
      defined({
        fullName: optional(t.fullName),
        phone: optional(t.phone),
        email: optional(t.email),
        macAddress: t.macAddress || null,
        staticIp: t.staticIp || null,
        notes: t.notes,
      }),
    );
    if (!c.ok) return detailPage(req, res, st, sub, { form: 'profile', values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.subscribers.update(st.actor, st.tenantId, sub.id, c.body));
    if (why) return detailPage(req, res, st, sub, { form: 'profile', values: t, ...why });
    done(ctx, req, res, `${BASE}/${sub.id}`, DONE['saved']);
  });

  /** One action of the subscriber's page: its refusal shows on the page, its outcome after the redirect. */
  function act(
    path: string,
    admin: boolean,
    key: keyof typeof DONE,
    run: (st: Staff, sub: SubscriberView, body: unknown) => Promise<unknown>,
  ) {
    r.post(`/subscribers/:id/${path}`, async (req, res) => {
      const st = staffOf(ctx, req, res);
      if (admin) mustAdmin(st);
      const sub = await s.subscribers.get(st.tenantId, idOf(req));
      const why = await attempt(() => run(st, sub, req.body));
      if (why) return detailPage(req, res, st, sub, { form: 'action', ...why });
      done(ctx, req, res, key === 'deleted' ? BASE : `${BASE}/${sub.id}`, DONE[key]);
    });
  }

  act('suspend', false, 'suspended', (st, sub, body) =>
    s.subscribers.setStatus(
      st.actor,
      st.tenantId,
      sub.id,
      'suspended',
      orRefuse(checkSuspend(defined({ reason: optional(typed(body, ['reason']).reason) }))).reason,
    ),
  );
  act('activate', false, 'activated', (st, sub) => s.subscribers.setStatus(st.actor, st.tenantId, sub.id, 'active'));
  act('renew', true, 'renewed', (st, sub) => s.subscribers.renew(st.actor, st.tenantId, sub.id));
  act('change-plan', true, 'plan-changed', (st, sub, body) =>
    s.subscribers.changePlan(
      st.actor,
      st.tenantId,
      sub.id,
      orRefuse(checkChangePlan({ planId: typed(body, ['planId']).planId })).planId,
    ),
  );
  act('reset-password', true, 'password', (st, sub, body) =>
    s.subscribers.resetPassword(
      st.actor,
      st.tenantId,
      sub.id,
      orRefuse(checkPassword({ password: raw(body, 'password') })).password,
    ),
  );
  act('delete', true, 'deleted', (st, sub) => s.subscribers.remove(st.actor, st.tenantId, sub.id));
}

const checkChangePlan = formSchema<{ planId: string }>(ChangePlan, { planId: 'pick the new plan' });
const checkSuspend = formSchema<{ reason?: string }>(Suspend, { reason: 'at most 200 characters, on one line' });
const checkPassword = formSchema<{ password: string }>(ResetPassword, { password: 'enter 1 to 128 characters' });
