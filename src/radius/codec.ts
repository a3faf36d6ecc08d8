/**
 * RADIUS packet codec (pure, no I/O): header, authenticators, Message-Authenticator, and
 * verification of requests and replies. RFC 2865 §3, RFC 2866 §3, RFC 3579 §3.2, RFC 5176 §2.3/§3.4.
 *
 * Authenticators:
 *   Access-Request, Status-Server   16 random bytes
 *   Accounting/CoA/Disconnect-Req   MD5(Code+Id+Len+16 zero octets+Attrs+Secret)
 *   any response                    MD5(Code+Id+Len+RequestAuth+Attrs+Secret)
 * Message-Authenticator = HMAC-MD5(secret, packet with the MA value zeroed), where the
 * authenticator field holds: the random authenticator (Access-Request/Status-Server), 16 zeros
 * (Accounting/CoA/Disconnect request: the MD5 authenticator is computed afterwards over the
 * packet including the MA), or the request authenticator (responses).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  decodeAttributes,
  encodeAttributes,
  isNamedAttribute,
  scanAttributes,
  type RadiusAttribute,
} from './attributes';
import { ATTR_MESSAGE_AUTHENTICATOR, DEFAULT_DICTIONARY, type Dictionary } from './dictionary';
import { RadiusCodecError } from './errors';

export const PacketCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoARequest: 43,
  CoAAck: 44,
  CoANak: 45,
} as const;

export const PACKET_CODE_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [1, 'Access-Request'],
  [2, 'Access-Accept'],
  [3, 'Access-Reject'],
  [4, 'Accounting-Request'],
  [5, 'Accounting-Response'],
  [11, 'Access-Challenge'],
  [12, 'Status-Server'],
  [40, 'Disconnect-Request'],
  [41, 'Disconnect-ACK'],
  [42, 'Disconnect-NAK'],
  [43, 'CoA-Request'],
  [44, 'CoA-ACK'],
  [45, 'CoA-NAK'],
]);

export const HEADER_LENGTH = 20;
export const MAX_PACKET_LENGTH = 4096;

const REPLY_CODES: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  [PacketCode.AccessRequest, [PacketCode.AccessAccept, PacketCode.AccessReject, PacketCode.AccessChallenge]],
  [PacketCode.AccountingRequest, [PacketCode.AccountingResponse]],
  [PacketCode.StatusServer, [PacketCode.AccessAccept, PacketCode.AccountingResponse]],
  [PacketCode.DisconnectRequest, [PacketCode.DisconnectAck, PacketCode.DisconnectNak]],
  [PacketCode.CoARequest, [PacketCode.CoAAck, PacketCode.CoANak]],
]);

export function packetCodeName(code: number): string {
  return PACKET_CODE_NAMES.get(code) ?? `Unknown-Packet-${code}`;
}

/** Codes this codec can send as requests: 1, 4, 12, 40, 43. */
export function isRequestCode(code: number): boolean {
  return REPLY_CODES.has(code);
}

/** Access-Request and Status-Server carry a random Request Authenticator. */
export function usesRandomAuthenticator(code: number): boolean {
  return code === PacketCode.AccessRequest || code === PacketCode.StatusServer;
}

export function expectedReplyCodes(requestCode: number): readonly number[] {
  return REPLY_CODES.get(requestCode) ?? [];
}

export type Secret = string | Buffer;

