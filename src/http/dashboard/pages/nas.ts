/**
 * NAS: the routers with their health (reports.nas_health: last accounting, Accounting-On count,
 * live sessions, CoA outcomes), adding one, a router's page (edit; the RADIUS secret and the
 * RouterOS API password are write-only: "set", and a new one replaces them), and the MikroTik
 * provisioning script download (NasService.mikrotikScript: audited, as the REST route; a POST
 * with CSRF because it carries the secret). Operators see; tenant admins change and download.
 */
import { isIP } from 'node:net';
import type { Request, Response, Router } from 'express';
import type { ScriptService } from '../../../mikrotik/script';
import { CreateNas, MikrotikScriptQuery, NasPatch, type NasView } from '../../../modules/nas/nas.schemas';
import { Obj, Type } from '../../../lib/schema';
import type { Row } from '../../../modules/reports/reports.schemas';
import { html, type SafeHtml } from '../../html';
import {
  checkbox,
  checked,
  defined,
  field,
  formMessage,
  formSchema,
  int,
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

const BASE = '/dashboard/nas';
const NAMES = ['name', 'address', 'identifier', 'kind', 'coaPort', 'description', 'apiUsername', 'apiPort'];
const DONE = {
  created: 'Router added: download its script below.',
  saved: 'Router saved.',
  deleted: 'Router removed.',
};
const MESSAGES = {
  address: 'an IPv4 or IPv6 address',
  secret: '6 to 128 characters, no spaces',
  coaPort: 'a port, 1 to 65535',
  routerOsApi: 'give a username (and the port, 1 to 65535)',
};
const checkCreate = formSchema<CreateNas>(CreateNas, MESSAGES);
const checkPatch = formSchema<NasPatch>(NasPatch, MESSAGES);
const checkScript = formSchema<MikrotikScriptQuery>(MikrotikScriptQuery, {
  radiusServer: 'the address or name routers reach FreeRADIUS at',
  portalHost: 'a host name or IPv4 address',
  services: 'pick hotspot, PPP or both',
});

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const checkPorts = formSchema<{ authPort: number; acctPort: number }>(Obj({ authPort: Port, acctPort: Port }), {
  authPort: 'a port, 1 to 65535',
  acctPort: 'a port, 1 to 65535',
});

/** A request host a router could reach (not loopback, not a bare name). */
function usableHost(req: Request): string {
  const host = (req.hostname ?? '').replace(/^\[(.*)\]$/, '$1');
  if (!host || host === 'localhost' || /^127\./.test(host) || host === '::1' || host === '0.0.0.0') return '';
  return isIP(host) || host.includes('.') ? host : '';
}

function health(st: Staff, h: Row | undefined): string {
  if (!h) return 'no data';
  const last = h.last_accounting_at ? `accounting ${when(st, String(h.last_accounting_at))}` : 'no accounting yet';
  const coa = `CoA 24 h: ${h.coa_ack_24h ?? 0} ack, ${h.coa_nak_24h ?? 0} nak, ${h.coa_timeout_24h ?? 0} timeout`;
  return `${h.active_sessions ?? 0} online · ${last} · ${h.accounting_on_count ?? 0} restarts · ${coa}`;
}

export function nasList(st: Staff, rows: readonly NasView[], healthOf: Map<string, Row>): SafeHtml {
  return table(
    ['Name', 'Address', 'Kind', 'Status', 'Health'],
    rows.map(
      (n) =>
        html`<tr><td><a href="${BASE}/${n.id}">${n.name}</a></td><td>${n.address}${n.identifier ? html` (${n.identifier})` : ''}</td><td>${n.kind}</td><td>${n.status === 'active' ? 'active' : 'waiting for approval'}${n.warnings.length ? html`<br><small class="warn">${n.warnings.join(' ')}</small>` : ''}</td><td>${health(st, healthOf.get(n.id))}</td></tr>`,
    ),
    'No routers yet.',
  );
}

function nasFields(
  v: Typed,
  e: FieldErrors,
  o: { editing: boolean; apiConfigured: boolean; requireMa: boolean; tls: boolean },
): SafeHtml {
  return html`${field('Name', 'name', v.name ?? '', e, { required: true })}
${field('Address (the router’s source address)', 'address', v.address ?? '', e, { required: true })}
${field('NAS-Identifier (only when several routers share an address)', 'identifier', v.identifier ?? '', e)}
${field(o.editing ? 'RADIUS secret (set; type a new one to replace it)' : 'RADIUS secret', 'secret', '', e, {
  type: 'password',
  required: !o.editing,
  autocomplete: 'new-password',
})}
${select(
  'Kind',
  'kind',
  v.kind || 'mikrotik',
  [
    ['mikrotik', 'MikroTik'],
    ['gateway', 'Lango gateway'],
    ['other', 'other'],
  ],
  e,
)}
${field('CoA port', 'coaPort', v.coaPort || '3799', e, { inputmode: 'numeric' })}
${checkbox('Require Message-Authenticator (off only for RouterOS before 7.15)', 'requireMessageAuthenticator', o.requireMa)}
${field('Description', 'description', v.description ?? '', e)}
<fieldset><legend>RouterOS API (live session lists, kick fallback)</legend>
${field('API username', 'apiUsername', v.apiUsername ?? '', e, { autocomplete: 'off' })}
${field(o.apiConfigured ? 'API password (set; type a new one to replace it)' : 'API password', 'apiPassword', '', e, {
  type: 'password',
  autocomplete: 'new-password',
})}
${field('API port (empty: 8728, or 8729 with TLS)', 'apiPort', v.apiPort ?? '', e, { inputmode: 'numeric' })}
${checkbox('API over TLS', 'apiTls', o.tls)}
${o.editing && o.apiConfigured ? checkbox('Remove API access', 'apiRemove', false) : ''}
${e.routerOsApi ? html`<span class="error">${e.routerOsApi}</span>` : ''}</fieldset>`;
}

/** The RouterOS API part of a create or patch body. */
function apiBody(t: Typed, body: unknown, editing: boolean): unknown {
  if (editing && checked(body, 'apiRemove')) return null;
  const password = raw(body, 'apiPassword');
  if (!t.apiUsername && !password && !t.apiPort) return editing ? undefined : undefined;
  return defined({
    username: t.apiUsername || (editing ? undefined : ''),
    password: password || (editing ? undefined : ''),
    port: t.apiPort ? int(t.apiPort) : undefined,
    tls: checked(body, 'apiTls'),
  });
}

function nasBody(t: Typed, body: unknown, editing: boolean): Record<string, unknown> {
  const secret = raw(body, 'secret');
  return defined({
    name: t.name,
    address: t.address,
    identifier: t.identifier || null,
    secret: secret || (editing ? undefined : ''),
    kind: t.kind || undefined,
    coaPort: t.coaPort ? int(t.coaPort) : undefined,
    description: t.description || null,
    requireMessageAuthenticator: checked(body, 'requireMessageAuthenticator'),
    routerOsApi: apiBody(t, body, editing),
  });
}

export function registerNasPages(r: Router, ctx: DashboardContext): void {
  const s = ctx.services;
  serveFormStyles(r);

  async function healthMap(st: Staff): Promise<Map<string, Row>> {
    const h = await s.reports.run(st.tenantId, 'nas-health', { limit: 1000 });
    return new Map(h.rows.map((row) => [String(row.nas_id), row]));
  }

  async function listPage(
    req: Request,
    res: Response,
    st: Staff,
    form: { values: Typed; errors: FieldErrors; message?: string; status?: number; requireMa: boolean; tls: boolean },
  ) {
    const [list, h] = await Promise.all([s.nas.list(st.tenantId, { limit: 200, offset: 0 }), healthMap(st)]);
    ctx.render(req, res, {
      nav: 'nas',
      title: 'NAS',
      status: form.status ?? 200,
      body: html`${formStyles}${nasList(st, list.data, h)}
${
  st.admin
    ? html`<h2>Add a router</h2><form method="post" action="${BASE}" class="form">${st.csrf}${formMessage(form.message, form.errors)}
${nasFields(form.values, form.errors, { editing: false, apiConfigured: false, requireMa: form.requireMa, tls: form.tls })}
<p><button type="submit">Add router</button></p></form>`
    : ''
}`,
    });
  }

  r.get('/nas', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await listPage(req, res, st, { values: {}, errors: {}, requireMa: true, tls: false });
  });

  r.post('/nas', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const t = typed(req.body, NAMES);
    const keep = {
      values: t,
      requireMa: checked(req.body, 'requireMessageAuthenticator'),
      tls: checked(req.body, 'apiTls'),
    };
    const c = checkCreate(nasBody(t, req.body, false));
    if (!c.ok) return listPage(req, res, st, { ...keep, errors: c.errors, status: 400 });
    let id: string;
    try {
      id = (await s.nas.create(st.actor, st.tenantId, c.body)).id;
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return listPage(req, res, st, { ...keep, ...why });
    }
    done(ctx, req, res, `${BASE}/${id}`, DONE['created']);
  });

  async function nasPage(
    req: Request,
    res: Response,
    st: Staff,
    nas: NasView,
    o: { form?: 'edit' | 'script'; values?: Typed; errors?: FieldErrors; message?: string; status?: number } = {},
  ) {
    const h = (await healthMap(st)).get(nas.id);
    const csrf = st.csrf;
    const ev: Typed =
      o.form === 'edit' && o.values
        ? o.values
        : {
            name: nas.name,
            address: nas.address,
            identifier: nas.identifier ?? '',
            kind: nas.kind,
            coaPort: String(nas.coaPort),
            description: nas.description ?? '',
            apiUsername: '',
            apiPort: nas.routerOsApi.configured ? String(nas.routerOsApi.port) : '',
          };
    const ee = o.form === 'edit' ? (o.errors ?? {}) : {};
    const sv: Typed =
      o.form === 'script' && o.values
        ? o.values
        : {
            radiusServer: usableHost(req),
            authPort: '1812',
            acctPort: '1813',
            hotspotProfile: 'hsprof1',
            portalHost: '',
          };
    const se = o.form === 'script' ? (o.errors ?? {}) : {};
    ctx.render(req, res, {
      nav: 'nas',
      title: nas.name,
      status: o.status ?? 200,
      body: html`${formStyles}<p><a href="${BASE}">Routers</a></p>
<table class="facts"><tr><th>Address</th><td>${nas.address}</td></tr><tr><th>Status</th><td>${nas.status === 'active' ? 'active' : 'waiting for a platform admin to approve the address'}</td></tr>
<tr><th>Health</th><td>${health(st, h)}</td></tr><tr><th>Last restart seen</th><td>${h?.last_on_off_at ? when(st, String(h.last_on_off_at)) : 'none'}</td></tr>
<tr><th>RADIUS secret</th><td>set</td></tr><tr><th>RouterOS API</th><td>${nas.routerOsApi.configured ? `set (port ${nas.routerOsApi.port}${nas.routerOsApi.tls ? ', TLS' : ''})` : 'not set'}</td></tr></table>
${nas.warnings.map((w) => html`<p class="warn">${w}</p>`)}
${
  st.admin && nas.kind !== 'gateway'
    ? html`<h2>MikroTik script</h2><p>Sets the router up for Lango (RADIUS with its secret, CoA, hotspot/PPP, walled garden). On the router: <code>/import lango.rsc</code>.</p>
<form method="post" action="${BASE}/${nas.id}/mikrotik.rsc" class="form">${csrf}${o.form === 'script' ? formMessage(o.message, se) : ''}
${field('RADIUS server (as routers reach it)', 'radiusServer', sv.radiusServer ?? '', se, { required: true })}
<div class="row">${field('Auth port', 'authPort', sv.authPort ?? '', se, { inputmode: 'numeric' })}${field('Accounting port', 'acctPort', sv.acctPort ?? '', se, { inputmode: 'numeric' })}</div>
<p>Services</p>${checkbox('Hotspot', 'hotspot', o.form !== 'script' || checked(req.body, 'hotspot'))}${checkbox('PPP', 'ppp', o.form !== 'script' || checked(req.body, 'ppp'))}
${se.services ? html`<span class="error">${se.services}</span>` : ''}
${field('Hotspot server profile', 'hotspotProfile', sv.hotspotProfile ?? '', se)}
${field('Portal host for the soft block (optional)', 'portalHost', sv.portalHost ?? '', se)}
<p><button type="submit">Download script</button></p></form>`
    : ''
}
${
  st.admin
    ? html`<h2>Change</h2><form method="post" action="${BASE}/${nas.id}" class="form">${csrf}${o.form === 'edit' ? formMessage(o.message, ee) : ''}
${nasFields(ev, ee, {
  editing: true,
  apiConfigured: nas.routerOsApi.configured,
  requireMa: o.form === 'edit' ? checked(req.body, 'requireMessageAuthenticator') : nas.requireMessageAuthenticator,
  tls: o.form === 'edit' ? checked(req.body, 'apiTls') : nas.routerOsApi.tls,
})}
<p><button type="submit">Save</button></p></form>
<form method="post" action="${BASE}/${nas.id}/delete" class="form">${csrf}<p><button type="submit" class="danger">Remove this router</button></p></form>`
    : ''
}`,
    });
  }

  r.get('/nas/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    await nasPage(req, res, st, await s.nas.get(st.tenantId, idOf(req)));
  });

  r.post('/nas/:id', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const nas = await s.nas.get(st.tenantId, idOf(req));
    const t = typed(req.body, NAMES);
    const c = checkPatch(nasBody(t, req.body, true));
    if (!c.ok) return nasPage(req, res, st, nas, { form: 'edit', values: t, errors: c.errors, status: 400 });
    const why = await attempt(() => s.nas.update(st.actor, st.tenantId, nas.id, c.body));
    if (why) return nasPage(req, res, st, nas, { form: 'edit', values: t, ...why });
    done(ctx, req, res, `${BASE}/${nas.id}`, DONE['saved']);
  });

  r.post('/nas/:id/delete', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const nas = await s.nas.get(st.tenantId, idOf(req));
    const why = await attempt(() => s.nas.remove(st.actor, st.tenantId, nas.id));
    if (why) return nasPage(req, res, st, nas, { form: 'edit', ...why });
    done(ctx, req, res, BASE, DONE['deleted']);
  });

  r.post('/nas/:id/mikrotik.rsc', async (req, res) => {
    const st = staffOf(ctx, req, res);
    mustAdmin(st);
    const nas = await s.nas.get(st.tenantId, idOf(req));
    const t = typed(req.body, ['radiusServer', 'authPort', 'acctPort', 'hotspotProfile', 'portalHost']);
    const services = (['hotspot', 'ppp'] as const).filter((x) => checked(req.body, x));
    const ports = checkPorts({ authPort: int(t.authPort || '1812'), acctPort: int(t.acctPort || '1813') });
    if (!ports.ok) return nasPage(req, res, st, nas, { form: 'script', values: t, errors: ports.errors, status: 400 });
    const c = checkScript(
      defined({
        radiusServer: t.radiusServer,
        hotspotProfile: t.hotspotProfile || undefined,
        portalHost: t.portalHost || undefined,
        services: services.join(','),
      }),
    );
    if (!c.ok) return nasPage(req, res, st, nas, { form: 'script', values: t, errors: c.errors, status: 400 });
    let script: string;
    try {
      script = await s.nas.mikrotikScript(st.actor, st.tenantId, nas.id, {
        radiusServer: c.body.radiusServer!,
        authPort: ports.body.authPort,
        acctPort: ports.body.acctPort,
        services: c.body.services.split(',') as ScriptService[],
        hotspotProfile: c.body.hotspotProfile,
        portalHost: c.body.portalHost ?? null,
      });
    } catch (err) {
      const why = refusal(err);
      if (!why) throw err;
      return nasPage(req, res, st, nas, { form: 'script', values: t, ...why });
    }
    res
      .status(200)
      .type('text/plain; charset=utf-8')
      .set('Cache-Control', 'no-store')
      .set('Content-Disposition', 'attachment; filename="lango.rsc"')
      .send(script);
  });
}
