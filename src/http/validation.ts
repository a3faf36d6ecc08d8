import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError } from '../errors';

/**
 * Two ajv instances compiled once at start: bodies are taken as sent (no coercion, unknown
 * fields rejected by the schemas), query strings and path params are coerced from text.
 * Never compile client-supplied schemas; `$data` stays off.
 */
const bodyAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true, strict: true });
const queryAjv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true });
addFormats(bodyAjv);
addFormats(queryAjv);

export type JsonSchema = Record<string, unknown>;

export function compileBody(schema: JsonSchema): ValidateFunction {
  return bodyAjv.compile(schema);
}
export function compileQuery(schema: JsonSchema): ValidateFunction {
  return queryAjv.compile(schema);
}

function pathOf(where: string, e: ErrorObject): string {
  let p = e.instancePath.replace(/\//g, '.');
  if (e.keyword === 'required') p += `.${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'additionalProperties') p += `.${(e.params as { additionalProperty: string }).additionalProperty}`;
  return `${where}${p}`;
}

export function validationError(where: 'body' | 'query' | 'params', errors: ErrorObject[] | null | undefined): AppError {
  const list = (errors ?? []).map((e) => ({
    path: pathOf(where, e),
    message: e.keyword === 'additionalProperties' ? 'unknown field' : (e.message ?? 'invalid'),
  }));
  return new AppError('VALIDATION_FAILED', `invalid ${where}: ${list.map((l) => `${l.path} ${l.message}`).join('; ')}`, { errors: list });
}

/** Reusable schema pieces. */
export const S = {
  uuid: { type: 'string', format: 'uuid' },
  id: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', format: 'uuid' } } },
  pagination: {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
  },
} as const;
