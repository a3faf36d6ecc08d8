/** Voucher codes, printing and CSV without a database. */
import {
  ALPHABETS,
  DEFAULT_LENGTH,
  keyspaceBits,
  MIN_LENGTH,
  normalizeCode,
  randomCodes,
} from '../../../src/modules/vouchers/codes';
import { csvCell, groupCode, renderHtml, toCsv } from '../../../src/modules/vouchers/printing';
import { allowanceText, priceText } from '../../../src/modules/vouchers/vouchers.service';

describe('codes', () => {
  it('the alphabets have no look-alikes and the minimum lengths keep at least 2^43 codes', () => {
    expect(ALPHABETS.alphanumeric).toHaveLength(31);
    expect(ALPHABETS.alphanumeric).not.toMatch(/[01OIL]/);
    expect(new Set(ALPHABETS.alphanumeric).size).toBe(31);
    for (const a of ['numeric', 'alphanumeric'] as const) {
      expect(keyspaceBits(a, MIN_LENGTH[a])).toBeGreaterThanOrEqual(43);
      expect(keyspaceBits(a, MIN_LENGTH[a] - 1)).toBeLessThan(43);
      expect(DEFAULT_LENGTH[a]).toBeGreaterThan(MIN_LENGTH[a]);
    }
  });

  it('draws distinct codes from the alphabet, every symbol about equally often', () => {
    const codes = randomCodes('alphanumeric', 10, 3000);
    expect(new Set(codes).size).toBe(3000);
    const counts = new Map<string, number>();
    for (const c of codes.join('')) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...ALPHABETS.alphanumeric].sort().join(''));
    // 30,000 symbols over 31: about 968 each; a biased draw would be far off.
    for (const n of counts.values()) expect(Math.abs(n - 30000 / 31)).toBeLessThan(200);
    expect(randomCodes('numeric', 14, 10, new Set()).every((c) => /^[0-9]{14}$/.test(c))).toBe(true);
  });

  it('normalises what a buyer types', () => {
    expect(normalizeCode(' kx7p4-m9q2r ')).toBe('KX7P4M9Q2R');
  });
});

describe('printing', () => {
  it('groups codes for reading out', () => {
    expect(groupCode('KX7P4M9Q2R')).toBe('KX7P4 M9Q2R');
    expect(groupCode('12345678901234')).toBe('12345 67890 1234');
    expect(groupCode('ABCDEFGH')).toBe('ABCD EFGH');
  });

  it('escapes what staff wrote and puts the code only on the card, never in the QR URL', async () => {
    const html = await renderHtml({
      tenantName: '<Mtaa & "Co">',
      layout: 'a4',
      cards: [
        {
          code: 'KX7P4M9Q2R',
          loginUrl: 'http://p.example/portal/t/voucher?token=abc',
          planName: '<script>',
          price: 'KES 50.00',
          allowance: '1 day',
          expiresAt: null,
          note: "o'hara",
        },
      ],
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;Mtaa &amp; &quot;Co&quot;&gt;');
    expect(html).toContain('o&#39;hara');
    expect(html).toContain('KX7P4 M9Q2R');
    expect(html).toContain('<svg');
  });

  it('what the buyer gets and pays', () => {
    expect(allowanceText(86400, null)).toBe('1 day');
    expect(allowanceText(3 * 3600, 2e9)).toBe('3 hours · 2 GB');
    expect(allowanceText(1800, 500e6)).toBe('30 minutes · 500 MB');
    expect(priceText(5000, 'KES')).toBe('KES 50.00');
  });
});

describe('CSV', () => {
  it('quotes every cell and neutralises formula starts', () => {
    expect(csvCell('=1+2')).toBe(`"'=1+2"`);
    expect(csvCell('+254700')).toBe(`"'+254700"`);
    expect(csvCell('-3')).toBe(`"'-3"`);
    expect(csvCell('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
    expect(csvCell('\tx')).toBe(`"'\tx"`);
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(42)).toBe('"42"');
    expect(toCsv(['a', 'b'], [['1', null]])).toBe('"a","b"\r\n"1",""\r\n');
  });
});
