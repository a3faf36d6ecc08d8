import { createHash, createHmac } from 'node:crypto';
import {
  decodePacket,
  encodeRequest,
  encodeResponse,
  getAttribute,
  getAttributes,
  getBuffer,
  getNumber,
  getRawAttributes,
  getString,
  packetCodeName,
  PacketCode,
  RadiusCodecError,
  verifyRequest,
  verifyResponse,
  type RadiusAttribute,
  type RadiusPacket,
} from '../../../src/radius/codec';
import {
  attributeValueCode,
  attributeValueName,
  createDictionary,
  DEFAULT_VENDORS,
  findAttribute,
  findAttributeByCode,
  STANDARD_ATTRIBUTES,
} from '../../../src/radius/dictionary';

const SECRET = 'testing123';

function md5(...parts: Buffer[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Hand-built TLV, independent of the codec's encoder. */
function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from([type, v.length + 2]), v]);
}

function vsa(vendor: number, type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  const body = Buffer.alloc(4);
  body.writeUInt32BE(vendor);
  return tlv(26, Buffer.concat([body, Buffer.from([type, v.length + 2]), v]));
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function header(code: number, id: number, auth: Buffer, attrs: Buffer): Buffer {
  const len = 20 + attrs.length;
  return Buffer.concat([Buffer.from([code, id, len >> 8, len & 255]), auth, attrs]);
}

function expectCodecError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(RadiusCodecError);
  expect((caught as RadiusCodecError).code).toBe(code);
}

describe('dictionary', () => {
  it('maps names and codes both ways (case-insensitive names)', () => {
    expect(findAttribute('acct-session-id')?.type).toBe(44);
    expect(findAttributeByCode(8, 14988)?.name).toBe('Mikrotik-Rate-Limit');
    expect(findAttributeByCode(8, 14122)?.name).toBe('WISPr-Bandwidth-Max-Down');
    expect(findAttributeByCode(26, 311)?.name).toBe('MS-CHAP2-Success');
    expect(findAttributeByCode(101)?.name).toBe('Error-Cause');
    expect(findAttribute('NAS-IPv6-Address')?.dataType).toBe('ipv6addr');
  });

  it('names integer values', () => {
    expect(attributeValueCode('Acct-Status-Type', 'interim-update')).toBe(3);
    expect(attributeValueName('Acct-Status-Type', 3)).toBe('Interim-Update');
    expect(attributeValueName('Error-Cause', 503)).toBe('Session-Context-Not-Found');
    expect(attributeValueName('NAS-Port-Type', 19)).toBe('Wireless-802.11');
    expect(attributeValueName('Service-Type', 17)).toBe('Authorize-Only');
    expect(attributeValueName('Acct-Terminate-Cause', 6)).toBe('Admin-Reset');
    expect(attributeValueName('User-Name', 1)).toBeUndefined();
  });

  it('rejects duplicate definitions', () => {
    expect(() => createDictionary([...STANDARD_ATTRIBUTES, { name: 'X', type: 1, dataType: 'string' }], [])).toThrow();
  });

  it('names packet codes', () => {
    expect(packetCodeName(40)).toBe('Disconnect-Request');
    expect(packetCodeName(45)).toBe('CoA-NAK');
    expect(packetCodeName(99)).toBe('Unknown-Packet-99');
  });
});

