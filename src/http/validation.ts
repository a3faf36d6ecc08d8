import Ajv, { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError } from '../lib/errors';

/**
 * Two ajv instances compiled once at start: bodies are taken as sent (no coercion, unknown
 * fields rejected by the schemas), query strings and path params are coerced from text.
 * Never compile client-supplied schemas; `$data` stays off. The schemas are TypeBox's, in each
 * module's <area>.schemas.ts (shared pieces: src/lib/schema.ts). Answers are checked (in tests)
 * by a third instance that changes nothing.
 */
const bodyAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true, strict: true });
const queryAjv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true });
const responseAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, strict: true });
addFormats(bodyAjv);
addFormats(queryAjv);
addFormats(responseAjv);

export type JsonSchema = Record<string, unknown>;

/** A compiled schema: true when `data` is valid, else `errors` says why. */
export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export function compileBody(schema: JsonSchema): Validator {
  return bodyAjv.compile(schema);
}

export function compileResponse(schema: JsonSchema): Validator {
  return responseAjv.compile(schema);
}

/**
 * ajv coerces "Infinity" and "1e400" to Infinity for an integer and then skips minimum and
 * maximum (they only compare finite numbers), so ?limit=Infinity would pass. No parameter takes
 * an infinite number: after coercion, any is refused.
 */
export function compileQuery(schema: JsonSchema): Validator {
  const validate = queryAjv.compile(schema);
  const checked: Validator = (data) => {
    if (!validate(data)) {
      checked.errors = validate.errors;
      return false;
    }
    const infinite = Object.entries(data as Record<string, unknown>).filter(
      ([, v]) => typeof v === 'number' && !Number.isFinite(v),
    );
    checked.errors = infinite.map(([k]) => ({
      instancePath: `/${k}`,
      schemaPath: '#/type',
      keyword: 'type',
      params: {},
      message: 'must be a finite number',
    }));
    return infinite.length === 0;
  };
  return checked;
}

function pathOf(where: string, e: ErrorObject): string {
  let p = e.instancePath.replace(/\//g, '.');
  if (e.keyword === 'required') p += `.${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'additionalProperties') p += `.${(e.params as { additionalProperty: string }).additionalProperty}`;
  return `${where}${p}`;
}

export function validationError(
  where: 'body' | 'query' | 'params',
  errors: ErrorObject[] | null | undefined,
): AppError {
  const list = (errors ?? []).map((e) => ({
    path: pathOf(where, e),
    message: e.keyword === 'additionalProperties' ? 'unknown field' : (e.message ?? 'invalid'),
  }));
  return new AppError(
    'VALIDATION_FAILED',
    `invalid ${where}: ${list.map((l) => `${l.path} ${l.message}`).join('; ')}`,
    { errors: list },
  );
}
