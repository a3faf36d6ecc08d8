import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError, DEVELOPMENT_JWT_SECRET } from '../../../src/config';

describe('configuration', () => {
  it('has working development defaults', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('development');
    expect(c.api).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(c.radius.clientNetworks).toEqual(['127.0.0.0/8']);
    expect(c.jwtSecret.length).toBeGreaterThan(20);
  });

  it('has no secret defaults in production and lists every problem at once', () => {
    let err: unknown;
    try {
      loadConfig({ LANGO_ENV: 'production', LANGO_API_PORT: 'abc', LANGO_RADIUS_CLIENT_NETWORKS: '10.0.0.0/8,nonsense' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL: required in production/);
    expect(problems).toMatch(/LANGO_JWT_SECRET: required in production/);
    expect(problems).toMatch(/LANGO_API_PORT/);
    expect(problems).toMatch(/"nonsense" is not a CIDR/);
  });

  it('reads secrets from *_FILE and refuses short production secrets', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lango-cfg-'));
    writeFileSync(path.join(dir, 'jwt'), 'x'.repeat(40) + '\n');
    writeFileSync(path.join(dir, 'db'), 'postgres://u:p@db:5432/lango\n');
    const c = loadConfig({ LANGO_ENV: 'production', LANGO_JWT_SECRET_FILE: path.join(dir, 'jwt'), DATABASE_URL_FILE: path.join(dir, 'db') });
    expect(c.jwtSecret).toBe('x'.repeat(40));
    expect(c.databaseUrl).toBe('postgres://u:p@db:5432/lango');
    expect(c.api.host).toBe('0.0.0.0');
    expect(() => loadConfig({ LANGO_ENV: 'production', LANGO_JWT_SECRET: 'short', DATABASE_URL: 'postgres://x@y/z' })).toThrow(/at least 32/);
    expect(() => loadConfig({ LANGO_JWT_SECRET_FILE: path.join(dir, 'missing') })).toThrow(/cannot read/);
  });

  it('refuses the published development JWT secret in production', () => {
    const prod = { LANGO_ENV: 'production', DATABASE_URL: 'postgres://x@y/z' };
    expect(() => loadConfig({ ...prod, LANGO_JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(/LANGO_JWT_SECRET: the development secret is public/);
    expect(loadConfig({}).jwtSecret).toBe(DEVELOPMENT_JWT_SECRET);
  });

  it('has login limits and no trusted proxy by default; reads both, refusing "trust everyone"', () => {
    const d = loadConfig({});
    expect(d.login).toEqual({ maxFailuresPerAccount: 10, maxFailuresPerAddress: 100, windowSeconds: 900 });
    expect(d.trustProxy).toBe(false);
    const c = loadConfig({ LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '5', LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS: '50', LANGO_LOGIN_WINDOW_SECONDS: '600', LANGO_TRUST_PROXY: 'loopback, 10.0.0.0/8,192.0.2.7' });
    expect(c.login).toEqual({ maxFailuresPerAccount: 5, maxFailuresPerAddress: 50, windowSeconds: 600 });
    expect(c.trustProxy).toEqual(['loopback', '10.0.0.0/8', '192.0.2.7']);
    expect(loadConfig({ LANGO_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    let err: unknown;
    try {
      loadConfig({ LANGO_TRUST_PROXY: 'true', LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '0' });
    } catch (e) {
      err = e;
    }
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/LANGO_TRUST_PROXY: "true" is not/);
    expect(problems).toMatch(/LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT/);
  });

  it('is frozen', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
  });
});
