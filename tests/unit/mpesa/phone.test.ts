import { createHash } from 'node:crypto';
import {
  hashPhone,
  isMsisdn,
  maskPhone,
  msisdnMatches,
  normalisePhone,
  parsePhone,
  PhoneNumberError,
  readC2bMsisdn,
  type Msisdn,
} from '../../../src/mpesa/phone';

describe('phone numbers', () => {
  it.each([
    ['0712345678', '254712345678'],
    ['0712 345 678', '254712345678'],
    ['0712-345-678', '254712345678'],
    ['(0712) 345678', '254712345678'],
    ['+254712345678', '254712345678'],
    ['+254 712 345 678', '254712345678'],
    ['254712345678', '254712345678'],
    ['712345678', '254712345678'],
    ['+2540712345678', '254712345678'],
    ['0110123456', '254110123456'],
    ['0111987654', '254111987654'],
    ['+254110123456', '254110123456'],
    ['254110123456', '254110123456'],
    [' 0722000000 ', '254722000000'],
  ])('normalises %s to %s', (input, msisdn) => {
    expect(normalisePhone(input)).toBe(msisdn);
    expect(isMsisdn(msisdn)).toBe(true);
  });

  it('takes a number as Daraja sends it in a callback (a JSON number)', () => {
    expect(normalisePhone(254708374149)).toBe('254708374149');
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    [undefined, 'empty'],
    [null, 'empty'],
    [{}, 'empty'],
    ['07123abc78', 'characters'],
    ['0712345678;DROP', 'characters'],
    ['+1 202 555 0100', 'country'],
    ['+255712345678', 'country'],
    ['071234567', 'length'],
    ['07123456789', 'length'],
    ['2547123456789', 'length'],
    ['0212345678', 'network'],
    ['254212345678', 'network'],
    ['0812345678', 'network'],
  ])('refuses %p (%s) with a message', (input, problem) => {
    const r = parsePhone(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem).toBe(problem);
      expect(r.message.length).toBeGreaterThan(10);
    }
    expect(() => normalisePhone(input)).toThrow(PhoneNumberError);
  });

  it('hashes the 12-digit normalised number with SHA-256 (lower-case hex), whatever form it was typed in', () => {
    const expected = createHash('sha256').update('254708374149').digest('hex');
    expect(hashPhone('254708374149')).toBe(expected);
    expect(hashPhone('0708 374 149')).toBe(expected);
    expect(hashPhone('+254708374149')).toBe(expected);
    expect(hashPhone('0708374149')).toMatch(/^[0-9a-f]{64}$/);
    expect(() => hashPhone('nonsense')).toThrow(PhoneNumberError);
  });

  it('masks like Daraja (25470****149)', () => {
    expect(maskPhone('254708374149' as Msisdn)).toBe('25470****149');
  });

  it('reads a C2B MSISDN in each of its forms and matches it against a known number', () => {
    const me = '254708374149' as Msisdn;
    const other = '254708999149' as Msisdn;
    const hash = readC2bMsisdn(hashPhone(me).toUpperCase());
    expect(hash).toEqual({ kind: 'hashed', hash: hashPhone(me) });
    expect(msisdnMatches(hash, me)).toBe(true);
    expect(msisdnMatches(hash, other)).toBe(false);

    const masked = readC2bMsisdn('25470****149');
    expect(masked).toMatchObject({ kind: 'masked', prefix: '25470', suffix: '149' });
    expect(msisdnMatches(masked, me)).toBe(true);
    expect(msisdnMatches(masked, other)).toBe(true); // a mask matches many numbers
    expect(msisdnMatches(masked, '254718374149' as Msisdn)).toBe(false);

    expect(readC2bMsisdn(254708374149)).toEqual({ kind: 'plain', msisdn: me, hash: hashPhone(me) });
    expect(msisdnMatches(readC2bMsisdn('254708374149'), me)).toBe(true);
    expect(readC2bMsisdn(undefined)).toEqual({ kind: 'absent' });
    expect(readC2bMsisdn('')).toEqual({ kind: 'absent' });
    expect(readC2bMsisdn('hello')).toEqual({ kind: 'unreadable', value: 'hello' });
    expect(msisdnMatches({ kind: 'absent' }, me)).toBe(false);
  });
});
