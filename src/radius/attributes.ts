/**
 * Attribute list <-> bytes (the part of a packet after the 20-byte header). No authentication
 * here except User-Password hiding, which needs the secret and the request authenticator.
 */
import { isUtf8 } from 'node:buffer';
import {
  ATTR_MESSAGE_AUTHENTICATOR,
  ATTR_VENDOR_SPECIFIC,
  DEFAULT_DICTIONARY,
  findAttribute,
  findAttributeByCode,
  type AttributeDef,
  type Dictionary,
} from './dictionary';
import { RadiusCodecError } from './errors';
import { bytesToIpv4, bytesToIpv6, bytesToIpv6Prefix, ipv4ToBytes, ipv6PrefixToBytes, ipv6ToBytes } from './ip';
import { decryptUserPassword, encryptUserPassword } from './pap';

/**
 * Decoded values: string (valid UTF-8; otherwise Buffer), integer and date as number,
 * integer64 as bigint, ipaddr/ipv6addr/ipv6prefix as text, octets as Buffer.
 */
export type AttributeValue = string | number | bigint | Buffer;

export interface NamedAttribute {
  readonly name: string;
  readonly value: AttributeValue;
}

/**
 * An attribute the dictionary does not know (or whose value does not fit its data type).
 * With `vendor`, `type` is the vendor-type inside a Vendor-Specific attribute. A Vendor-Specific
 * attribute of an unknown vendor that is not in the usual 1-byte type/1-byte length layout is
 * kept whole as `{ type: 26, raw }`.
 */
export interface RawAttribute {
  readonly type: number;
  readonly vendor?: number;
  readonly raw: Buffer;
}

export type RadiusAttribute = NamedAttribute | RawAttribute;

export type AttributeSource = readonly RadiusAttribute[] | { readonly attributes: readonly RadiusAttribute[] };

export interface AttributeCodecContext {
  readonly dictionary?: Dictionary;
  /** Needed to hide/reveal User-Password. */
  readonly secret?: string | Buffer;
  /** Request authenticator used for User-Password. */
  readonly authenticator?: Buffer;
}

export const MAX_ATTRIBUTE_VALUE_LENGTH = 253;
/** 253 minus vendor id (4) and vendor type/length (2). */
export const MAX_VSA_VALUE_LENGTH = 247;

export function isNamedAttribute(attr: RadiusAttribute): attr is NamedAttribute {
  return 'name' in attr;
}

function invalid(def: AttributeDef, why: string): RadiusCodecError {
  return new RadiusCodecError('INVALID_VALUE', `${def.name}: ${why}`);
}

function encodeInteger(def: AttributeDef, value: AttributeValue): Buffer {
  let n: number;
  if (typeof value === 'string') {
    const named = def.values
      ? Object.entries(def.values).find(([k]) => k.toLowerCase() === value.toLowerCase())
      : undefined;
    if (!named) throw new RadiusCodecError('UNKNOWN_VALUE', `${def.name}: unknown value name '${value}'`);
    n = named[1];
  } else if (typeof value === 'bigint') {
    n = Number(value);
  } else if (typeof value === 'number') {
    n = value;
  } else {
    throw invalid(def, 'integer expected');
  }
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw invalid(def, `${String(value)} is not an unsigned 32-bit integer`);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
}

function encodeInteger64(def: AttributeDef, value: AttributeValue): Buffer {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else throw invalid(def, 'bigint or safe integer expected');
  if (n < 0n || n > 0xffffffffffffffffn) throw invalid(def, 'out of unsigned 64-bit range');
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(n);
  return out;
}

function requireText(def: AttributeDef, value: AttributeValue): string {
  if (typeof value !== 'string') throw invalid(def, 'text expected');
  return value;
}

/** Encode one value per its dictionary data type (User-Password hiding excluded). */
export function encodeValue(def: AttributeDef, value: AttributeValue): Buffer {
  switch (def.dataType) {
    case 'string':
    case 'octets':
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      if (Buffer.isBuffer(value)) return value;
      throw invalid(def, 'string or Buffer expected');
    case 'integer':
      return encodeInteger(def, value);
    case 'integer64':
      return encodeInteger64(def, value);
    case 'date':
      if (typeof value === 'string') throw invalid(def, 'unix seconds expected');
      return encodeInteger(def, value);
    case 'ipaddr':
      return ipv4ToBytes(requireText(def, value));
    case 'ipv6addr':
      return ipv6ToBytes(requireText(def, value));
    case 'ipv6prefix':
      return ipv6PrefixToBytes(requireText(def, value));
  }
}

/** Decode one value; undefined when the bytes do not fit the data type (caller keeps it raw). */
export function decodeValue(def: AttributeDef, bytes: Buffer): AttributeValue | undefined {
  switch (def.dataType) {
    case 'string':
      return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
    case 'octets':
      return Buffer.from(bytes);
    case 'integer':
    case 'date':
      return bytes.length === 4 ? bytes.readUInt32BE(0) : undefined;
    case 'integer64':
      return bytes.length === 8 ? bytes.readBigUInt64BE(0) : undefined;
    case 'ipaddr':
      return bytes.length === 4 ? bytesToIpv4(bytes) : undefined;
    case 'ipv6addr':
      return bytes.length === 16 ? bytesToIpv6(bytes) : undefined;
    case 'ipv6prefix':
      return bytesToIpv6Prefix(bytes);
  }
}