describe('attribute values', () => {
  const attrs: RadiusAttribute[] = [
    { name: 'User-Name', value: 'wanjikũ@isp' },
    { name: 'NAS-IP-Address', value: '10.5.50.1' },
    { name: 'NAS-IPv6-Address', value: '2001:db8::1' },
    { name: 'Framed-IPv6-Prefix', value: '2001:db8:aa00::/40' },
    { name: 'NAS-Port', value: 4294967295 },
    { name: 'Acct-Status-Type', value: 'Interim-Update' },
    { name: 'Event-Timestamp', value: 1700000000 },
    { name: 'Class', value: Buffer.from([0, 1, 2, 255]) },
    { name: 'Mikrotik-Rate-Limit', value: '2M/5M' },
    { name: 'Mikrotik-Host-IP', value: '192.168.88.10' },
    { name: 'Mikrotik-Total-Limit-Gigawords', value: 3 },
    { name: 'WISPr-Bandwidth-Max-Up', value: 1000000 },
    { name: 'MS-CHAP-Error', value: 'E=691 R=0' },
    { type: 200, raw: Buffer.from('opaque') },
    { type: 5, vendor: 9, raw: Buffer.from('cisco-ish') },
  ];

  it('round-trip through encodeRequest/decodePacket in order', () => {
    const pkt = encodeRequest({ code: PacketCode.AccountingRequest, identifier: 9, secret: SECRET, attributes: attrs });
    const back = decodePacket(pkt.buffer);
    expect(back.code).toBe(4);
    expect(back.identifier).toBe(9);
    expect(back.authenticator).toEqual(pkt.authenticator);
    expect(back.attributes).toEqual([...attrs.slice(0, 5), { name: 'Acct-Status-Type', value: 3 }, ...attrs.slice(6)]);
  });

  it('encodes VSAs as one Vendor-Specific per sub-attribute, RFC 2865 layout', () => {
    const pkt = encodeRequest({
      code: PacketCode.CoARequest,
      identifier: 1,
      secret: SECRET,
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }],
    });
    expect(pkt.buffer.subarray(20)).toEqual(vsa(14988, 8, '2M/5M'));
  });

  it('splits a Vendor-Specific with several sub-attributes and keeps unknown ones raw', () => {
    const body = Buffer.concat([u32(14988), Buffer.from([8, 7]), Buffer.from('1M/2M'), Buffer.from([99, 3, 7])]);
    const buf = header(2, 1, Buffer.alloc(16), tlv(26, body));
    expect(decodePacket(buf).attributes).toEqual([
      { name: 'Mikrotik-Rate-Limit', value: '1M/2M' },
      { type: 99, vendor: 14988, raw: Buffer.from([7]) },
    ]);
  });

  it('keeps a non-standard-layout VSA of an unknown vendor whole', () => {
    const value = Buffer.concat([u32(4242), Buffer.from([1, 9, 9])]);
    expect(decodePacket(header(2, 1, Buffer.alloc(16), tlv(26, value))).attributes).toEqual([{ type: 26, raw: value }]);
  });

  it('keeps values that do not fit their type raw', () => {
    const buf = header(
      2,
      1,
      Buffer.alloc(16),
      Buffer.concat([tlv(27, Buffer.from([1, 2])), tlv(4, Buffer.from([1, 2, 3]))]),
    );
    expect(decodePacket(buf).attributes).toEqual([
      { type: 27, raw: Buffer.from([1, 2]) },
      { type: 4, raw: Buffer.from([1, 2, 3]) },
    ]);
  });

  it('returns non-UTF-8 string attributes as Buffer', () => {
    const buf = header(2, 1, Buffer.alloc(16), tlv(18, Buffer.from([0xff, 0xfe])));
    expect(decodePacket(buf).attributes).toEqual([{ name: 'Reply-Message', value: Buffer.from([0xff, 0xfe]) }]);
  });

  it('supports integer64 with a custom dictionary', () => {
    const dictionary = createDictionary(
      [...STANDARD_ATTRIBUTES, { name: 'Test-Counter64', type: 1, vendor: 14988, dataType: 'integer64' }],
      DEFAULT_VENDORS,
    );
    const big = 2n ** 40n + 5n;
    const pkt = encodeRequest({
      code: 4,
      identifier: 1,
      secret: SECRET,
      attributes: [{ name: 'Test-Counter64', value: big }],
      dictionary,
    });
    expect(decodePacket(pkt.buffer, { dictionary }).attributes).toEqual([{ name: 'Test-Counter64', value: big }]);
  });

  it('allows 253-byte values (253 UTF-8 bytes, not characters) and rejects 254', () => {
    const ok = 'é'.repeat(126) + 'x'; // 253 bytes
    const pkt = encodeRequest({
      code: 4,
      identifier: 1,
      secret: SECRET,
      attributes: [{ name: 'User-Name', value: ok }],
    });
    expect(getString(decodePacket(pkt.buffer), 'User-Name')).toBe(ok);
    expectCodecError(
      () =>
        encodeRequest({
          code: 4,
          identifier: 1,
          secret: SECRET,
          attributes: [{ name: 'User-Name', value: 'é'.repeat(127) }],
        }),
      'ATTRIBUTE_TOO_LONG',
    );
    expectCodecError(
      () =>
        encodeRequest({
          code: 4,
          identifier: 1,
          secret: SECRET,
          attributes: [{ name: 'Mikrotik-Group', value: 'g'.repeat(248) }],
        }),
      'ATTRIBUTE_TOO_LONG',
    );
  });

  it.each<[RadiusAttribute, string]>([
    [{ name: 'No-Such-Attribute', value: 'x' }, 'UNKNOWN_ATTRIBUTE'],
    [{ name: 'Acct-Status-Type', value: 'Begin' }, 'UNKNOWN_VALUE'],
    [{ name: 'NAS-Port', value: -1 }, 'INVALID_VALUE'],
    [{ name: 'NAS-Port', value: 2 ** 32 }, 'INVALID_VALUE'],
    [{ name: 'NAS-Port', value: 1.5 }, 'INVALID_VALUE'],
    [{ name: 'NAS-IP-Address', value: '10.0.0.256' }, 'INVALID_VALUE'],
    [{ name: 'NAS-IPv6-Address', value: '10.0.0.1' }, 'INVALID_VALUE'],
    [{ name: 'Framed-IPv6-Prefix', value: '2001:db8::/129' }, 'INVALID_VALUE'],
    [{ name: 'Event-Timestamp', value: 'now' }, 'INVALID_VALUE'],
    [{ name: 'Class', value: 5 }, 'INVALID_VALUE'],
    [{ type: 0, raw: Buffer.alloc(1) }, 'INVALID_ARGUMENT'],
  ])('rejects %j with %s', (attr, code) => {
    expectCodecError(() => encodeRequest({ code: 4, identifier: 1, secret: SECRET, attributes: [attr] }), code);
  });

  it('rejects packets over 4096 bytes', () => {
    const attributes = Array.from({ length: 17 }, () => ({ name: 'Reply-Message', value: 'x'.repeat(253) }));
    expectCodecError(() => encodeRequest({ code: 4, identifier: 1, secret: SECRET, attributes }), 'PACKET_TOO_LONG');
  });

  it('getters find first/all values by name', () => {
    const pkt: RadiusPacket = {
      code: 2,
      identifier: 0,
      authenticator: Buffer.alloc(16),
      attributes: [
        { name: 'Reply-Message', value: 'a' },
        { name: 'Session-Timeout', value: 60 },
        { name: 'Reply-Message', value: 'b' },
        { name: 'Class', value: Buffer.from('c') },
        { type: 200, raw: Buffer.from('r') },
      ],
    };
    expect(getAttribute(pkt, 'reply-message')).toBe('a');
    expect(getAttributes(pkt, 'Reply-Message')).toEqual(['a', 'b']);
    expect(getNumber(pkt, 'Session-Timeout')).toBe(60);
    expect(getNumber(pkt, 'Reply-Message')).toBeUndefined();
    expect(getString(pkt, 'Class')).toBe('c');
    expect(getBuffer(pkt.attributes, 'Class')).toEqual(Buffer.from('c'));
    expect(getRawAttributes(pkt, 200)).toEqual([Buffer.from('r')]);
    expect(getAttribute(pkt, 'User-Name')).toBeUndefined();
  });
});

