/**
 * Settings: the captive portal's branding (PortalService settings: name, colours, support phone,
 * paybill/till fallback, hotspot DNS names) and the M-Pesa collection accounts
 * (MpesaAccountsService: tenant admins only, as the REST routes; the consumer key, consumer
 * secret and passkey are write-only: the page says "set" and a typed value replaces one), and
 * the tenant's SMS settings (SmsSettingsService, admins only: on/off, sender ID, its own
 * Africa's Talking username and API key, the key write-only like the M-Pesa credentials).
 */
import type { Request, Response, Router } from 'express';
import {
  CreateMpesaAccount,
  MpesaAccountPatch,
  type MpesaAccountView,
} from '../../../modules/payments/payments.schemas';
import { SmsSettingsPatch, type SmsSettingsView } from '../../../modules/payments/payments.schemas';
import { PortalSettingsPatch, type PortalSettingsView } from '../../../modules/portal/portal.schemas';
import { html, type SafeHtml } from '../../html';
import type { UploadedFile } from '../../middleware/multipart';
import {
  checkbox,
  checked,
  defined,
  field,
  formMessage,
  formSchema,
  raw,
  attempt,
  refusal,
  select,
  typed,
  type FieldErrors,
  type Typed,
} from '../form-input';
import { done, formStyles, idOf, mustAdmin, serveFormStyles, staffOf, type Staff, when } from './common';
import { table, type DashboardContext } from '../layout';

const BASE = '/dashboard/settings';
const PORTAL_NAMES = [
  'displayName',
  'primaryColor',
  'backgroundColor',
  'supportPhone',
  'paybill',
  'till',
  'hotspotDnsNames',
];
const ACCOUNT_NAMES = ['name', 'kind', 'shortcode', 'storeNumber', 'environment'];
const SECRETS = ['consumerKey', 'consumerSecret', 'passkey'] as const;
const DONE = {
  portal: 'Portal settings saved: the portal shows them now.',
  'account-created': 'M-Pesa account added.',
  'account-saved': 'M-Pesa account saved.',
  rotated: 'New callback URLs: register them with Daraja again (Register C2B URLs).',
  registered: 'C2B URLs registered with Daraja.',
  sms: 'SMS settings saved: the next messages go out with them.',
  logo: 'Logo saved: the portal shows it now.',
};
const SMS_NAMES = ['senderId', 'username'];
const checkSms = formSchema<SmsSettingsPatch>(SmsSettingsPatch, {
  senderId: 'letters, digits and spaces, at most 11',
  username: "letters, digits, '.', '_' or '-', as Africa's Talking shows it",
  apiKey: "as Africa's Talking issued it (no spaces)",
});
const checkPortal = formSchema<PortalSettingsPatch>(PortalSettingsPatch, {
  primaryColor: 'a colour like #0a7d32',
  backgroundColor: 'a colour like #ffffff',
  supportPhone: 'digits, like +254712345678',
  paybill: '5 to 7 digits',
  till: '5 to 7 digits',
  hotspotDnsNames: 'host names, one per line (at most 20)',
});
const CREDENTIAL = 'as Daraja issued it (no spaces)';
const checkCreate = formSchema<CreateMpesaAccount>(CreateMpesaAccount, {
  shortcode: '5 to 10 digits',
  storeNumber: '5 to 10 digits',
  consumerKey: CREDENTIAL,
  consumerSecret: CREDENTIAL,
  passkey: CREDENTIAL,
});
const checkPatch = formSchema<MpesaAccountPatch>(MpesaAccountPatch, {
  storeNumber: '5 to 10 digits',
  consumerKey: CREDENTIAL,
  consumerSecret: CREDENTIAL,
  passkey: CREDENTIAL,
});