const secretBytes = (secret: Secret): Buffer => (typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-MD5(secret, packet). The caller zeroes the MA value (and the authenticator where required). */
export function hmacMd5(packet: Buffer, secret: Secret): Buffer {
  return createHmac('md5', secretBytes(secret)).update(packet).digest();
}

export interface RadiusPacket {
  readonly code: number;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly attributes: RadiusAttribute[];
}

export interface EncodedPacket extends RadiusPacket {
  /** The exact bytes to put on the wire (retransmit these unchanged). */
  readonly buffer: Buffer;
}

function checkIdentifier(identifier: number): void {
  if (!Number.isInteger(identifier) || identifier < 0 || identifier > 255) {
    throw new RadiusCodecError('INVALID_ARGUMENT', `identifier must be 0..255, got ${identifier}`);
  }
}

function hasMessageAuthenticator(attrs: readonly RadiusAttribute[]): boolean {
  return attrs.some(isMessageAuthenticator);
}

/** Put a Message-Authenticator placeholder first (BlastRADIUS advice) unless one is already listed. */
function withMessageAuthenticator(attrs: readonly RadiusAttribute[], wanted: boolean): readonly RadiusAttribute[] {
  if (!wanted || hasMessageAuthenticator(attrs)) return attrs;
  return [{ name: 'Message-Authenticator', value: Buffer.alloc(16) }, ...attrs];
}

function assemble(code: number, identifier: number, authenticator: Buffer, attrs: Buffer): Buffer {
  const length = HEADER_LENGTH + attrs.length;
  if (length > MAX_PACKET_LENGTH) {
    throw new RadiusCodecError('PACKET_TOO_LONG', `packet of ${length} bytes exceeds ${MAX_PACKET_LENGTH}`);
  }
  const packet = Buffer.alloc(length);
  packet[0] = code;
  packet[1] = identifier;
  packet.writeUInt16BE(length, 2);
  authenticator.copy(packet, 4);
  attrs.copy(packet, HEADER_LENGTH);
  return packet;
}

export interface EncodeRequestOptions {
  readonly code: number;
  readonly identifier: number;
  readonly secret: Secret;
  readonly attributes: readonly RadiusAttribute[];
  /** Access-Request/Status-Server only: the random authenticator (default crypto.randomBytes(16)). */
  readonly authenticator?: Buffer;
  /**
   * Add a Message-Authenticator (placed first) if the list has none. A listed
   * Message-Authenticator is always filled in. Default: true for Access-Request and Status-Server.
   */
  readonly addMessageAuthenticator?: boolean;
  readonly dictionary?: Dictionary;
}

/** Build a request packet: 1 Access-Request, 4 Accounting, 12 Status-Server, 40 Disconnect, 43 CoA. */
export function encodeRequest(opts: EncodeRequestOptions): EncodedPacket {
  const { code, identifier, secret } = opts;
  if (!isRequestCode(code))
    throw new RadiusCodecError('INVALID_ARGUMENT', `${packetCodeName(code)} is not a request code`);
  checkIdentifier(identifier);
  const random = usesRandomAuthenticator(code);
  if (opts.authenticator !== undefined && (!random || opts.authenticator.length !== 16)) {
    throw new RadiusCodecError(
      'INVALID_ARGUMENT',
      'an explicit 16-byte authenticator is only for Access-Request/Status-Server',
    );
  }
  const requestAuth = random ? (opts.authenticator ?? randomBytes(16)) : Buffer.alloc(16);
  const attrs = withMessageAuthenticator(opts.attributes, opts.addMessageAuthenticator ?? random);
  const encoded = encodeAttributes(attrs, {
    dictionary: opts.dictionary ?? DEFAULT_DICTIONARY,
    secret,
    ...(random ? { authenticator: requestAuth } : {}),
  });
  const packet = assemble(code, identifier, requestAuth, encoded.bytes);
  if (encoded.messageAuthenticatorOffset !== undefined) {
    // Authenticator field is the random one, or still 16 zeros for Accounting/CoA/Disconnect.
    hmacMd5(packet, secret).copy(packet, HEADER_LENGTH + encoded.messageAuthenticatorOffset);
  }
  if (!random) md5(packet, secretBytes(secret)).copy(packet, 4);
  return encodedView(packet, attrs, encoded.messageAuthenticatorOffset);
}

function isMessageAuthenticator(a: RadiusAttribute): boolean {
  return isNamedAttribute(a)
    ? a.name.toLowerCase() === 'message-authenticator'
    : a.type === ATTR_MESSAGE_AUTHENTICATOR && a.vendor === undefined;
}

/** The sent attribute list, with the Message-Authenticator's final value filled in. */
function encodedView(packet: Buffer, sent: readonly RadiusAttribute[], maOffset: number | undefined): EncodedPacket {
  const ma =
    maOffset === undefined
      ? undefined
      : Buffer.from(packet.subarray(HEADER_LENGTH + maOffset, HEADER_LENGTH + maOffset + 16));
  return {
    code: packet[0] ?? 0,
    identifier: packet[1] ?? 0,
    authenticator: Buffer.from(packet.subarray(4, 20)),
    attributes: sent.map((a) => (ma && isMessageAuthenticator(a) ? { name: 'Message-Authenticator', value: ma } : a)),
    buffer: packet,
  };
}

/** What a response needs to know about its request. A decoded RadiusPacket fits. */
export interface RequestRef {
  readonly code?: number;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly attributes?: readonly RadiusAttribute[];
}

export interface EncodeResponseOptions {
  readonly code: number;
  readonly request: RequestRef;
  readonly secret: Secret;
  readonly attributes?: readonly RadiusAttribute[];
  /** Default: true when the request carried a Message-Authenticator. */
  readonly addMessageAuthenticator?: boolean;
  /** Append the request's Proxy-State attributes in order (RFC 2865 §5.33). Default true. */
  readonly copyProxyState?: boolean;
  readonly dictionary?: Dictionary;
}

/** Build a response (ACK/NAK/Accept/...) to a request. */
export function encodeResponse(opts: EncodeResponseOptions): EncodedPacket {
  const { code, request, secret } = opts;
  if (!Number.isInteger(code) || code < 1 || code > 255)
    throw new RadiusCodecError('INVALID_ARGUMENT', `bad code ${code}`);
  checkIdentifier(request.identifier);
  if (request.authenticator.length !== 16)
    throw new RadiusCodecError('INVALID_ARGUMENT', 'request authenticator must be 16 bytes');
  const reqAttrs = request.attributes ?? [];
  const proxyState =
    opts.copyProxyState === false
      ? []
      : reqAttrs.filter((a) =>
          isNamedAttribute(a) ? a.name.toLowerCase() === 'proxy-state' : a.type === 33 && a.vendor === undefined,
        );
  const wanted = opts.addMessageAuthenticator ?? hasMessageAuthenticator(reqAttrs);
  const attrs = withMessageAuthenticator([...(opts.attributes ?? []), ...proxyState], wanted);
  const encoded = encodeAttributes(attrs, { dictionary: opts.dictionary ?? DEFAULT_DICTIONARY });
  const packet = assemble(code, request.identifier, request.authenticator, encoded.bytes);
  if (encoded.messageAuthenticatorOffset !== undefined) {
    hmacMd5(packet, secret).copy(packet, HEADER_LENGTH + encoded.messageAuthenticatorOffset);
  }
  md5(packet, secretBytes(secret)).copy(packet, 4);
  return encodedView(packet, attrs, encoded.messageAuthenticatorOffset);
}

export interface DecodeOptions {
  /** With the secret, User-Password in an Access-Request is revealed (otherwise kept raw). */
  readonly secret?: Secret;
  readonly dictionary?: Dictionary;
}

/** Header checks; returns the packet trimmed to its Length field (extra octets are padding, RFC 2865 §3). */
export function checkHeader(buf: Buffer): Buffer {
  if (buf.length < HEADER_LENGTH) {
    throw new RadiusCodecError('PACKET_TOO_SHORT', `${buf.length} bytes is shorter than the 20-byte header`);
  }
  const length = buf.readUInt16BE(2);
  if (length < HEADER_LENGTH || length > MAX_PACKET_LENGTH) {
    throw new RadiusCodecError('LENGTH_MISMATCH', `Length field ${length} outside 20..4096`);
  }
  if (length > buf.length) {
    throw new RadiusCodecError('LENGTH_MISMATCH', `Length field ${length} exceeds the ${buf.length} bytes received`);
  }
  return buf.subarray(0, length);
}

/** Decode any RADIUS packet. Throws only RadiusCodecError. Does not authenticate anything. */
export function decodePacket(buf: Buffer, opts: DecodeOptions = {}): RadiusPacket {
  const packet = checkHeader(buf);
  const code = packet[0] ?? 0;
  const authenticator = Buffer.from(packet.subarray(4, 20));
  const attributes = decodeAttributes(packet.subarray(HEADER_LENGTH), {
    dictionary: opts.dictionary ?? DEFAULT_DICTIONARY,
    ...(opts.secret !== undefined && code === PacketCode.AccessRequest ? { secret: opts.secret, authenticator } : {}),
  });
  return { code, identifier: packet[1] ?? 0, authenticator, attributes };
}

// ---------------------------------------------------------------- verification

export type VerifyFailure =
  | 'malformed'
  | 'identifier-mismatch'
  | 'unexpected-code'
  | 'bad-authenticator'
  | 'bad-message-authenticator'
  | 'missing-message-authenticator';

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly reason: VerifyFailure };

