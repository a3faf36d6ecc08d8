import { createHash } from 'node:crypto';
import {
  buildChapPassword,
  chapAttributes,
  challengeHash,
  challengeResponse,
  challengeUserName,
  decryptUserPassword,
  encryptUserPassword,
  generateAuthenticatorResponse,
  generateNtResponse,
  hashNtPasswordHash,
  mschapv2Attributes,
  ntPasswordHash,
  RadiusCodecError,
  verifyChapPassword,
  verifyMschapv2Success,
  type RadiusAttribute,
} from '../../../src/radius/codec';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('MS-CHAPv2, RFC 2759 §9.2 hash example', () => {
  const user = 'User';
  const password = 'clientPass';
  const authChallenge = hex('5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28');
  const peerChallenge = hex('21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E');
  const challenge = hex('D0 2E 43 86 BC E9 12 26');
  const passwordHash = hex('44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE');
  const ntResponse = hex('82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF');
  const passwordHashHash = hex('41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F');
  const authenticatorResponse = 'S=407A5589115FD0D6209F510FE9C04566932CDA56';

  it('computes every intermediate value', () => {
    expect(challengeHash(peerChallenge, authChallenge, user)).toEqual(challenge);
    expect(ntPasswordHash(password)).toEqual(passwordHash);
    expect(hashNtPasswordHash(passwordHash)).toEqual(passwordHashHash);
    expect(challengeResponse(challenge, passwordHash)).toEqual(ntResponse);
    expect(generateNtResponse(authChallenge, peerChallenge, user, password)).toEqual(ntResponse);
    expect(generateAuthenticatorResponse(password, ntResponse, peerChallenge, authChallenge, user)).toBe(
      authenticatorResponse,
    );
  });

  it('strips a DOMAIN\\ prefix from the hashed user name', () => {
    expect(challengeUserName('CORP\\User')).toBe('User');
    expect(challengeHash(peerChallenge, authChallenge, 'CORP\\User')).toEqual(challenge);
  });

  it('builds MS-CHAP-Challenge and the 50-byte MS-CHAP2-Response VSA values', () => {
    const { attributes, exchange } = mschapv2Attributes(user, password, {
      ident: 7,
      authenticatorChallenge: authChallenge,
      peerChallenge,
    });
    expect(attributes).toEqual([
      { name: 'MS-CHAP-Challenge', value: authChallenge },
      {
        name: 'MS-CHAP2-Response',
        value: Buffer.concat([Buffer.from([7, 0]), peerChallenge, Buffer.alloc(8), ntResponse]),
      },
    ]);
    expect(exchange.ntResponse).toEqual(ntResponse);
  });

  it('verifies MS-CHAP2-Success from an Access-Accept', () => {
    const { exchange } = mschapv2Attributes(user, password, {
      ident: 7,
      authenticatorChallenge: authChallenge,
      peerChallenge,
    });
    const success = (ident: number, text: string): RadiusAttribute[] => [
      { name: 'MS-CHAP2-Success', value: Buffer.concat([Buffer.from([ident]), Buffer.from(text, 'latin1')]) },
    ];
    expect(verifyMschapv2Success(success(7, authenticatorResponse), exchange)).toBe(true);
    expect(verifyMschapv2Success(success(7, authenticatorResponse.toLowerCase().replace('s=', 'S=')), exchange)).toBe(
      true,
    );
    expect(verifyMschapv2Success(success(7, `${authenticatorResponse} M=Welcome`), exchange)).toBe(true);
    expect(verifyMschapv2Success(success(8, authenticatorResponse), exchange)).toBe(false);
    expect(verifyMschapv2Success(success(7, authenticatorResponse.replace('407A', '407B')), exchange)).toBe(false);
    expect(verifyMschapv2Success(success(7, 'S=short'), exchange)).toBe(false);
    expect(verifyMschapv2Success([], exchange)).toBe(false);
  });

  it('uses fresh random challenges by default', () => {
    const a = mschapv2Attributes(user, password).exchange;
    const b = mschapv2Attributes(user, password).exchange;
    expect(a.peerChallenge).toHaveLength(16);
    expect(a.authenticatorChallenge.equals(b.authenticatorChallenge)).toBe(false);
  });
});

