/**
 * Forms of the dashboard's pages: what was typed (kept to show again with the errors), its
 * conversion to the body the module's TypeBox schema takes (the same schemas as the REST API,
 * compiled once with compileBody), and the errors per field in words an operator reads. A
 * service's refusal (AppError, or a constraint the database mapped) becomes the form's message.
 */
import type { ErrorObject } from 'ajv';
import { mapDbError } from '../../db/errors';
import { AppError } from '../../lib/errors';
import { html, type SafeHtml } from '../html';
import { compileBody, type JsonSchema, type Validator } from '../validation';

/** The typed text of a form, by field name (only the names asked for; trimmed). */
export type Typed = Record<string, string>;

export function typed(body: unknown, names: readonly string[]): Typed {
  const form = (body ?? {}) as Record<string, unknown>;
  const out: Typed = {};
  for (const n of names) {
    const v = form[n];
    out[n] = typeof v === 'string' ? v.trim() : '';
  }
  return out;
}

/** Raw value of a field that must not be trimmed (passwords, secrets). */
export function raw(body: unknown, name: string): string {
  const v = (body ?? {}) as Record<string, unknown>;
  return typeof v[name] === 'string' ? (v[name] as string) : '';
}

/** A whole number as typed; what is not one stays text, so the schema refuses it. */
export function int(s: string): number | string {
  return /^-?[0-9]{1,16}$/.test(s) ? Number(s) : s;
}

/** A decimal amount times `scale` (KES 50.5 -> 5050 cents; 1.5 GB -> bytes), or the text. */
export function scaled(s: string, scale: number): number | string {
  if (!/^[0-9]{1,12}(\.[0-9]{1,6})?$/.test(s)) return s;
  return Math.round(Number(s) * scale);
}

/** A checkbox: sent ("on") or not. */
export const checked = (body: unknown, name: string): boolean =>
  typeof (body as Record<string, unknown> | undefined)?.[name] === 'string';

export type FieldErrors = Record<string, string>;

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return 'required';
    case 'type':
      return (e.params as { type?: string }).type === 'integer' || (e.params as { type?: string }).type === 'number'
        ? 'must be a number'
        : 'invalid';
    case 'minimum':
      return `must be at least ${(e.params as { limit: number }).limit}`;
    case 'maximum':
      return `must be at most ${(e.params as { limit: number }).limit}`;
    case 'minLength':
      return (e.params as { limit: number }).limit === 1
        ? 'required'
        : `at least ${(e.params as { limit: number }).limit} characters`;
    case 'maxLength':
      return `at most ${(e.params as { limit: number }).limit} characters`;
    case 'format':
    case 'pattern':
    case 'anyOf':
      return 'not in the expected form';
    case 'enum':
      return 'pick one of the choices';
    default:
      return e.message ?? 'invalid';
  }
}

/** The first error of each top-level field of the body. */
export function fieldErrors(errors: ErrorObject[] | null | undefined): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors ?? []) {
    let field = e.instancePath.split('/')[1] ?? '';
    if (e.keyword === 'required' && !field) field = (e.params as { missingProperty: string }).missingProperty;
    if (e.keyword === 'if' || out[field] !== undefined) continue;
    out[field] = describe(e);
  }
  return out;
}

/** Outcome of checking a form: the body for the service, or what to show. */
export type Checked<T> = { ok: true; body: T } | { ok: false; errors: FieldErrors };

/**
 * A body schema compiled once, checking a form: `messages` replaces the generic text of a
 * field whose unit differs from the schema's (minutes shown, seconds stored).
 */
export function formSchema<T>(schema: JsonSchema, messages: Record<string, string> = {}) {
  const v: Validator = compileBody(schema);
  return (body: Record<string, unknown>): Checked<T> => {
    if (v(body)) return { ok: true, body: body as T };
    const errors = fieldErrors(v.errors);
    for (const k of Object.keys(errors)) if (messages[k]) errors[k] = messages[k];
    return { ok: false, errors };
  };
}

