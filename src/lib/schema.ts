/**
 * TypeBox pieces shared by the modules' schemas (<area>.schemas.ts). A schema is the JSON Schema
 * ajv validates and the OpenAPI document shows; its TypeScript type is `Static<typeof schema>`,
 * so the two cannot disagree. Bodies: no coercion, unknown fields rejected (Obj). Where
 * PostgreSQL is stricter than JSON Schema, the piece here carries the database's bound, so bad
 * input is a 400 naming the field instead of a driver error.
 */
import {
  Type,
  type Static,
  type TSchema,
  type TObject,
  type TProperties,
  type TUnsafe,
  type ObjectOptions,
} from '@sinclair/typebox';

export { Type, type Static, type TSchema };

// Text columns take neither NUL nor (through jsonb, or silently replaced in text) a lone UTF-16
// surrogate; free text also has no other control characters. ajv compiles patterns with the
// u flag, so [\ud800-\udfff] matches only unpaired surrogates.
const noCtl = '^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$';
/** For secrets, which may hold control characters (PAP carries them), but never NUL. */
const storable = '^[^\\u0000\\ud800-\\udfff]*$';

export const Str = (max: number, min = 1) => Type.String({ minLength: min, maxLength: max, pattern: noCtl });
export const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
/** A closed object: unknown fields are refused (bodies) or are a bug (views). */
export const Obj = <T extends TProperties>(properties: T, options: ObjectOptions = {}): TObject<T> =>
  Type.Object(properties, { additionalProperties: false, ...options });
/** One of these strings, as `{ enum: [...] }`. */
export const Enum = <const T extends readonly string[]>(values: T): TUnsafe<T[number]> =>
  Type.Unsafe<T[number]>({ enum: [...values] });
/**
 * A property with a default: not required on the wire, always present once ajv has validated
 * it (useDefaults), so its type is not optional.
 */
export const Defaulted = <T extends TSchema>(s: T): T => Type.Optional(s) as unknown as T;

/** ajv's uuid format also takes a "urn:uuid:" prefix, which the uuid type refuses. */
export const Uuid = Type.String({ format: 'uuid', pattern: '^[0-9A-Fa-f-]{36}$' });
export const IdParams = Obj({ id: Uuid });
/**
 * A bigint id (radacct): JSON and JS numbers are exact only up to 2^53 - 1, so that is the
 * bound; radacct ids will not reach it.
 */
export const BigintId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
/**
 * An instant. The date-time format takes years 0000-9999 and any two-digit offset; timestamptz
 * refuses year 0 and offsets beyond 15:59, so years are bounded to 1970..9999 and offsets to
 * the real ones (±14:00).
 */
export const Timestamp = Type.String({
  format: 'date-time',
  pattern: '^(19[7-9][0-9]|[2-9][0-9]{3})-.*([Zz]|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)$',
});
/** An instant as the API writes it (views). */
export const Instant = Type.String({ format: 'date-time' });
export const Ipv4 = Type.String({ format: 'ipv4' });
export const Ipv6 = Type.String({ format: 'ipv6' });
/** An IP address in the forms inet accepts: no IPv6 zone id (fe80::1%eth0). */
export const IpAddress = Type.String({ maxLength: 45, anyOf: [Ipv4, Ipv6] });
export const Hostname = Type.String({ format: 'hostname' });
/** limit and offset of every list (query). */
export const PageQuery = {
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  offset: Defaulted(Type.Integer({ minimum: 0, maximum: 10000000, default: 0 })),
};
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const StaffPassword = Type.String({ minLength: 10, maxLength: 200, pattern: storable });
/** A subscriber's RADIUS password (its byte length is checked in the service). */
export const RadiusPassword = Type.String({ minLength: 1, maxLength: 128, pattern: storable });

/** The answer of a list route: a page of `item`. */
export const PageOf = <T extends TSchema>(item: T) =>
  Obj({ data: Type.Array(item), page: Obj({ limit: Type.Integer(), offset: Type.Integer(), total: Type.Integer() }) });