function portalValues(p: PortalSettingsView): Typed {
  return {
    displayName: p.displayName ?? '',
    primaryColor: p.primaryColor,
    backgroundColor: p.backgroundColor,
    supportPhone: p.supportPhone ?? '',
    paybill: p.paybill ?? '',
    till: p.till ?? '',
    hotspotDnsNames: p.hotspotDnsNames.join('\n'),
  };
}

function portalForm(csrf: SafeHtml, v: Typed, e: FieldErrors, hasLogo: boolean, message?: string): SafeHtml {
  return html`<form method="post" action="${BASE}/portal" class="form">${csrf}${formMessage(message, e)}
${field('Name shown to buyers (empty: the tenant’s name)', 'displayName', v.displayName ?? '', e)}
<div class="row">${field('Main colour', 'primaryColor', v.primaryColor ?? '', e, { type: 'color' })}
${field('Background', 'backgroundColor', v.backgroundColor ?? '', e, { type: 'color' })}</div>
${field('Support phone', 'supportPhone', v.supportPhone ?? '', e, { type: 'tel' })}
${field('Paybill shown when a push does not arrive', 'paybill', v.paybill ?? '', e, { inputmode: 'numeric' })}
${field('Till (Buy Goods) shown instead', 'till', v.till ?? '', e, { inputmode: 'numeric' })}
<p><label for="f-hotspotDnsNames">Hotspot DNS names (one per line)</label><textarea id="f-hotspotDnsNames" name="hotspotDnsNames" rows="3">${v.hotspotDnsNames ?? ''}</textarea>${
    e.hotspotDnsNames ? html`<span class="error">Hotspot DNS names: ${e.hotspotDnsNames}</span>` : ''
  }</p>
${hasLogo ? checkbox('Remove the logo', 'removeLogo', false) : ''}
<p><button type="submit">Save portal settings</button></p></form>`;
}

function logoForm(csrf: SafeHtml, slug: string, logo: PortalSettingsView['logo'], error?: string): SafeHtml {
  return html`<form method="post" action="${BASE}/logo" class="form" enctype="multipart/form-data">${csrf}${
    error ? html`<p class="error" role="alert">${error}</p>` : ''
  }
${logo ? html`<p><img src="/portal/${slug}/logo?v=${logo.version}" alt="The portal logo" height="64"> ${Math.ceil(logo.bytes / 1024)} KB</p>` : html`<p>No logo yet.</p>`}
<p><label for="f-logo">Logo: PNG, JPEG or WebP, at most 200 KB</label><input id="f-logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp" required></p>
<p><button type="submit">Upload logo</button></p></form>`;
}

function smsForm(csrf: SafeHtml, cur: SmsSettingsView, v: Typed, e: FieldErrors, enabled: boolean, message?: string) {
  return html`<form method="post" action="${BASE}/sms" class="form">${csrf}${formMessage(message, e)}
${checkbox('Send SMS (receipts, hotspot credentials, expiry reminders)', 'enabled', enabled)}
${field('Sender ID (empty: the install’s)', 'senderId', v.senderId ?? '', e)}
<p>${cur.username ? html`Sent with your own Africa’s Talking account <strong>${cur.username}</strong>.` : 'Sent with the install’s Africa’s Talking account. Give your own username and API key to send with yours.'}</p>
${field('Africa’s Talking username', 'username', v.username ?? '', e, { autocomplete: 'off' })}
${field(cur.apiKeySet ? 'API key (set; type a new one to replace it)' : 'API key', 'apiKey', '', e, { type: 'password', autocomplete: 'off' })}
${cur.username ? checkbox('Use the install’s account again (forget our username and key)', 'useInstall', false) : ''}
<p><button type="submit">Save SMS settings</button></p></form>`;
}