describe('decodePacket structural errors', () => {
  const auth = Buffer.alloc(16);
  it.each<[string, Buffer, string]>([
    ['too short', Buffer.alloc(19), 'PACKET_TOO_SHORT'],
    ['length < 20', Buffer.concat([Buffer.from([2, 1, 0, 19]), auth]), 'LENGTH_MISMATCH'],
    ['length > 4096', Buffer.concat([Buffer.from([2, 1, 0x10, 0x01]), auth]), 'LENGTH_MISMATCH'],
    ['length > received', Buffer.concat([Buffer.from([2, 1, 0, 30]), auth]), 'LENGTH_MISMATCH'],
    ['attribute length 1', header(2, 1, auth, Buffer.from([18, 1, 0])), 'ATTRIBUTE_LENGTH_INVALID'],
    ['attribute length 0', header(2, 1, auth, Buffer.from([18, 0])), 'ATTRIBUTE_LENGTH_INVALID'],
    ['attribute overruns', header(2, 1, auth, Buffer.from([18, 9, 65])), 'ATTRIBUTE_TRUNCATED'],
    ['lone type byte', header(2, 1, auth, Buffer.from([18])), 'ATTRIBUTE_TRUNCATED'],
    ['VSA too short', header(2, 1, auth, tlv(26, Buffer.from([0, 0, 0x3a]))), 'BAD_VENDOR_ATTRIBUTE'],
    ['VSA without sub-attribute', header(2, 1, auth, tlv(26, u32(14988))), 'BAD_VENDOR_ATTRIBUTE'],
    [
      'bad MikroTik sub-attribute',
      header(2, 1, auth, tlv(26, Buffer.concat([u32(14988), Buffer.from([8, 9, 65])]))),
      'BAD_VENDOR_ATTRIBUTE',
    ],
  ])('%s', (_label, buf, code) => {
    expectCodecError(() => decodePacket(buf), code);
  });

  it('ignores octets beyond the Length field (RFC 2865 §3 padding)', () => {
    const buf = Buffer.concat([header(2, 1, auth, tlv(27, u32(60))), Buffer.from([0xde, 0xad])]);
    expect(decodePacket(buf).attributes).toEqual([{ name: 'Session-Timeout', value: 60 }]);
  });
});

