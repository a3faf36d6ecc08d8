/**
 * JSON Schemas shared by the routes (bodies: no coercion, unknown fields rejected). Where
 * PostgreSQL is stricter than JSON Schema, the piece here carries the database's bound, so bad
 * input is a 400 naming the field instead of a driver error.
 */

// Text columns take neither NUL nor (through jsonb, or silently replaced in text) a lone UTF-16
// surrogate; free text also has no other control characters. ajv compiles patterns with the
// u flag, so [\ud800-\udfff] matches only unpaired surrogates.
const noCtl = '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$';
/** For secrets, which may hold control characters (PAP carries them), but never NUL. */
const storable = '^[^\\u0000\\ud800-\\udfff]*$';

export const str = (max: number, min = 1) => ({ type: 'string', minLength: min, maxLength: max, pattern: noCtl });
export const nullable = (s: Record<string, unknown>) => ({ anyOf: [s, { type: 'null' }] });
export const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});
/** ajv's uuid format also takes a "urn:uuid:" prefix, which the uuid type refuses. */
export const uuid = { type: 'string', format: 'uuid', pattern: '^[0-9A-Fa-f-]{36}$' };
export const idParams = obj({ id: uuid }, ['id']);
/**
 * A bigint id (radacct): JSON and JS numbers are exact only up to 2^53 - 1, so that is the
 * bound; radacct ids will not reach it.
 */
export const bigintId = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
/**
 * An instant. The date-time format takes years 0000-9999 and any two-digit offset; timestamptz
 * refuses year 0 and offsets beyond 15:59, so years are bounded to 1970..9999 and offsets to
 * the real ones (±14:00).
 */
export const timestamp = {
  type: 'string',
  format: 'date-time',
  pattern: '^(19[7-9][0-9]|[2-9][0-9]{3})-.*([Zz]|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)$',
};
export const ipv4 = { type: 'string', format: 'ipv4' };
export const ipv6 = { type: 'string', format: 'ipv6' };
/** An IP address in the forms inet accepts: no IPv6 zone id (fe80::1%eth0). */
export const ipAddress = { type: 'string', maxLength: 45, anyOf: [ipv4, ipv6] };
export const page = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 10000000, default: 0 },
};
export const email = { type: 'string', format: 'email', maxLength: 254 };
export const staffPassword = { type: 'string', minLength: 10, maxLength: 200, pattern: storable };
/** A subscriber's RADIUS password (its byte length is checked in the service). */
export const radiusPassword = { type: 'string', minLength: 1, maxLength: 128, pattern: storable };
