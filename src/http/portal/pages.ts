/**
 * The portal's pages: a mobile-first shell in the tenant's name and colours, and each page's
 * body. Everything is escaped by `html`; the only style and scripts are inline and allowed by
 * their hashes in the page's own Content-Security-Policy (the style carries the tenant's
 * colours, so its hash is per page). No web fonts, no images but the tenant's logo (at most
 * 200 KB, its own request, cached for a year by its versioned address): a page stays far under
 * 50 KB on a 2G phone, and the logo is paid for once.
 */
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import type { PlanView } from '../../modules/plans/plans.schemas';
import type { PortalSettingsView } from '../../modules/portal/portal.schemas';
import { html, SafeHtml } from '../html';
import { CSRF_FIELD } from '../middleware/csrf';
import { dataAllowance, duration, WORDS, type Lang } from './i18n';
import { LOGIN_SCRIPT, LOGIN_SCRIPT_SOURCE, POLL_SCRIPT, POLL_SCRIPT_SOURCE } from './login-script';

export interface Shell {
  lang: Lang;
  slug: string;
  tenantName: string;
  currency: string;
  settings: PortalSettingsView;
  csrf: string;
  /** The path the language switch returns to. */
  path: string;
}

function style(s: PortalSettingsView): string {
  const c = s.primaryColor;
  return (
    `body{font-family:system-ui,sans-serif;margin:0;background:${s.backgroundColor};color:#1a1a1a;line-height:1.4}` +
    'main{max-width:28rem;margin:0 auto;padding:1rem}header{display:flex;align-items:center;gap:.6rem}header img{max-height:3rem;max-width:8rem}' +
    `h1{font-size:1.3rem;margin:.4rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}.plan{border:2px solid ${c};border-radius:.6rem;padding:.7rem;margin:.6rem 0}` +
    '.plan b{font-size:1.15rem}.meta{color:#555;font-size:.9rem}label{display:block;margin:.4rem 0 .2rem}' +
    'input{font-size:1rem;padding:.55rem;width:100%;box-sizing:border-box;border:1px solid #999;border-radius:.4rem}' +
    `button{font-size:1rem;padding:.6rem 1rem;margin-top:.5rem;width:100%;border:0;border-radius:.4rem;background:${c};color:#fff}` +
    `.msg{padding:.6rem;border-radius:.4rem;background:#fff4e5;border:1px solid #e0a030}.ok{background:#e8f6ee;border-color:${c}}` +
    `nav{margin-top:1.5rem;font-size:.9rem}a{color:${c}}details{margin:.8rem 0}summary{font-weight:600;cursor:pointer}`
  );
}

const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

function origin(u: string): string {
  return new URL(u).origin;
}

/** Sends a page with its own CSP: this page's style, the scripts it carries, where its forms go. */
export function send(
  res: Response,
  sh: Shell,
  o: {
    title: string;
    body: SafeHtml;
    status?: number;
    scripts?: Array<'login' | 'poll'>;
    formTargets?: string[];
    refreshSeconds?: number;
    refreshUrl?: string;
  },
): void {
  const css = style(sh.settings);
  const scripts = o.scripts ?? [];
  const scriptSrc = scripts.length
    ? `script-src ${scripts.map((s) => (s === 'login' ? LOGIN_SCRIPT_SOURCE : POLL_SCRIPT_SOURCE)).join(' ')}; connect-src 'self'; `
    : '';
  const targets = [...new Set((o.formTargets ?? []).map(origin))].join(' ');
  res.set(
    'Content-Security-Policy',
    `default-src 'none'; style-src ${hash(css)}; ${scriptSrc}img-src 'self'; form-action 'self'${targets ? ` ${targets}` : ''}; frame-ancestors 'none'; base-uri 'none'; report-uri /callbacks/csp-report`,
  );
  const w = WORDS[sh.lang];
  const name = sh.settings.displayName ?? sh.tenantName;
  const other: Lang = sh.lang === 'en' ? 'sw' : 'en';
  const doc = html`<!doctype html>
<html lang="${sh.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${o.refreshSeconds ? html`<meta http-equiv="refresh" content="${o.refreshSeconds}; url=${o.refreshUrl ?? ''}">` : ''}
<title>${o.title} · ${name}</title><style>${new SafeHtml(css)}</style></head>
<body><main><header>${sh.settings.logo ? html`<img src="/portal/${sh.slug}/logo?v=${sh.settings.logo.version}" alt="">` : ''}<h1>${name}</h1></header>
${o.body}
<nav><a href="/portal/${sh.slug}${sh.path}?lang=${other}" hreflang="${other}">${other === 'sw' ? 'Kiswahili' : 'English'}</a>${sh.settings.supportPhone ? html` · ${w.help}: <a href="tel:${sh.settings.supportPhone}">${sh.settings.supportPhone}</a>` : ''}</nav>
</main>${scripts.map((s) => html`<script>${new SafeHtml(s === 'login' ? LOGIN_SCRIPT : POLL_SCRIPT)}</script>`)}</body></html>`;
  res
    .status(o.status ?? 200)
    .type('html')
    .send(doc.value);
}

