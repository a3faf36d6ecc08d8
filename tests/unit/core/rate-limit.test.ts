import { parseRate, parseRateLimit } from '../../../src/modules/plans/rate-limit';

describe('MikroTik rate-limit strings', () => {
  it.each([
    ['2M/5M', { uploadBps: 2_000_000, downloadBps: 5_000_000 }],
    ['512k', { uploadBps: 512_000, downloadBps: 512_000 }],
    ['64k/128M', { uploadBps: 64_000, downloadBps: 128_000_000 }],
    ['64k 256k', { uploadBps: 64_000, downloadBps: 64_000 }],
    ['1M/2M 2M/4M 768k/1536k 16/16 8 256k/512k', { uploadBps: 1_000_000, downloadBps: 2_000_000 }],
    ['10000/20000', { uploadBps: 10_000, downloadBps: 20_000 }],
  ])('parses %s', (s, want) => {
    expect(parseRateLimit(s)).toEqual(want);
  });

  it.each(['', 'fast', '2M/5M/1M', '2X', '1M 2M 3M 4M 9', '1M 2M 3M x/y', '1M 2M 3M 4M 5 6M 7'])('refuses %p', (s) => {
    expect(parseRateLimit(s)).toBeNull();
  });

  it('parses unit suffixes', () => {
    expect(parseRate('1G')).toBe(1e9);
    expect(parseRate('7')).toBe(7);
    expect(parseRate('1.5M')).toBeNull();
  });
});