describe('authenticators', () => {
  const attrsBytes = Buffer.concat([tlv(1, '0712345678'), tlv(44, '81a0000b'), tlv(8, Buffer.from([10, 5, 50, 20]))]);
  const attrs: RadiusAttribute[] = [
    { name: 'User-Name', value: '0712345678' },
    { name: 'Acct-Session-Id', value: '81a0000b' },
    { name: 'Framed-IP-Address', value: '10.5.50.20' },
  ];

  it.each([4, 40, 43])('code %i request authenticator = MD5(header with zero auth + attrs + secret)', (code) => {
    const pkt = encodeRequest({ code, identifier: 77, secret: SECRET, attributes: attrs });
    const zero = header(code, 77, Buffer.alloc(16), attrsBytes);
    const expected = header(code, 77, md5(zero, Buffer.from(SECRET)), attrsBytes);
    expect(pkt.buffer).toEqual(expected);
    expect(verifyRequest(pkt.buffer, SECRET)).toEqual({ ok: true });
    expect(verifyRequest(pkt.buffer, 'wrong')).toEqual({ ok: false, reason: 'bad-authenticator' });
  });

  it.each([40, 43])('code %i with Message-Authenticator: HMAC over zero auth + zero MA first, then MD5', (code) => {
    // Hand construction per RFC 5176 §3.4 (MA first in the list, where the codec puts it).
    const withZeroMa = Buffer.concat([tlv(80, Buffer.alloc(16)), attrsBytes]);
    const p = header(code, 200, Buffer.alloc(16), withZeroMa);
    createHmac('md5', SECRET).update(p).digest().copy(p, 22);
    md5(p, Buffer.from(SECRET)).copy(p, 4);

    const pkt = encodeRequest({
      code,
      identifier: 200,
      secret: SECRET,
      attributes: attrs,
      addMessageAuthenticator: true,
    });
    expect(pkt.buffer).toEqual(p);
    expect(verifyRequest(pkt.buffer, SECRET)).toEqual({ ok: true });
    expect(verifyRequest(pkt.buffer, SECRET, { requireMessageAuthenticator: true })).toEqual({ ok: true });

    // The npm `radius` 1.1.4 order (MD5 authenticator first, HMAC over it afterwards) must not verify.
    const wrong = header(code, 200, Buffer.alloc(16), withZeroMa);
    md5(wrong, Buffer.from(SECRET)).copy(wrong, 4);
    createHmac('md5', SECRET).update(wrong).digest().copy(wrong, 22);
    expect(verifyRequest(wrong, SECRET).ok).toBe(false);
  });

  it('honours an explicitly placed Message-Authenticator (last here)', () => {
    const pkt = encodeRequest({
      code: 40,
      identifier: 3,
      secret: SECRET,
      attributes: [...attrs, { name: 'Message-Authenticator', value: Buffer.alloc(16) }],
    });
    const p = header(40, 3, Buffer.alloc(16), Buffer.concat([attrsBytes, tlv(80, Buffer.alloc(16))]));
    createHmac('md5', SECRET)
      .update(p)
      .digest()
      .copy(p, p.length - 16);
    md5(p, Buffer.from(SECRET)).copy(p, 4);
    expect(pkt.buffer).toEqual(p);
    expect(getBuffer(pkt, 'Message-Authenticator')).toEqual(p.subarray(p.length - 16));
  });

  it('Access-Request: random authenticator, hidden password, MA over the random authenticator', () => {
    const auth = Buffer.from('0123456789abcdef');
    const pkt = encodeRequest({
      code: 1,
      identifier: 5,
      secret: SECRET,
      authenticator: auth,
      attributes: [
        { name: 'User-Name', value: 'alice' },
        { name: 'User-Password', value: 'alicepw' },
      ],
    });
    expect(pkt.authenticator).toEqual(auth);
    expect(pkt.buffer.subarray(4, 20)).toEqual(auth);
    // MA first by default for Access-Request
    expect(pkt.buffer.subarray(20, 22)).toEqual(Buffer.from([80, 18]));
    const copy = Buffer.from(pkt.buffer);
    copy.fill(0, 22, 38);
    expect(pkt.buffer.subarray(22, 38)).toEqual(createHmac('md5', SECRET).update(copy).digest());
    expect(verifyRequest(pkt.buffer, SECRET)).toEqual({ ok: true });
    expect(verifyRequest(pkt.buffer, 'nope')).toEqual({ ok: false, reason: 'bad-message-authenticator' });

    const withSecret = decodePacket(pkt.buffer, { secret: SECRET });
    expect(getString(withSecret, 'User-Password')).toBe('alicepw');
    const without = decodePacket(pkt.buffer);
    expect(getAttribute(without, 'User-Password')).toBeUndefined();
    expect(getRawAttributes(without, 2)[0]).toHaveLength(16);

    const fresh = encodeRequest({
      code: 1,
      identifier: 5,
      secret: SECRET,
      attributes: [{ name: 'User-Name', value: 'a' }],
    });
    expect(fresh.authenticator.equals(pkt.authenticator)).toBe(false);
  });

  it('refuses User-Password outside Access-Request and explicit authenticators on MD5-authenticated codes', () => {
    expectCodecError(
      () =>
        encodeRequest({ code: 43, identifier: 1, secret: SECRET, attributes: [{ name: 'User-Password', value: 'x' }] }),
      'INVALID_ARGUMENT',
    );
    expectCodecError(
      () => encodeRequest({ code: 40, identifier: 1, secret: SECRET, attributes: [], authenticator: Buffer.alloc(16) }),
      'INVALID_ARGUMENT',
    );
    expectCodecError(
      () => encodeRequest({ code: 2, identifier: 1, secret: SECRET, attributes: [] }),
      'INVALID_ARGUMENT',
    );
    expectCodecError(
      () => encodeRequest({ code: 4, identifier: 256, secret: SECRET, attributes: [] }),
      'INVALID_ARGUMENT',
    );
  });

  it('Status-Server always verifies with MA, and requires it', () => {
    const pkt = encodeRequest({ code: 12, identifier: 1, secret: SECRET, attributes: [] });
    expect(pkt.buffer.length).toBe(38);
    expect(verifyRequest(pkt.buffer, SECRET)).toEqual({ ok: true });
    const bare = encodeRequest({
      code: 12,
      identifier: 1,
      secret: SECRET,
      attributes: [],
      addMessageAuthenticator: false,
    });
    expect(verifyRequest(bare.buffer, SECRET)).toEqual({ ok: false, reason: 'missing-message-authenticator' });
  });
});

