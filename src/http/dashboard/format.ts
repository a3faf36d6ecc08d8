/**
 * How the dashboard shows values: instants in the tenant's time zone, bytes, durations, and a
 * query string checked against a module's TypeBox schema (the same schemas as the REST routes).
 */
import type { Request } from 'express';
import { compileQuery, validationError, type JsonSchema, type Validator } from '../validation';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "2026-12-02 07:15" in the tenant's time zone (ISO-like: the same on every phone). */
export function when(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '';
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f.format(new Date(iso)).replace(',', '');
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (powers of 1024, as routers count). */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** 3725 -> "1h 2m". */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${seconds % 60}s`;
  return `${seconds}s`;
}

const compiled = new WeakMap<object, Validator>();

/**
 * A request's query, with empty fields dropped (a GET form sends every field), checked and
 * coerced by `schema`; a bad value is VALIDATION_FAILED (400) naming the field.
 */
export function formQuery<T>(query: Request['query'] | Record<string, unknown>, schema: JsonSchema): T {
  let v = compiled.get(schema);
  if (!v) {
    v = compileQuery(schema);
    compiled.set(schema, v);
  }
  const q: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(query as Record<string, unknown>)) if (val !== '') q[k] = val;
  if (!v(q)) throw validationError('query', v.errors);
  return q as T;
}