const csrfField = (sh: Shell) => html`<input type="hidden" name="${CSRF_FIELD}" value="${sh.csrf}">`;

export function money(sh: Shell, minor: number): string {
  return `${sh.currency} ${(minor / 100).toLocaleString('en-KE', { maximumFractionDigits: 2 })}`;
}

function planCard(sh: Shell, p: PlanView, canPay: boolean): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<div class="plan"><b>${p.name}</b> · ${money(sh, p.price)}
<div class="meta">${duration(w, p.durationSeconds)} · ${dataAllowance(w, p.dataQuotaBytes)} · ${p.rateLimit ?? w.fullSpeed}</div>
${
  canPay
    ? html`<form method="post" action="/portal/${sh.slug}/pay">${csrfField(sh)}<input type="hidden" name="planId" value="${p.id}">
<label for="ph-${p.id}">${w.phone}</label><input id="ph-${p.id}" name="phone" type="tel" inputmode="tel" autocomplete="tel" required maxlength="20" placeholder="07XX XXX XXX">
<button type="submit">${w.buy}</button></form>`
    : ''
}</div>`;
}

function trialCard(sh: Shell, p: PlanView): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<div class="plan" id="trial"><b>${w.trial}</b> · ${p.name}
<div class="meta">${duration(w, p.durationSeconds)} · ${dataAllowance(w, p.dataQuotaBytes)} · ${p.rateLimit ?? w.fullSpeed}</div>
<p class="meta">${w.trialHelp}</p><form method="post" action="/portal/${sh.slug}/trial">${csrfField(sh)}
<label for="tp">${w.phone}</label><input id="tp" name="phone" type="tel" inputmode="tel" autocomplete="tel" required maxlength="20" placeholder="07XX XXX XXX">
<button type="submit">${w.tryFree}</button></form></div>`;
}

export function homeBody(
  sh: Shell,
  o: {
    plans: PlanView[];
    onHotspot: boolean;
    canPay: boolean;
    canRestore?: boolean;
    /** The free trial's plan, when the tenant offers one. */
    trial?: PlanView | undefined;
    message?: { text: string; ok?: boolean };
  },
): SafeHtml {
  const w = WORDS[sh.lang];
  return html`${o.message ? html`<p class="msg${o.message.ok ? ' ok' : ''}" role="alert">${o.message.text}</p>` : ''}
${o.onHotspot ? '' : html`<p class="msg">${w.notOnWifi}</p>`}
<h2>${w.choose}</h2>
${o.plans.length === 0 ? html`<p>${w.none}</p>` : o.plans.map((p) => planCard(sh, p, o.canPay && o.onHotspot))}
${o.trial && o.onHotspot ? trialCard(sh, o.trial) : ''}
${
  o.onHotspot
    ? html`<h2>${w.voucher}</h2><form method="post" action="/portal/${sh.slug}/voucher">${csrfField(sh)}
<label for="code">${w.code}</label><input id="code" name="code" required maxlength="64" autocomplete="off" autocapitalize="characters" spellcheck="false">
<button type="submit">${w.useVoucher}</button></form>
${
  o.canRestore
    ? html`<details><summary>${w.paid}</summary><p class="meta">${w.paidHelp}</p><form method="post" action="/portal/${sh.slug}/paid">${csrfField(sh)}
<label for="pp">${w.phone}</label><input id="pp" name="phone" type="tel" inputmode="tel" required maxlength="20">
<label for="rc">${w.receipt}</label><input id="rc" name="receipt" required maxlength="20" autocapitalize="characters" autocomplete="off">
<button type="submit">${w.restore}</button></form></details>`
    : ''
}`
    : ''
}`;
}