const OK: VerifyResult = { ok: true };
const fail = (reason: VerifyFailure): VerifyResult => ({ ok: false, reason });

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Value offsets and lengths of all top-level Message-Authenticators; throws on damage. */
function findMessageAuthenticators(packet: Buffer): { offset: number; length: number }[] {
  return scanAttributes(packet.subarray(HEADER_LENGTH))
    .filter((s) => s.type === ATTR_MESSAGE_AUTHENTICATOR)
    .map((s) => ({ offset: HEADER_LENGTH + s.offset + 2, length: s.value.length }));
}

/**
 * Check the Message-Authenticator if present. `authField` is what the authenticator field must
 * hold while hashing (random/request authenticator, or zeros for Accounting/CoA/Disconnect).
 */
function checkMessageAuthenticator(packet: Buffer, secret: Secret, authField: Buffer, required: boolean): VerifyResult {
  let mas: { offset: number; length: number }[];
  try {
    mas = findMessageAuthenticators(packet);
  } catch {
    return fail('malformed');
  }
  const ma = mas[0];
  if (!ma) return required ? fail('missing-message-authenticator') : OK;
  if (mas.length > 1 || ma.length !== 16) return fail('bad-message-authenticator');
  const copy = Buffer.from(packet);
  authField.copy(copy, 4);
  copy.fill(0, ma.offset, ma.offset + 16);
  const expected = hmacMd5(copy, secret);
  return safeEqual(expected, packet.subarray(ma.offset, ma.offset + 16)) ? OK : fail('bad-message-authenticator');
}

