import { NetworkError, parseClientNetwork, parseNetwork, TargetGuard } from '../../../src/config/networks';

describe('networks', () => {
  it('parses IPv4 (dotted quad) and IPv6 CIDR networks', () => {
    expect(parseNetwork(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseNetwork('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, family: 'ipv6' });
    expect(parseNetwork('10.0.0.5/32')).toMatchObject({ prefix: 32 });
    for (const bad of [
      'nonsense',
      '10.0.0.0',
      '10.0.0/8',
      '10.0.0.0/33',
      'fd00::/129',
      '0x0a.0.0.0/8',
      '10.0.0.0/8/8',
    ]) {
      expect(() => parseNetwork(bad)).toThrow(NetworkError);
    }
  });

  it('client networks (FreeRADIUS dynamic clients) refuse a single address', () => {
    expect(parseClientNetwork('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(() => parseClientNetwork('10.0.0.1/32')).toThrow(/single address/);
    expect(() => parseClientNetwork('::1/128')).toThrow(/single address/);
  });

  describe('targets', () => {
    const production = new TargetGuard({ networks: ['0.0.0.0/0', '::/0'], allowLoopback: false });
    const development = new TargetGuard({ networks: ['127.0.0.0/8', '10.0.0.0/8'], allowLoopback: true });

    it.each([
      ['169.254.169.254', 'link-local'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['febf::1', 'link-local'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['239.1.2.3', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['localhost', 'not an IP address'],
    ])('production refuses %s (%s) even inside the networks', (address, why) => {
      expect(production.refusal(address)).toContain(why);
    });

    it('production allows ordinary addresses inside the networks', () => {
      for (const a of ['10.0.0.1', '41.90.12.7', '100.64.0.9', '2001:db8::5', 'fd00::1'])
        expect(production.refusal(a)).toBeNull();
    });

    it('development allows loopback inside the networks, never link-local, nothing outside', () => {
      expect(development.refusal('127.0.0.5')).toBeNull();
      expect(development.refusal('10.9.9.9')).toBeNull();
      expect(development.refusal('169.254.169.254')).toContain('link-local');
      expect(development.refusal('192.168.88.1')).toContain('outside');
      expect(development.refusal('::1')).toContain('outside');
      expect(new TargetGuard({ networks: ['10.0.0.0/8'], allowLoopback: true }).refusal('127.0.0.1')).toContain(
        'outside',
      );
    });

    it('a single host is a network of its own', () => {
      const one = new TargetGuard({ networks: ['10.1.1.1/32'], allowLoopback: false });
      expect(one.refusal('10.1.1.1')).toBeNull();
      expect(one.refusal('10.1.1.2')).toContain('outside');
    });
  });
});