/** The body, or the form's errors thrown as the API's VALIDATION_FAILED (for one-field actions). */
export function orRefuse<T>(c: Checked<T>): T {
  if (c.ok) return c.body;
  const errors = Object.entries(c.errors).map(([k, v]) => ({ path: `body.${k}`, message: v }));
  throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.path.slice(5)}: ${e.message}`).join('; '), { errors });
}

/**
 * A service's refusal as the form's message (and field errors from details.errors paths like
 * body.name), or undefined when it is not the caller's fault (then it is rethrown).
 */
export function refusal(err: unknown): { status: number; message: string; errors: FieldErrors } | undefined {
  const e = mapDbError(err);
  if (!(e instanceof AppError) || e.status >= 500) return undefined;
  const errors: FieldErrors = {};
  const list = (e.details?.errors ?? []) as Array<{ path?: string; message?: string }>;
  for (const x of Array.isArray(list) ? list : []) {
    const field = x.path?.split('.')[1];
    if (field && x.message && errors[field] === undefined) errors[field] = x.message;
  }
  return { status: e.status, message: e.message, errors };
}

/** Runs a service call: undefined when it went through, its refusal when it was refused. */
export async function attempt(
  run: () => Promise<unknown>,
): Promise<{ status: number; message: string; errors: FieldErrors } | undefined> {
  try {
    await run();
    return undefined;
  } catch (err) {
    const why = refusal(err);
    if (!why) throw err;
    return why;
  }
}

/** Only what a form's body may carry: no undefined values (Obj refuses nothing else extra). */
export function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export interface FieldOptions {
  type?: string;
  required?: boolean;
  hint?: string;
  autocomplete?: string;
  inputmode?: string;
  step?: string;
  placeholder?: string;
}

/** A labelled input with its error under it; the typed value comes back escaped. */
export function field(label: string, name: string, value: string, errors: FieldErrors, o: FieldOptions = {}): SafeHtml {
  const err = errors[name];
  const id = `f-${name}`;
  return html`<p><label for="${id}">${label}</label><input id="${id}" name="${name}" value="${value}" type="${o.type ?? 'text'}"${
    o.required ? html` required` : ''
  }${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.inputmode ? html` inputmode="${o.inputmode}"` : ''}${
    o.step ? html` step="${o.step}"` : ''
  }${o.placeholder ? html` placeholder="${o.placeholder}"` : ''}${err ? html` aria-invalid="true" aria-describedby="${id}-e"` : ''}>${
    o.hint ? html`<small>${o.hint}</small>` : ''
  }${err ? html`<span class="error" id="${id}-e">${label}: ${err}</span>` : ''}</p>`;
}

/** A select; `options` are [value, text]. */
export function select(
  label: string,
  name: string,
  value: string,
  options: ReadonlyArray<readonly [string, string]>,
  errors: FieldErrors,
  /** Another form of the same page with a field of this name needs another id prefix. */
  idPrefix = 'f',
): SafeHtml {
  const err = errors[name];
  const id = `${idPrefix}-${name}`;
  return html`<p><label for="${id}">${label}</label><select id="${id}" name="${name}">${options.map(
    ([v, t]) => html`<option value="${v}"${v === value ? html` selected` : ''}>${t}</option>`,
  )}</select>${err ? html`<span class="error" id="${id}-e">${label}: ${err}</span>` : ''}</p>`;
}

export function checkbox(label: string, name: string, on: boolean): SafeHtml {
  return html`<p><label><input type="checkbox" name="${name}"${on ? html` checked` : ''}> ${label}</label></p>`;
}

/** The form's message above its fields. */
export function formMessage(message: string | undefined, errors: FieldErrors): SafeHtml | string {
  if (message) return html`<p class="error" role="alert">${message}</p>`;
  if (Object.keys(errors).length) return html`<p class="error" role="alert">Check the fields marked below.</p>`;
  return '';
}