export interface VerifyOptions {
  /** Reject packets without a Message-Authenticator. Default false (FreeRADIUS 3.2.1 sends none in replies). */
  readonly requireMessageAuthenticator?: boolean;
}

/**
 * Verify a reply against the request it answers: identifier, code, Response Authenticator,
 * and the Message-Authenticator when present (or required).
 */
export function verifyResponse(
  response: Buffer,
  request: { readonly code: number; readonly identifier: number; readonly authenticator: Buffer },
  secret: Secret,
  opts: VerifyOptions = {},
): VerifyResult {
  let packet: Buffer;
  try {
    packet = checkHeader(response);
  } catch {
    return fail('malformed');
  }
  if (packet[1] !== request.identifier) return fail('identifier-mismatch');
  if (!expectedReplyCodes(request.code).includes(packet[0] ?? 0)) return fail('unexpected-code');
  const copy = Buffer.from(packet);
  request.authenticator.copy(copy, 4);
  if (!safeEqual(md5(copy, secretBytes(secret)), packet.subarray(4, 20))) return fail('bad-authenticator');
  return checkMessageAuthenticator(packet, secret, request.authenticator, opts.requireMessageAuthenticator ?? false);
}

/**
 * Verify a received request (e.g. a NAS simulator receiving CoA/Disconnect). Accounting, CoA and
 * Disconnect requests: MD5 Request Authenticator. All: Message-Authenticator when present;
 * Status-Server requires one (RFC 5997). Access-Request authenticators are random, so without a
 * Message-Authenticator only the shared secret's effect on User-Password can tell.
 */
export function verifyRequest(request: Buffer, secret: Secret, opts: VerifyOptions = {}): VerifyResult {
  let packet: Buffer;
  try {
    packet = checkHeader(request);
  } catch {
    return fail('malformed');
  }
  const code = packet[0] ?? 0;
  if (!isRequestCode(code)) return fail('unexpected-code');
  const required = opts.requireMessageAuthenticator ?? code === PacketCode.StatusServer;
  if (usesRandomAuthenticator(code)) {
    return checkMessageAuthenticator(packet, secret, packet.subarray(4, 20), required);
  }
  const zeros = Buffer.alloc(16);
  const copy = Buffer.from(packet);
  zeros.copy(copy, 4);
  if (!safeEqual(md5(copy, secretBytes(secret)), packet.subarray(4, 20))) return fail('bad-authenticator');
  return checkMessageAuthenticator(packet, secret, zeros, required);
}

// One import point for codec users: attribute helpers and the authentication methods.
export * from './attributes';
export * from './pap';
export * from './chap';
export * from './mschapv2';
export { RadiusCodecError } from './errors';