describe('responses', () => {
  const request = encodeRequest({
    code: 40,
    identifier: 42,
    secret: SECRET,
    attributes: [
      { name: 'User-Name', value: 'bob' },
      { name: 'Proxy-State', value: Buffer.from('ps1') },
    ],
  });

  it('response authenticator = MD5(code+id+len+request auth+attrs+secret), Proxy-State copied', () => {
    const res = encodeResponse({
      code: 42,
      request: decodePacket(request.buffer),
      secret: SECRET,
      attributes: [{ name: 'Error-Cause', value: 'Session-Context-Not-Found' }],
    });
    const attrsBytes = Buffer.concat([tlv(101, u32(503)), tlv(33, 'ps1')]);
    const expected = header(42, 42, request.authenticator, attrsBytes);
    md5(expected, Buffer.from(SECRET)).copy(expected, 4);
    expect(res.buffer).toEqual(expected);
    expect(verifyResponse(res.buffer, request, SECRET)).toEqual({ ok: true });
    expect(attributeValueName('Error-Cause', getNumber(decodePacket(res.buffer), 'Error-Cause') ?? 0)).toBe(
      'Session-Context-Not-Found',
    );
  });

  it('response MA uses the request authenticator, inserted before the MD5', () => {
    const res = encodeResponse({ code: 41, request, secret: SECRET, attributes: [], addMessageAuthenticator: true });
    const p = header(41, 42, request.authenticator, Buffer.concat([tlv(80, Buffer.alloc(16)), tlv(33, 'ps1')]));
    createHmac('md5', SECRET).update(p).digest().copy(p, 22);
    md5(p, Buffer.from(SECRET)).copy(p, 4);
    expect(res.buffer).toEqual(p);
    expect(verifyResponse(res.buffer, request, SECRET, { requireMessageAuthenticator: true })).toEqual({ ok: true });
  });

  it('detects wrong secret, id, code, tampered MA, missing MA, garbage', () => {
    const ack = encodeResponse({ code: 41, request, secret: SECRET, addMessageAuthenticator: true }).buffer;
    expect(verifyResponse(ack, request, 'other')).toEqual({ ok: false, reason: 'bad-authenticator' });
    expect(verifyResponse(ack, { ...request, identifier: 1 }, SECRET)).toEqual({
      ok: false,
      reason: 'identifier-mismatch',
    });
    expect(verifyResponse(ack, { ...request, code: 43 }, SECRET)).toEqual({ ok: false, reason: 'unexpected-code' });
    const tampered = Buffer.from(ack);
    tampered[25] = (tampered[25] ?? 0) ^ 1;
    const t2 = Buffer.from(tampered);
    request.authenticator.copy(t2, 4);
    md5(t2, Buffer.from(SECRET)).copy(tampered, 4);
    expect(verifyResponse(tampered, request, SECRET)).toEqual({ ok: false, reason: 'bad-message-authenticator' });
    const noMa = encodeResponse({ code: 41, request, secret: SECRET }).buffer;
    expect(verifyResponse(noMa, request, SECRET)).toEqual({ ok: true });
    expect(verifyResponse(noMa, request, SECRET, { requireMessageAuthenticator: true })).toEqual({
      ok: false,
      reason: 'missing-message-authenticator',
    });
    expect(verifyResponse(Buffer.alloc(10), request, SECRET)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('accepts a reply without MA to an Access-Request that had one (FreeRADIUS 3.2.1)', () => {
    const req = encodeRequest({
      code: 1,
      identifier: 9,
      secret: SECRET,
      attributes: [{ name: 'User-Name', value: 'a' }],
    });
    const accept = encodeResponse({ code: 2, request: req, secret: SECRET, addMessageAuthenticator: false });
    expect(verifyResponse(accept.buffer, req, SECRET)).toEqual({ ok: true });
    // default: mirror the request's MA
    const mirrored = encodeResponse({ code: 2, request: req, secret: SECRET });
    expect(mirrored.buffer.length).toBe(38);
  });
});

describe('decoding garbage throws only RadiusCodecError', () => {
  /** Deterministic xorshift32 so failures reproduce. */
  function prng(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 2 ** 32;
    };
  }

  const seeds = [1, 2, 3, 0xdecaf];
  const valid = encodeRequest({
    code: 43,
    identifier: 1,
    secret: SECRET,
    addMessageAuthenticator: true,
    attributes: [
      { name: 'User-Name', value: 'x' },
      { name: 'Mikrotik-Rate-Limit', value: '1M/1M' },
      { name: 'NAS-IPv6-Address', value: '::1' },
      { name: 'Framed-IPv6-Prefix', value: '2001:db8::/64' },
    ],
  }).buffer;

  function check(buf: Buffer): void {
    try {
      decodePacket(buf, { secret: SECRET });
    } catch (err) {
      if (!(err instanceof RadiusCodecError)) throw err;
    }
    // The verifiers must never throw at all.
    verifyRequest(buf, SECRET);
    verifyResponse(buf, { code: 43, identifier: buf[1] ?? 0, authenticator: Buffer.alloc(16) }, SECRET);
  }

  it.each(seeds)('random buffers, seed %i', (seed) => {
    const rnd = prng(seed);
    const byte = (): number => Math.floor(rnd() * 256);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 120);
      const buf = Buffer.from(Array.from({ length: n }, byte));
      if (n >= 4 && rnd() < 0.7) buf.writeUInt16BE(Math.min(n, Math.max(0, n - Math.floor(rnd() * 3))), 2);
      if (n >= 1 && rnd() < 0.5) buf[0] = [1, 2, 4, 12, 40, 43][Math.floor(rnd() * 6)] ?? 1;
      if (n >= 22 && rnd() < 0.3) buf[20] = 26;
      check(buf);
    }
  });

  it.each(seeds)('mutated valid packets, seed %i', (seed) => {
    const rnd = prng(seed);
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(valid);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 20 + Math.floor(rnd() * (buf.length - 20));
        buf[at] = Math.floor(rnd() * 256);
      }
      check(rnd() < 0.3 ? buf.subarray(0, Math.floor(rnd() * buf.length)) : buf);
    }
  });
});
