/**
 * Golden packets against an independent implementation (npm `radius` 1.1.4) where it is correct
 * (Access-Request incl. its Message-Authenticator, PAP, Accounting/Disconnect WITHOUT MA, and
 * response authenticators), and against its known bug where it is not (MA on CoA/Disconnect).
 */
import {
  decodePacket,
  encodeRequest,
  encodeResponse,
  getString,
  PacketCode,
  verifyRequest,
  verifyResponse,
  type RadiusAttribute,
} from '../../../src/radius/codec';
import { npmRadius, type NpmAttributeList } from './npm-radius';

const SECRET = 'testing123';
const AUTH = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('Access-Request (PAP) vs npm radius', () => {
  const ours: RadiusAttribute[] = [
    { name: 'User-Name', value: 'alice' },
    { name: 'User-Password', value: 'a-password-that-spans-two-blocks' },
    { name: 'NAS-IP-Address', value: '127.0.0.1' },
    { name: 'NAS-Port', value: 7 },
    { name: 'Service-Type', value: 'Login-User' },
  ];
  // npm radius pushes its Message-Authenticator onto the array it is given: hand it a fresh one.
  const theirs = (): NpmAttributeList => [
    ['User-Name', 'alice'],
    ['User-Password', 'a-password-that-spans-two-blocks'],
    ['NAS-IP-Address', '127.0.0.1'],
    ['NAS-Port', 7],
    ['Service-Type', 'Login-User'],
  ];

  it('npm radius decodes our packet, password included, and accepts our Message-Authenticator', () => {
    const pkt = encodeRequest({ code: PacketCode.AccessRequest, identifier: 17, secret: SECRET, attributes: ours });
    const decoded = npmRadius.decode({ packet: pkt.buffer, secret: SECRET });
    expect(decoded.code).toBe('Access-Request');
    expect(decoded.identifier).toBe(17);
    expect(decoded.attributes).toMatchObject({
      'User-Name': 'alice',
      'User-Password': 'a-password-that-spans-two-blocks',
      'NAS-IP-Address': '127.0.0.1',
      'NAS-Port': 7,
      'Service-Type': 'Login-User',
    });
    expect(decoded.attributes['Message-Authenticator']).toBeInstanceOf(Buffer);
  });

  it('is byte-identical with the same authenticator and MA position (last)', () => {
    const mine = encodeRequest({
      code: PacketCode.AccessRequest,
      identifier: 17,
      secret: SECRET,
      authenticator: AUTH,
      attributes: [...ours, { name: 'Message-Authenticator', value: Buffer.alloc(16) }],
    });
    const npm = npmRadius.encode({
      code: 'Access-Request',
      secret: SECRET,
      identifier: 17,
      authenticator: AUTH,
      attributes: theirs(),
      add_message_authenticator: true,
    });
    expect(mine.buffer.toString('hex')).toBe(npm.toString('hex'));
  });

  it('we decode and verify npm radius packets, revealing the password', () => {
    const npm = npmRadius.encode({
      code: 'Access-Request',
      secret: SECRET,
      identifier: 3,
      attributes: theirs(),
      add_message_authenticator: true,
    });
    expect(verifyRequest(npm, SECRET)).toEqual({ ok: true });
    const decoded = decodePacket(npm, { secret: SECRET });
    expect(getString(decoded, 'User-Password')).toBe('a-password-that-spans-two-blocks');
    expect(decoded.attributes.slice(0, 5)).toEqual([...ours.slice(0, 4), { name: 'Service-Type', value: 1 }]);
  });

  it('replies: npm-built Access-Accept verifies with us, ours with npm', () => {
    const req = encodeRequest({ code: PacketCode.AccessRequest, identifier: 99, secret: SECRET, attributes: ours });
    const npmAccept = npmRadius.encode_response({
      packet: npmRadius.decode({ packet: req.buffer, secret: SECRET }),
      code: 'Access-Accept',
      secret: SECRET,
      attributes: [['Session-Timeout', 3600]],
    });
    expect(verifyResponse(npmAccept, req, SECRET, { requireMessageAuthenticator: true })).toEqual({ ok: true });
    expect(verifyResponse(npmAccept, req, 'wrong')).toEqual({ ok: false, reason: 'bad-authenticator' });

    const reqNoMa = encodeRequest({
      code: 1,
      identifier: 98,
      secret: SECRET,
      attributes: ours,
      addMessageAuthenticator: false,
    });
    const ourReject = encodeResponse({ code: PacketCode.AccessReject, request: reqNoMa, secret: SECRET });
    expect(npmRadius.verify_response({ request: reqNoMa.buffer, response: ourReject.buffer, secret: SECRET })).toBe(
      true,
    );
    expect(npmRadius.verify_response({ request: reqNoMa.buffer, response: ourReject.buffer, secret: 'x' })).toBe(false);
  });
});

