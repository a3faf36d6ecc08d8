/**
 * Which attributes identify a NAS and a session in a Disconnect-Request or CoA-Request
 * (RFC 5176 §3), by name; numbers come from the dictionary, so an attribute given raw (by type)
 * is recognised the same way as one given by name.
 */
import { isNamedAttribute, type RadiusAttribute } from './attributes';
import { DEFAULT_DICTIONARY, findAttribute, findAttributeByCode, type Dictionary } from './dictionary';

/** NAS identification (RFC 5176 §3). */
export const NAS_IDENTIFICATION_ATTRIBUTES = ['NAS-IP-Address', 'NAS-Identifier', 'NAS-IPv6-Address'] as const;

/** Session identification (RFC 5176 §3); a Vendor-Specific attribute may identify a session too. */
export const SESSION_IDENTIFICATION_ATTRIBUTES = [
  'User-Name',
  'NAS-Port',
  'Framed-IP-Address',
  'Called-Station-Id',
  'Calling-Station-Id',
  'Acct-Session-Id',
  'Acct-Multi-Session-Id',
  'NAS-Port-Id',
  'Chargeable-User-Identity',
  'Framed-Interface-Id',
  'Framed-IPv6-Prefix',
] as const;

/** Allowed in a Disconnect-Request besides identification (RFC 5176 §3.6 table). */
export const DISCONNECT_EXTRA_ATTRIBUTES = ['Event-Timestamp', 'Message-Authenticator', 'Proxy-State'] as const;

export interface IdentificationSets {
  /** Canonical lower-case names. */
  readonly nas: ReadonlySet<string>;
  readonly session: ReadonlySet<string>;
  readonly disconnectExtras: ReadonlySet<string>;
}

const lower = (names: readonly string[]): ReadonlySet<string> => new Set(names.map((n) => n.toLowerCase()));

const cache = new WeakMap<Dictionary, IdentificationSets>();

/**
 * The sets as `dictionary` knows them: names it does not define are left out (they could not
 * appear in a decoded packet by name anyway).
 */
export function identificationSets(dictionary: Dictionary = DEFAULT_DICTIONARY): IdentificationSets {
  let sets = cache.get(dictionary);
  if (!sets) {
    const known = (names: readonly string[]): string[] =>
      names
        .filter((n) => findAttribute(n, dictionary) !== undefined)
        .map((n) => findAttribute(n, dictionary)?.name ?? n);
    sets = {
      nas: lower(known(NAS_IDENTIFICATION_ATTRIBUTES)),
      session: lower(known(SESSION_IDENTIFICATION_ATTRIBUTES)),
      disconnectExtras: lower(known(DISCONNECT_EXTRA_ATTRIBUTES)),
    };
    cache.set(dictionary, sets);
  }
  return sets;
}

/**
 * Lower-case name of a standard (non-vendor) attribute, whether given by name or raw by type;
 * undefined for vendor attributes and types the dictionary does not know.
 */
export function standardAttributeName(
  attr: RadiusAttribute,
  dictionary: Dictionary = DEFAULT_DICTIONARY,
): string | undefined {
  const def = isNamedAttribute(attr)
    ? findAttribute(attr.name, dictionary)
    : attr.vendor === undefined
      ? findAttributeByCode(attr.type, undefined, dictionary)
      : undefined;
  return def && def.vendor === undefined ? def.name.toLowerCase() : undefined;
}

/** A vendor attribute (by name, or raw with a vendor or as type 26). */
export function isVendorAttribute(attr: RadiusAttribute, dictionary: Dictionary = DEFAULT_DICTIONARY): boolean {
  if (isNamedAttribute(attr)) return findAttribute(attr.name, dictionary)?.vendor !== undefined;
  return attr.vendor !== undefined || attr.type === 26;
}
