import { MemoryTokenStore } from '../../../src/mpesa/token-store';

describe('MemoryTokenStore', () => {
  it('grants one claim at a time until it expires or is released; put ends the claim', async () => {
    const s = new MemoryTokenStore();
    expect(await s.claim('a', 'p1', 1000, 500)).toBe(true);
    expect(await s.claim('a', 'p2', 1200, 500)).toBe(false);
    expect(await s.claim('b', 'p2', 1200, 500)).toBe(true); // per key
    expect(await s.claim('a', 'p1', 1200, 500)).toBe(true); // the holder may renew
    expect(await s.claim('a', 'p2', 1701, 500)).toBe(true); // p1's claim ran out
    await s.release('a', 'p1'); // not p1's any more: nothing happens
    expect(await s.claim('a', 'p3', 1702, 500)).toBe(false);
    await s.put('a', { accessToken: 't1', expiresAt: 5000 }, 'p2');
    expect(await s.get('a')).toEqual({ accessToken: 't1', expiresAt: 5000 });
    expect(await s.claim('a', 'p3', 1703, 500)).toBe(true);
    await s.release('a', 'p3');
    expect(await s.claim('a', 'p4', 1704, 500)).toBe(true);
  });

  it('invalidates only the token it was told about', async () => {
    const s = new MemoryTokenStore();
    await s.put('a', { accessToken: 'new', expiresAt: 5000 }, 'p');
    await s.invalidate('a', 'old');
    expect((await s.get('a'))?.accessToken).toBe('new');
    await s.invalidate('a', 'new');
    expect(await s.get('a')).toBeUndefined();
  });
});