function accountFields(
  v: Typed,
  e: FieldErrors,
  o: { editing: boolean; validate: boolean; active: boolean },
): SafeHtml {
  const secret = (label: string, name: string) =>
    field(o.editing ? `${label} (set; type a new one to replace it)` : label, name, '', e, {
      type: 'password',
      required: !o.editing,
      autocomplete: 'off',
    });
  return html`${field('Name', 'name', v.name ?? '', e, { required: true })}
${
  o.editing
    ? ''
    : select(
        'Kind',
        'kind',
        v.kind || 'paybill',
        [
          ['paybill', 'Paybill'],
          ['till', 'Till (Buy Goods)'],
        ],
        e,
      )
}
${o.editing ? '' : field('Paybill or till number', 'shortcode', v.shortcode ?? '', e, { inputmode: 'numeric', required: true })}
${field('Store number (tills only)', 'storeNumber', v.storeNumber ?? '', e, { inputmode: 'numeric' })}
${select(
  'Environment',
  'environment',
  v.environment || 'sandbox',
  [
    ['sandbox', 'sandbox (testing)'],
    ['production', 'production'],
  ],
  e,
)}
${secret('Consumer key', 'consumerKey')}${secret('Consumer secret', 'consumerSecret')}${secret('Passkey', 'passkey')}
${checkbox('Refuse paybill payments whose account number names no subscriber', 'validateAccounts', o.validate)}
${o.editing ? checkbox('Active', 'active', o.active) : ''}`;
}

function accountsTable(st: Staff, rows: readonly MpesaAccountView[]): SafeHtml {
  return table(
    ['Name', 'Number', 'Environment', 'Credentials', 'State', 'Added'],
    rows.map(
      (a) =>
        html`<tr><td><a href="${BASE}/mpesa/${a.id}">${a.name}</a></td><td>${a.kind} ${a.shortcode}${a.storeNumber ? html` (store ${a.storeNumber})` : ''}</td><td>${a.environment}</td><td>set</td><td>${a.active ? 'active' : 'inactive'}</td><td>${when(st, a.createdAt)}</td></tr>`,
    ),
    'No M-Pesa account yet: buyers cannot pay by STK push.',
  );
}