/**
 * The page that logs the device in: a form to the router's link-login-only that the script
 * fills with the CHAP response and submits; without JavaScript, the same form carries the
 * response computed on the server and a button.
 */
export function loginBody(
  sh: Shell,
  o: {
    loginUrl: string;
    username: string;
    password: string;
    chapId: string;
    chapChallenge: string;
    dst: string | null;
    serverResponse: string;
    message?: string;
  },
): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<p class="msg ok" role="status">${o.message ?? w.connecting}</p><p>${w.connectingHelp}</p>
<form id="login" method="post" action="${o.loginUrl}" data-chap-id="${o.chapId}" data-chap-challenge="${o.chapChallenge}" data-secret="${o.password}">
<input type="hidden" name="username" value="${o.username}"><input type="hidden" name="password" value="${o.serverResponse}">
${o.dst ? html`<input type="hidden" name="dst" value="${o.dst}">` : ''}<input type="hidden" name="popup" value="false">
<button type="submit">${w.connectNow}</button></form>`;
}

export function messageBody(sh: Shell, text: string): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<p class="msg" role="alert">${text}</p><p><a href="/portal/${sh.slug}">${w.tryAgain}</a></p>`;
}

/** What the buyer reads about an STK push that did not end in a payment, by Daraja's ResultCode. */
export function failureText(sh: Shell, resultCode: string | null): string {
  const w = WORDS[sh.lang];
  switch (resultCode) {
    case '1032':
      return w.cancelled;
    case '2001':
      return w.wrongPin;
    case '1037':
    case '1019':
      return w.timeout;
    case '1':
      return w.insufficient;
    default:
      return w.failed;
  }
}

/** The paybill/till fallback, with the account to pay to (the buyer's account number). */
export function fallbackBody(sh: Shell, account: string | null): SafeHtml {
  const w = WORDS[sh.lang];
  const s = sh.settings;
  if (!s.paybill && !s.till) return html``;
  return html`<p>${w.fallback}</p><ul>
${s.paybill ? html`<li>${w.paybill} <b>${s.paybill}</b>${account ? html`, ${w.account} <b>${account}</b>` : ''}</li>` : ''}
${s.till ? html`<li>${w.till} <b>${s.till}</b></li>` : ''}</ul><p class="meta">${w.thenPaid}</p>`;
}

export function waitingBody(
  sh: Shell,
  o: { pollUrl: string; nextUrl: string; state: string; amount: number },
): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<div id="status" data-poll="${o.pollUrl}" data-next="${o.nextUrl}" data-state="${o.state}"><p class="msg" role="status"><b>${w.waiting}</b></p>
<p>${w.waitingHelp}</p><p class="meta">${money(sh, o.amount)}</p></div>`;
}

export function failedBody(sh: Shell, o: { text: string; account: string | null }): SafeHtml {
  const w = WORDS[sh.lang];
  return html`<p class="msg" role="alert">${o.text}</p>${fallbackBody(sh, o.account)}<p><a href="/portal/${sh.slug}">${w.tryAgain}</a></p>`;
}
