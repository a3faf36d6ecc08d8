/**
 * HTML for the portal and the dashboard: a tagged template that escapes every value, and the
 * page shell. No client-side script; styles inline (the CSP allows nothing from elsewhere).
 */
import { createHash } from 'node:crypto';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Markup that is already safe (built by `html`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Value = SafeHtml | string | number | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** html`<p>${text}</p>`: interpolated values are escaped unless they are SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}' +
  'table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}' +
  'form p{margin:.6rem 0}label{display:block}input{font-size:1rem;padding:.3rem;width:100%;max-width:20rem}.error{color:#a00}';

/** For the Content-Security-Policy: the one inline style the pages carry. */
export const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export function page(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>${new SafeHtml(STYLE)}</style></head>
<body>${body}</body></html>`.value;
}

export function errorPage(status: number, code: string, message: string): string {
  return page(
    `Error ${status}`,
    html`<h1>Something went wrong</h1><p>${message}</p><p><small>${status} ${code}</small></p>`,
  );
}