export function registerSettingsPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);

  async function settingsPage(
    req: Request,
    res: Response,
    st: Staff,
    o: {
      form?: 'portal' | 'account' | 'sms' | 'logo';
      values?: Typed;
      errors?: FieldErrors;
      message?: string;
      status?: number;
    } = {},
  ) {
    const [portal, accounts, sms, { slug }] = await Promise.all([
      s.portal.settings(st.tenantId),
      st.admin ? s.mpesaAccounts.list(st.tenantId) : Promise.resolve(null),
      st.admin ? s.smsSettings.get(st.tenantId) : Promise.resolve(null),
      s.tenants.get(st.principal, st.tenantId),
    ]);
    const csrf = st.csrf;
    const pe = o.form === 'portal' ? (o.errors ?? {}) : {};
    const ae = o.form === 'account' ? (o.errors ?? {}) : {};
    ctx.render(req, res, {
      nav: 'settings',
      title: 'Settings',
      status: o.status ?? 200,
      body: html`${formStyles}
<h2>Captive portal</h2><p><a href="/portal/${slug}">Open the portal</a></p>
${
  st.admin
    ? portalForm(
        csrf,
        o.form === 'portal' && o.values ? o.values : portalValues(portal),
        pe,
        portal.logo !== null,
        o.form === 'portal' ? o.message : undefined,
      )
    : html`<table class="facts"><tr><th>Name shown</th><td>${portal.displayName ?? st.tenant.name}</td></tr><tr><th>Colours</th><td>${portal.primaryColor} on ${portal.backgroundColor}</td></tr><tr><th>Support phone</th><td>${portal.supportPhone ?? ''}</td></tr></table>`
}
${st.admin ? html`<h3>Logo</h3>${logoForm(csrf, slug, portal.logo, o.form === 'logo' ? o.message : undefined)}` : ''}
<h2>M-Pesa accounts</h2>
${
  accounts
    ? html`${accountsTable(st, accounts)}<h3>Add an account</h3><form method="post" action="${BASE}/mpesa" class="form">${csrf}${o.form === 'account' ? formMessage(o.message, ae) : ''}
${accountFields(o.form === 'account' && o.values ? o.values : {}, ae, { editing: false, validate: o.form === 'account' && checked(req.body, 'validateAccounts'), active: true })}
<p><button type="submit">Add account</button></p></form>`
    : html`<p>Only tenant admins see the M-Pesa accounts.</p>`
}
<h2>SMS</h2>
${
  sms
    ? o.form === 'sms'
      ? smsForm(csrf, sms, o.values ?? {}, o.errors ?? {}, checked(req.body, 'enabled'), o.message)
      : smsForm(csrf, sms, { senderId: sms.senderId ?? '', username: sms.username ?? '' }, {}, sms.enabled)
    : html`<p>Only tenant admins see the SMS settings.</p>`
}`,
    });
  }

  r.get('/settings', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await settingsPage(req, res, st);
  });

  r.post('/settings/portal', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, PORTAL_NAMES);
    const names = t
      .hotspotDnsNames!.split(/[\s,]+/)
      .map((n) => n.trim())
      .filter(Boolean);
    const c = checkPortal(
      defined({
        displayName: t.displayName || null,
        primaryColor: t.primaryColor || undefined,
        backgroundColor: t.backgroundColor || undefined,
        supportPhone: t.supportPhone || null,
        paybill: t.paybill || null,
        till: t.till || null,
        hotspotDnsNames: names,
        logoDataUrl: checked(req.body, 'removeLogo') ? null : undefined,
      }),
    );
    if (!c.ok) return settingsPage(req, res, st, { form: 'portal', values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.portal.updateSettings(st.actor, st.tenantId, c.body));
    if (why) return settingsPage(req, res, st, { form: 'portal', values: t, ...why });
    done(ctx, req, res, BASE, DONE['portal']);
  });

  r.post('/settings/logo', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const file = (req.body as Record<string, unknown>).logo as UploadedFile | string | undefined;
    if (!file || typeof file === 'string')
      return settingsPage(req, res, st, { form: 'logo', message: 'Choose an image file to upload.', status: 400 });
    const why = await attempt(() => s.portal.setLogo(st.actor, st.tenantId, file.data));
    if (why) return settingsPage(req, res, st, { form: 'logo', ...why });
    done(ctx, req, res, BASE, DONE['logo']);
  });

  r.post('/settings/sms', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, SMS_NAMES);
    const install = checked(req.body, 'useInstall');
    const c = checkSms(
      defined({
        enabled: checked(req.body, 'enabled'),
        senderId: t.senderId || null,
        username: install ? null : t.username || undefined,
        apiKey: install ? null : raw(req.body, 'apiKey') || undefined,
      }),
    );
    if (!c.ok) return settingsPage(req, res, st, { form: 'sms', values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.smsSettings.update(st.actor, st.tenantId, c.body));
    if (why) return settingsPage(req, res, st, { form: 'sms', values: t, ...why });
    done(ctx, req, res, BASE, DONE['sms']);
  });

  const secretsOf = (body: unknown) =>
    Object.fromEntries(SECRETS.map((n) => [n, raw(body, n) || undefined])) as Record<
      (typeof SECRETS)[number],
      string | undefined
    >;

  r.post('/settings/mpesa', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, ACCOUNT_NAMES);
    const c = checkCreate(
      defined({
        name: t.name,
        kind: t.kind,
        shortcode: t.shortcode,
        storeNumber: t.storeNumber || undefined,
        environment: t.environment,
        ...secretsOf(req.body),
        validateAccounts: checked(req.body, 'validateAccounts'),
      }),
    );
    if (!c.ok) return settingsPage(req, res, st, { form: 'account', values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.mpesaAccounts.create(st.actor, st.tenantId, c.body));
    if (why) return settingsPage(req, res, st, { form: 'account', values: t, ...why });
    done(ctx, req, res, BASE, DONE['account-created']);
  });

  async function accountPage(
    req: Request,
    res: Response,
    st: Staff,
    a: MpesaAccountView,
    o: { values?: Typed; errors?: FieldErrors; message?: string; status?: number; actionMessage?: string } = {},
  ) {
    const csrf = st.csrf;
    const v: Typed = o.values ?? { name: a.name, storeNumber: a.storeNumber ?? '', environment: a.environment };
    const editing = o.values !== undefined;
    ctx.render(req, res, {
      nav: 'settings',
      title: a.name,
      status: o.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Settings</a></p>
${o.actionMessage ? html`<p class="error" role="alert">${o.actionMessage}</p>` : ''}
<table class="facts"><tr><th>Number</th><td>${a.kind} ${a.shortcode}</td></tr><tr><th>Environment</th><td>${a.environment}</td></tr>
<tr><th>Consumer key, secret, passkey</th><td>set</td></tr>
<tr><th>STK callback</th><td><code>${a.callbackPaths.stk}</code></td></tr>
<tr><th>C2B confirmation</th><td><code>${a.callbackPaths.c2bConfirmation}</code></td></tr>
<tr><th>C2B validation</th><td><code>${a.callbackPaths.c2bValidation}</code></td></tr></table>
<div class="actions"><form method="post" action="${BASE}/mpesa/${a.id}/register-c2b" class="inline">${csrf}<button type="submit">Register C2B URLs with Daraja</button></form>
<form method="post" action="${BASE}/mpesa/${a.id}/rotate-token" class="inline">${csrf}<button type="submit">New callback URLs</button></form></div>
<h2>Change</h2><form method="post" action="${BASE}/mpesa/${a.id}" class="form">${csrf}${formMessage(o.message, o.errors ?? {})}
${accountFields(v, o.errors ?? {}, {
  editing: true,
  validate: editing ? checked(req.body, 'validateAccounts') : a.validateAccounts,
  active: editing ? checked(req.body, 'active') : a.active,
})}
<p><button type="submit">Save</button></p></form>`,
    });
  }

  const account = async (req: Request, res: Response) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    return { st, a: await s.mpesaAccounts.get(st.tenantId, idOf(req)) };
  };

  r.get('/settings/mpesa/:id', async (req, res) => {
    const { st, a } = await account(req, res);
    await accountPage(req, res, st, a);
  });

  r.post('/settings/mpesa/:id', async (req, res) => {
    const { st, a } = await account(req, res);
    const t = typed(req.body, ACCOUNT_NAMES);
    const c = checkPatch(
      defined({
        name: t.name,
        storeNumber: t.storeNumber || null,
        environment: t.environment,
        ...secretsOf(req.body),
        validateAccounts: checked(req.body, 'validateAccounts'),
        active: checked(req.body, 'active'),
      }),
    );
    if (!c.ok) return accountPage(req, res, st, a, { values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.mpesaAccounts.update(st.actor, st.tenantId, a.id, c.body));
    if (why) return accountPage(req, res, st, a, { values: t, ...why });
    done(ctx, req, res, `${BASE}/mpesa/${a.id}`, DONE['account-saved']);
  });

  for (const [path, key] of [
    ['rotate-token', 'rotated'],
    ['register-c2b', 'registered'],
  ] as const) {
    r.post(`/settings/mpesa/:id/${path}`, async (req, res) => {
      const { st, a } = await account(req, res);
      try {
        if (path === 'rotate-token') await s.mpesaAccounts.rotateToken(st.actor, st.tenantId, a.id);
        else await s.stk.registerC2b(st.actor, st.tenantId, a.id);
      } catch (err) {
        const why = refusal(err);
        if (!why) throw err;
        return accountPage(req, res, st, a, { actionMessage: why.message, status: why.status });
      }
      done(ctx, req, res, `${BASE}/mpesa/${a.id}`, DONE[key]);
    });
  }
}