describe('User-Password (RFC 2865 §5.2)', () => {
  const secret = 'xyzzy5461';
  const auth = hex('0f403f9473978057bd83d5cb98f4227a');

  it('matches the hand-computed c1 = p1 XOR MD5(secret + RA)', () => {
    const p1 = Buffer.alloc(16);
    Buffer.from('arctangent').copy(p1);
    const b1 = createHash('md5').update(secret).update(auth).digest();
    const c1 = Buffer.from(p1.map((v, i) => v ^ (b1[i] ?? 0)));
    expect(encryptUserPassword('arctangent', secret, auth)).toEqual(c1);
  });

  it('chains 16-byte blocks: c2 = p2 XOR MD5(secret + c1)', () => {
    const clear = 'a-password-longer-than-16';
    const enc = encryptUserPassword(clear, secret, auth);
    expect(enc).toHaveLength(32);
    const b2 = createHash('md5').update(secret).update(enc.subarray(0, 16)).digest();
    const p2 = Buffer.alloc(16);
    Buffer.from(clear).subarray(16).copy(p2);
    expect(enc.subarray(16)).toEqual(Buffer.from(p2.map((v, i) => v ^ (b2[i] ?? 0))));
    expect(decryptUserPassword(enc, secret, auth).toString()).toBe(clear);
  });

  it('round-trips lengths 0..128 and rejects 129', () => {
    for (const n of [0, 1, 15, 16, 17, 31, 32, 127, 128]) {
      const clear = Buffer.alloc(n, 0x41);
      const enc = encryptUserPassword(clear, secret, auth);
      expect(enc.length).toBe(Math.max(16, Math.ceil(n / 16) * 16));
      expect(decryptUserPassword(enc, secret, auth)).toEqual(clear);
    }
    expect(() => encryptUserPassword(Buffer.alloc(129, 0x41), secret, auth)).toThrow(RadiusCodecError);
    expect(() => decryptUserPassword(Buffer.alloc(17), secret, auth)).toThrow(RadiusCodecError);
  });
});

describe('CHAP (RFC 1994 / RFC 2865 §5.3)', () => {
  it('CHAP-Password = ident + MD5(ident + password + challenge)', () => {
    const challenge = hex('00112233445566778899aabbccddeeff');
    const expected = createHash('md5')
      .update(Buffer.from([0x2a]))
      .update('hello')
      .update(challenge)
      .digest();
    const value = buildChapPassword(0x2a, 'hello', challenge);
    expect(value).toEqual(Buffer.concat([Buffer.from([0x2a]), expected]));
    expect(verifyChapPassword(value, 'hello', challenge)).toBe(true);
    expect(verifyChapPassword(value, 'hellO', challenge)).toBe(false);
  });

  it('puts the challenge in CHAP-Challenge by default', () => {
    const { attributes, authenticator } = chapAttributes('pw', { ident: 1, challenge: Buffer.alloc(16, 9) });
    expect(authenticator).toBeUndefined();
    expect(attributes).toEqual([
      { name: 'CHAP-Password', value: buildChapPassword(1, 'pw', Buffer.alloc(16, 9)) },
      { name: 'CHAP-Challenge', value: Buffer.alloc(16, 9) },
    ]);
  });

  it('or in the Request Authenticator', () => {
    const { attributes, authenticator } = chapAttributes('pw', { ident: 1, useRequestAuthenticator: true });
    expect(authenticator).toHaveLength(16);
    expect(attributes).toEqual([
      { name: 'CHAP-Password', value: buildChapPassword(1, 'pw', authenticator ?? Buffer.alloc(0)) },
    ]);
    expect(() => chapAttributes('pw', { challenge: Buffer.alloc(8), useRequestAuthenticator: true })).toThrow(
      RadiusCodecError,
    );
  });
});