export interface EncodedAttributes {
  readonly bytes: Buffer;
  /** Offset (within `bytes`) of the 16-byte Message-Authenticator value, zero-filled. */
  readonly messageAuthenticatorOffset?: number;
}

function tlv(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}

function vsaTlv(vendor: number, vendorType: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = ATTR_VENDOR_SPECIFIC;
  head[1] = value.length + 8;
  head.writeUInt32BE(vendor, 2);
  head[6] = vendorType;
  head[7] = value.length + 2;
  return Buffer.concat([head, value]);
}

function checkLength(label: string, length: number, max: number): void {
  if (length > max) throw new RadiusCodecError('ATTRIBUTE_TOO_LONG', `${label}: ${length} bytes exceeds ${max}`);
}

function encodeRaw(attr: RawAttribute): Buffer {
  if (!Number.isInteger(attr.type) || attr.type < 1 || attr.type > 255) {
    throw new RadiusCodecError('INVALID_ARGUMENT', `bad attribute type ${attr.type}`);
  }
  if (attr.vendor === undefined) {
    checkLength(`attribute ${attr.type}`, attr.raw.length, MAX_ATTRIBUTE_VALUE_LENGTH);
    return tlv(attr.type, attr.raw);
  }
  if (!Number.isInteger(attr.vendor) || attr.vendor < 0 || attr.vendor > 0xffffffff) {
    throw new RadiusCodecError('INVALID_ARGUMENT', `bad vendor id ${attr.vendor}`);
  }
  checkLength(`vendor ${attr.vendor} attribute ${attr.type}`, attr.raw.length, MAX_VSA_VALUE_LENGTH);
  return vsaTlv(attr.vendor, attr.type, attr.raw);
}

/**
 * Encode an attribute list in order. A Message-Authenticator entry (any value) becomes a
 * zero-filled placeholder whose offset is returned.
 */
export function encodeAttributes(
  attrs: readonly RadiusAttribute[],
  ctx: AttributeCodecContext = {},
): EncodedAttributes {
  const dict = ctx.dictionary ?? DEFAULT_DICTIONARY;
  const parts: Buffer[] = [];
  let offset = 0;
  let maOffset: number | undefined;
  for (const attr of attrs) {
    let part: Buffer;
    if (!isNamedAttribute(attr)) {
      part = encodeRaw(attr);
    } else {
      const def = findAttribute(attr.name, dict);
      if (!def) throw new RadiusCodecError('UNKNOWN_ATTRIBUTE', `unknown attribute ${attr.name}`);
      if (def.vendor === undefined && def.type === ATTR_MESSAGE_AUTHENTICATOR) {
        if (maOffset !== undefined)
          throw new RadiusCodecError('INVALID_ARGUMENT', 'more than one Message-Authenticator');
        maOffset = offset + 2;
        part = tlv(ATTR_MESSAGE_AUTHENTICATOR, Buffer.alloc(16));
      } else {
        let value: Buffer;
        if (def.encrypt === 'user-password') {
          if (ctx.secret === undefined || ctx.authenticator === undefined) {
            throw new RadiusCodecError('INVALID_ARGUMENT', `${def.name} needs the secret and a request authenticator`);
          }
          if (typeof attr.value !== 'string' && !Buffer.isBuffer(attr.value)) throw invalid(def, 'string expected');
          value = encryptUserPassword(attr.value, ctx.secret, ctx.authenticator);
        } else {
          value = encodeValue(def, attr.value);
        }
        if (def.vendor === undefined) {
          checkLength(def.name, value.length, MAX_ATTRIBUTE_VALUE_LENGTH);
          part = tlv(def.type, value);
        } else {
          checkLength(def.name, value.length, MAX_VSA_VALUE_LENGTH);
          part = vsaTlv(def.vendor, def.type, value);
        }
      }
    }
    parts.push(part);
    offset += part.length;
  }
  const bytes = Buffer.concat(parts);
  return maOffset === undefined ? { bytes } : { bytes, messageAuthenticatorOffset: maOffset };
}

export interface AttributeSpan {
  readonly type: number;
  /** Offset of the type byte within the scanned buffer. */
  readonly offset: number;
  readonly value: Buffer;
}

/** Split the attribute area into TLVs; throws RadiusCodecError on structural damage. */
export function scanAttributes(area: Buffer): AttributeSpan[] {
  const spans: AttributeSpan[] = [];
  let offset = 0;
  while (offset < area.length) {
    const type = area[offset];
    const length = area[offset + 1];
    if (type === undefined || length === undefined) {
      throw new RadiusCodecError('ATTRIBUTE_TRUNCATED', `attribute header truncated at offset ${offset}`);
    }
    if (length < 2) {
      throw new RadiusCodecError('ATTRIBUTE_LENGTH_INVALID', `attribute ${type} has length ${length} < 2`);
    }
    if (offset + length > area.length) {
      throw new RadiusCodecError('ATTRIBUTE_TRUNCATED', `attribute ${type} at offset ${offset} overruns the packet`);
    }
    spans.push({ type, offset, value: area.subarray(offset + 2, offset + length) });
    offset += length;
  }
  return spans;
}

