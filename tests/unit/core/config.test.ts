import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError, DEVELOPMENT_JWT_SECRET } from '../../../src/config';
import { workerOptions } from '../../../src/main';

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
      loadConfig({
        LANGO_ENV: 'production',
        LANGO_API_PORT: 'abc',
        LANGO_RADIUS_CLIENT_NETWORKS: '10.0.0.0/8,nonsense',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL: required in production/);
    expect(problems).toMatch(/LANGO_JWT_SECRET: required in production/);
    expect(problems).toMatch(/LANGO_SECRET_KEY: required in production/);
    expect(problems).toMatch(/LANGO_API_PORT/);
    expect(problems).toMatch(/"nonsense" is not a CIDR/);
  });

  it('reads secrets from *_FILE and refuses short production secrets', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lango-cfg-'));
    writeFileSync(path.join(dir, 'jwt'), 'x'.repeat(40) + '\n');
    writeFileSync(path.join(dir, 'db'), 'postgres://u:p@db:5432/lango\n');
    const c = loadConfig({
      LANGO_ENV: 'production',
      LANGO_JWT_SECRET_FILE: path.join(dir, 'jwt'),
      DATABASE_URL_FILE: path.join(dir, 'db'),
      LANGO_SECRET_KEY: 'a'.repeat(64),
    });
    expect(c.jwtSecret).toBe('x'.repeat(40));
    expect(c.databaseUrl).toBe('postgres://u:p@db:5432/lango');
    expect(c.api.host).toBe('0.0.0.0');
    expect(() =>
      loadConfig({ LANGO_ENV: 'production', LANGO_JWT_SECRET: 'short', DATABASE_URL: 'postgres://x@y/z' }),
    ).toThrow(/at least 32/);
    expect(() => loadConfig({ LANGO_JWT_SECRET_FILE: path.join(dir, 'missing') })).toThrow(/cannot read/);
  });

  it('refuses the published development JWT secret in production', () => {
    const prod = { LANGO_ENV: 'production', DATABASE_URL: 'postgres://x@y/z' };
    expect(() => loadConfig({ ...prod, LANGO_JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(
      /LANGO_JWT_SECRET: the development secret is public/,
    );
    expect(loadConfig({}).jwtSecret).toBe(DEVELOPMENT_JWT_SECRET);
  });

  it('has login limits and no trusted proxy by default; reads both, refusing "trust everyone"', () => {
    const d = loadConfig({});
    expect(d.login).toEqual({ maxFailuresPerAccount: 10, maxFailuresPerAddress: 100, windowSeconds: 900 });
    expect(d.trustProxy).toBe(false);
    const c = loadConfig({
      LANGO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '5',
      LANGO_LOGIN_MAX_FAILURES_PER_ADDRESS: '50',
      LANGO_LOGIN_WINDOW_SECONDS: '600',
      LANGO_TRUST_PROXY: 'loopback, 10.0.0.0/8,192.0.2.7',
    });
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

  it('validates client networks with the same rule as the FreeRADIUS runner (no single address)', () => {
    expect(() => loadConfig({ LANGO_RADIUS_CLIENT_NETWORKS: '10.0.0.5/32' })).toThrow(
      /LANGO_RADIUS_CLIENT_NETWORKS: "10.0.0.5\/32" is a single address/,
    );
    expect(loadConfig({ LANGO_RADIUS_CLIENT_NETWORKS: '10.0.0.0/8, fd00::/8' }).radius.clientNetworks).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
  });

  it('enforcement targets: the client networks by default, or LANGO_ENFORCEMENT_TARGET_NETWORKS; loopback only outside production', () => {
    expect(loadConfig({}).enforcementTargets).toEqual({ networks: ['127.0.0.0/8'], allowLoopback: true });
    expect(loadConfig({ LANGO_RADIUS_CLIENT_NETWORKS: '10.0.0.0/8' }).enforcementTargets.networks).toEqual([
      '10.0.0.0/8',
    ]);
    const prod = {
      LANGO_ENV: 'production',
      DATABASE_URL: 'postgres://u@db/lango',
      LANGO_JWT_SECRET: 'x'.repeat(40),
      LANGO_SECRET_KEY: 'a'.repeat(64),
    };
    expect(
      loadConfig({ ...prod, LANGO_ENFORCEMENT_TARGET_NETWORKS: '10.20.0.0/16,10.30.0.1/32' }).enforcementTargets,
    ).toEqual({
      networks: ['10.20.0.0/16', '10.30.0.1/32'],
      allowLoopback: false,
    });
    expect(() => loadConfig({ LANGO_ENFORCEMENT_TARGET_NETWORKS: '10.0.0.0/8,169.254.0.0/sixteen' })).toThrow(
      /LANGO_ENFORCEMENT_TARGET_NETWORKS: "169.254.0.0\/sixteen" is not a CIDR/,
    );
    expect(() => loadConfig({ LANGO_ENFORCEMENT_TARGET_NETWORKS: ' , ' })).toThrow(
      /LANGO_ENFORCEMENT_TARGET_NETWORKS: at least one network/,
    );
  });

  it('worker retry schedule, attempts and stale-check period: FreeRADIUS defaults, ranges checked, wired into the worker', () => {
    const d = loadConfig({});
    expect(d.worker.retry).toEqual({ irt: 2, mrt: 16, mrc: 5, mrd: 30, maxAttempts: 3 });
    expect(d.worker.staleCheckSeconds).toBe(60);
    const c = loadConfig({
      LANGO_WORKER_RETRY_IRT: '3',
      LANGO_WORKER_RETRY_MRT: '0',
      LANGO_WORKER_RETRY_MRC: '2',
      LANGO_WORKER_RETRY_MRD: '20',
      LANGO_WORKER_RETRY_MAX_ATTEMPTS: '5',
      LANGO_WORKER_STALE_CHECK_SECONDS: '120',
    });
    expect(workerOptions(c)).toMatchObject({
      schedule: { irt: 3, mrt: 0, mrc: 2, mrd: 20 },
      sender: { maxAttempts: 5 },
      staleMs: 120_000,
      targets: { networks: ['127.0.0.0/8'], allowLoopback: true },
    });
    let err: unknown;
    try {
      loadConfig({
        LANGO_WORKER_RETRY_IRT: '0',
        LANGO_WORKER_RETRY_MRT: '31',
        LANGO_WORKER_RETRY_MRC: '-1',
        LANGO_WORKER_RETRY_MRD: '4',
        LANGO_WORKER_RETRY_MAX_ATTEMPTS: '21',
        LANGO_WORKER_STALE_CHECK_SECONDS: '1.5',
      });
    } catch (e) {
      err = e;
    }
    const problems = (err as ConfigError).problems;
    for (const key of ['IRT', 'MRT', 'MRC', 'MRD', 'MAX_ATTEMPTS'])
      expect(problems.some((p) => p.startsWith(`LANGO_WORKER_RETRY_${key}:`))).toBe(true);
    expect(problems.some((p) => p.startsWith('LANGO_WORKER_STALE_CHECK_SECONDS:'))).toBe(true);
  });
});