describe('Accounting/Disconnect WITHOUT Message-Authenticator vs npm radius', () => {
  const ours: RadiusAttribute[] = [
    { name: 'User-Name', value: '0712345678' },
    { name: 'Acct-Session-Id', value: '81a0000b' },
    { name: 'Framed-IP-Address', value: '10.5.50.20' },
    { name: 'NAS-IP-Address', value: '10.5.50.1' },
  ];
  const theirs = (): NpmAttributeList => [
    ['User-Name', '0712345678'],
    ['Acct-Session-Id', '81a0000b'],
    ['Framed-IP-Address', '10.5.50.20'],
    ['NAS-IP-Address', '10.5.50.1'],
  ];

  it.each([
    [PacketCode.DisconnectRequest, 'Disconnect-Request'],
    [PacketCode.CoARequest, 'CoA-Request'],
    [PacketCode.AccountingRequest, 'Accounting-Request'],
  ] as const)('code %i is byte-identical and npm verifies its authenticator', (code, name) => {
    const mine = encodeRequest({ code, identifier: 200, secret: SECRET, attributes: ours });
    const npm = npmRadius.encode({
      code: name,
      secret: SECRET,
      identifier: 200,
      attributes: theirs(),
      add_message_authenticator: false,
    });
    expect(mine.buffer.toString('hex')).toBe(npm.toString('hex'));
    expect(() => npmRadius.decode({ packet: mine.buffer, secret: SECRET })).not.toThrow();
    expect(() => npmRadius.decode({ packet: mine.buffer, secret: 'wrong' })).toThrow(/authenticator mismatch/);
  });

  it('npm decodes our Disconnect-NAK with a named Error-Cause and verifies it', () => {
    const req = encodeRequest({ code: PacketCode.DisconnectRequest, identifier: 5, secret: SECRET, attributes: ours });
    const nak = encodeResponse({
      code: PacketCode.DisconnectNak,
      request: req,
      secret: SECRET,
      attributes: [{ name: 'Error-Cause', value: 'Session-Context-Not-Found' }],
    });
    expect(npmRadius.decode({ packet: nak.buffer, secret: SECRET }).attributes['Error-Cause']).toBe(
      'Session-Context-Not-Found',
    );
    expect(npmRadius.verify_response({ request: req.buffer, response: nak.buffer, secret: SECRET })).toBe(true);
  });
});

describe('CoA/Disconnect WITH Message-Authenticator: npm radius 1.1.4 is wrong', () => {
  const theirs = (): NpmAttributeList => [['User-Name', 'bob']];
  it('its packet fails our verification; ours fails its decode (its wrong order)', () => {
    const npm = npmRadius.encode({
      code: 'Disconnect-Request',
      secret: SECRET,
      identifier: 1,
      attributes: theirs(),
      add_message_authenticator: true,
    });
    expect(verifyRequest(npm, SECRET)).toEqual({ ok: false, reason: 'bad-authenticator' });

    const mine = encodeRequest({
      code: PacketCode.DisconnectRequest,
      identifier: 1,
      secret: SECRET,
      attributes: [
        { name: 'User-Name', value: 'bob' },
        { name: 'Message-Authenticator', value: Buffer.alloc(16) },
      ],
    });
    // Same layout as npm's (MA last), different bytes: only the MA and authenticator differ.
    expect(mine.buffer.length).toBe(npm.length);
    expect(mine.buffer.subarray(20, mine.buffer.length - 16)).toEqual(npm.subarray(20, npm.length - 16));
    expect(verifyRequest(mine.buffer, SECRET)).toEqual({ ok: true });
    expect(() => npmRadius.decode({ packet: mine.buffer, secret: SECRET })).toThrow(/Message-Authenticator mismatch/);
  });
});