interface VendorSub {
  readonly type: number;
  readonly value: Buffer;
}

/** Parse a VSA body in the RFC 2865 suggested format (1-byte type, 1-byte length); undefined if malformed. */
function parseVendorSubs(body: Buffer): VendorSub[] | undefined {
  const subs: VendorSub[] = [];
  let offset = 0;
  while (offset < body.length) {
    const type = body[offset];
    const length = body[offset + 1];
    if (type === undefined || length === undefined || length < 2 || offset + length > body.length) return undefined;
    subs.push({ type, value: body.subarray(offset + 2, offset + length) });
    offset += length;
  }
  return subs;
}

function decodeOne(
  def: AttributeDef | undefined,
  type: number,
  vendor: number | undefined,
  bytes: Buffer,
): RadiusAttribute {
  if (def) {
    const value = decodeValue(def, bytes);
    if (value !== undefined) return { name: def.name, value };
  }
  const raw = Buffer.from(bytes);
  return vendor === undefined ? { type, raw } : { type, vendor, raw };
}

function decodeVendorSpecific(value: Buffer, dict: Dictionary): RadiusAttribute[] {
  if (value.length < 5) {
    throw new RadiusCodecError('BAD_VENDOR_ATTRIBUTE', `Vendor-Specific value of ${value.length} bytes is too short`);
  }
  const vendor = value.readUInt32BE(0);
  const subs = parseVendorSubs(value.subarray(4));
  const known = dict.vendors.has(vendor);
  if (!subs) {
    if (known) throw new RadiusCodecError('BAD_VENDOR_ATTRIBUTE', `malformed Vendor-Specific for vendor ${vendor}`);
    return [{ type: ATTR_VENDOR_SPECIFIC, raw: Buffer.from(value) }];
  }
  return subs.map((sub) => decodeOne(findAttributeByCode(sub.type, vendor, dict), sub.type, vendor, sub.value));
}

/**
 * Decode the attribute area. User-Password is revealed when ctx has secret and authenticator,
 * otherwise kept raw.
 */
export function decodeAttributes(area: Buffer, ctx: AttributeCodecContext = {}): RadiusAttribute[] {
  const dict = ctx.dictionary ?? DEFAULT_DICTIONARY;
  const out: RadiusAttribute[] = [];
  for (const span of scanAttributes(area)) {
    if (span.type === ATTR_VENDOR_SPECIFIC) {
      out.push(...decodeVendorSpecific(span.value, dict));
      continue;
    }
    const def = findAttributeByCode(span.type, undefined, dict);
    if (def?.encrypt === 'user-password') {
      out.push(revealPassword(def, span.value, ctx));
      continue;
    }
    out.push(decodeOne(def, span.type, undefined, span.value));
  }
  return out;
}

function revealPassword(def: AttributeDef, cipher: Buffer, ctx: AttributeCodecContext): RadiusAttribute {
  const raw = { type: def.type, raw: Buffer.from(cipher) };
  if (ctx.secret === undefined || ctx.authenticator === undefined) return raw;
  if (cipher.length === 0 || cipher.length % 16 !== 0 || cipher.length > 128) return raw;
  const clear = decryptUserPassword(cipher, ctx.secret, ctx.authenticator);
  return { name: def.name, value: isUtf8(clear) ? clear.toString('utf8') : clear };
}

// ---------------------------------------------------------------- lookup helpers

function listOf(source: AttributeSource): readonly RadiusAttribute[] {
  return 'attributes' in source ? source.attributes : source;
}

/** All values of a named attribute, in packet order (case-insensitive name). */
export function getAttributes(source: AttributeSource, name: string): AttributeValue[] {
  const wanted = name.toLowerCase();
  const out: AttributeValue[] = [];
  for (const attr of listOf(source))
    if (isNamedAttribute(attr) && attr.name.toLowerCase() === wanted) out.push(attr.value);
  return out;
}

export function getAttribute(source: AttributeSource, name: string): AttributeValue | undefined {
  return getAttributes(source, name)[0];
}

/** First value as text (Buffers decoded as UTF-8, numbers formatted). */
export function getString(source: AttributeSource, name: string): string | undefined {
  const v = getAttribute(source, name);
  if (v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export function getNumber(source: AttributeSource, name: string): number | undefined {
  const v = getAttribute(source, name);
  return typeof v === 'number' ? v : undefined;
}

export function getBuffer(source: AttributeSource, name: string): Buffer | undefined {
  const v = getAttribute(source, name);
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : undefined;
}

/** Raw (unknown) attributes matching type and vendor. */
export function getRawAttributes(source: AttributeSource, type: number, vendor?: number): Buffer[] {
  const out: Buffer[] = [];
  for (const attr of listOf(source))
    if (!isNamedAttribute(attr) && attr.type === type && attr.vendor === vendor) out.push(attr.raw);
  return out;
}
