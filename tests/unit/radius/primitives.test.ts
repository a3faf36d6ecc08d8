import { desDecryptBlock, desEncryptBlock, expandDesKey } from '../../../src/radius/des';
import { bytesToIpv6, bytesToIpv6Prefix, ipv6PrefixToBytes, ipv6ToBytes } from '../../../src/radius/ip';
import { md4 } from '../../../src/radius/md4';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('md4 (RFC 1320 §A.5 test suite)', () => {
  const vectors: ReadonlyArray<readonly [string, string]> = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  it.each(vectors)('md4(%j)', (input, digest) => {
    expect(md4(Buffer.from(input, 'ascii')).toString('hex')).toBe(digest);
  });

  it('handles every length around the 56/64-byte padding boundaries', () => {
    for (let n = 50; n <= 130; n++) expect(md4(Buffer.alloc(n, 0x61))).toHaveLength(16);
    // 55 and 56 bytes straddle the one-block/two-block padding edge; must differ and be stable.
    expect(md4(Buffer.alloc(55, 1)).equals(md4(Buffer.alloc(56, 1)))).toBe(false);
    expect(md4(Buffer.alloc(56, 1)).equals(md4(Buffer.alloc(56, 1)))).toBe(true);
  });
});

describe('single DES known answers', () => {
  const vectors: ReadonlyArray<readonly [string, string, string]> = [
    // key, plaintext, ciphertext
    ['133457799BBCDFF1', '0123456789ABCDEF', '85E813540F0AB405'], // classic worked example
    ['0123456789ABCDEF', '4E6F772069732074', '3FA40E8A984D4815'], // "Now is t" (FIPS 81 example)
    ['7CA110454A1A6E57', '01A1D6D039776742', '690F5B0D9A26939B'], // NBS/Schneier validation set
    ['0131D9619DC1376E', '5CD54CA83DEF57DA', '7A389D10354BD271'],
    ['0101010101010101', '95F8A5E5DD31D900', '8000000000000000'], // NIST SP 800-17 variable plaintext
    ['8001010101010101', '0000000000000000', '95A8D72813DAA94D'], // NIST SP 800-17 variable key
  ];
  it.each(vectors)('key %s pt %s', (key, pt, ct) => {
    expect(desEncryptBlock(hex(key), hex(pt)).toString('hex').toUpperCase()).toBe(ct);
    expect(desDecryptBlock(hex(key), hex(ct)).toString('hex').toUpperCase()).toBe(pt);
  });

  it('ignores parity bits', () => {
    const pt = hex('0123456789ABCDEF');
    expect(desEncryptBlock(hex('133457799BBCDFF1'), pt)).toEqual(desEncryptBlock(hex('123456789ABCDEF0'), pt));
  });

  it('rejects wrong sizes', () => {
    expect(() => desEncryptBlock(Buffer.alloc(7), Buffer.alloc(8))).toThrow(RangeError);
    expect(() => desEncryptBlock(Buffer.alloc(8), Buffer.alloc(9))).toThrow(RangeError);
  });

  it('expands 7-byte keys with odd parity (RFC 2759 §9.2 first key third)', () => {
    const k = expandDesKey(hex('44EBBA8D5312B8'));
    for (const byte of k) {
      let ones = 0;
      for (let b = 0; b < 8; b++) ones += (byte >> b) & 1;
      expect(ones % 2).toBe(1);
    }
    // The 7 key bits of each byte, concatenated, give the original 56 bits back.
    let bits = '';
    for (const byte of k) bits += (byte >> 1).toString(2).padStart(7, '0');
    expect(BigInt(`0b${bits}`).toString(16).padStart(14, '0').toUpperCase()).toBe('44EBBA8D5312B8');
  });
});

describe('IPv6 text <-> bytes', () => {
  it.each([
    ['::1', '00000000000000000000000000000001', '::1'],
    ['::', '00000000000000000000000000000000', '::'],
    ['2001:DB8::1', '20010db8000000000000000000000001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:10.5.50.20', '00000000000000000000ffff0a053214', '::ffff:a05:3214'],
    ['fe80::1:2', 'fe800000000000000000000000010002', 'fe80::1:2'],
  ])('%s', (text, bytes, canonical) => {
    expect(ipv6ToBytes(text).toString('hex')).toBe(bytes);
    expect(bytesToIpv6(Buffer.from(bytes, 'hex'))).toBe(canonical);
  });

  it('prefixes carry only the needed octets', () => {
    expect(ipv6PrefixToBytes('2001:db8:aa00::/40').toString('hex')).toBe('002820010db8aa');
    expect(bytesToIpv6Prefix(Buffer.from('002820010db8aa', 'hex'))).toBe('2001:db8:aa00::/40');
    expect(bytesToIpv6Prefix(Buffer.from('0040', 'hex'))).toBeUndefined();
  });
});
