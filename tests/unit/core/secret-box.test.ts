import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEVELOPMENT_SECRET_KEY, loadConfig } from '../../../src/config';
import { generateSecretKey, parseSecretKey, SecretBox, SecretBoxError, secretKeyId } from '../../../src/lib/secret-box';

const problemOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SecretBoxError) return e.problem;
    throw e;
  }
  return undefined;
};

describe('secret box', () => {
  const k1 = generateSecretKey();
  const k2 = generateSecretKey();

  it('seals and opens, with a fresh nonce each time, and the plaintext nowhere in the output', () => {
    const box = SecretBox.fromKeys(k1);
    const a = box.seal('consumer-secret-ABC', 'tenant:1:daraja');
    const b = box.seal('consumer-secret-ABC', 'tenant:1:daraja');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^lsb1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
    expect(a.startsWith(`lsb1.${box.keyId}.`)).toBe(true);
    expect(a).not.toContain('consumer');
    expect(box.open(a, 'tenant:1:daraja')).toBe('consumer-secret-ABC');
    expect(box.open(box.seal(''), '')).toBe('');
    expect(box.open(box.seal('ünïcödé ✓'))).toBe('ünïcödé ✓');
  });

  it('refuses another context, altered data, a foreign key and garbage, each with its reason', () => {
    const box = SecretBox.fromKeys(k1);
    const sealed = box.seal('passkey', 'tenant:1');
    expect(problemOf(() => box.open(sealed, 'tenant:2'))).toBe('tampered');
    const data = sealed.split('.')[2]!;
    const flipped = `${data.slice(0, 20)}${data[20] === 'A' ? 'B' : 'A'}${data.slice(21)}`;
    expect(problemOf(() => box.open(`lsb1.${box.keyId}.${flipped}`, 'tenant:1'))).toBe('tampered');
    expect(problemOf(() => SecretBox.fromKeys(k2).open(sealed, 'tenant:1'))).toBe('unknown-key');
    for (const junk of [
      '',
      'plain text',
      'lsb1.zz.abc',
      `lsb1.${box.keyId}.AAAA`,
      'lsb2.00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ]) {
      expect(problemOf(() => box.open(junk, 'tenant:1'))).toBe('format');
    }
  });

  it('rotates: the new key seals, the old one still opens, reseal moves a value to the new key', () => {
    const before = SecretBox.fromKeys(k1);
    const old = before.seal('s3cret', 'ctx');
    const after = SecretBox.fromKeys(k2, [k1]);
    expect(after.keyIds()).toEqual([secretKeyId(parseSecretKey(k2)), secretKeyId(parseSecretKey(k1))]);
    expect(after.open(old, 'ctx')).toBe('s3cret');
    expect(after.needsReseal(old)).toBe(true);
    const moved = after.reseal(old, 'ctx');
    expect(after.needsReseal(moved)).toBe(false);
    expect(SecretBox.fromKeys(k2).open(moved, 'ctx')).toBe('s3cret');
    expect(problemOf(() => SecretBox.fromKeys(k2).open(old, 'ctx'))).toBe('unknown-key');
  });

  it('reads keys as hex or base64 and refuses anything else without echoing it', () => {
    const hex = 'ab'.repeat(32);
    expect(parseSecretKey(hex)).toEqual(Buffer.from(hex, 'hex'));
    expect(parseSecretKey(Buffer.from(hex, 'hex').toString('base64'))).toEqual(Buffer.from(hex, 'hex'));
    expect(parseSecretKey(Buffer.from(hex, 'hex').toString('base64url'))).toEqual(Buffer.from(hex, 'hex'));
    for (const bad of [
      '',
      'short',
      'ab'.repeat(31),
      Buffer.alloc(31).toString('base64'),
      'my secret password that is long enough!',
    ]) {
      let message = '';
      try {
        parseSecretKey(bad);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/32 random bytes/);
      if (bad) expect(message).not.toContain(bad);
    }
  });
});

describe('secret box configuration', () => {
  const prod = { LANGO_ENV: 'production', DATABASE_URL: 'postgres://x@y/z', LANGO_JWT_SECRET: 'j'.repeat(40) };
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.join('\n');
      throw e;
    }
    return '';
  };

  it('falls back to the public development key only outside production', () => {
    expect(loadConfig({}).secretKey).toEqual({ current: DEVELOPMENT_SECRET_KEY, old: [] });
    expect(problems(prod)).toMatch(/LANGO_SECRET_KEY: required in production/);
    expect(problems({ ...prod, LANGO_SECRET_KEY: DEVELOPMENT_SECRET_KEY })).toMatch(
      /LANGO_SECRET_KEY: the development key is public/,
    );
    expect(
      problems({ ...prod, LANGO_SECRET_KEY: Buffer.from(DEVELOPMENT_SECRET_KEY, 'hex').toString('base64') }),
    ).toMatch(/development key is public/);
  });

  it('reads the key and the old keys from variables or files, and names every bad one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lango-key-'));
    const current = generateSecretKey();
    const old1 = generateSecretKey();
    const old2 = 'cd'.repeat(32);
    writeFileSync(path.join(dir, 'key'), `${current}\n`);
    writeFileSync(path.join(dir, 'old'), `${old1}\n${old2}\n`);
    const c = loadConfig({
      ...prod,
      LANGO_SECRET_KEY_FILE: path.join(dir, 'key'),
      LANGO_SECRET_KEY_OLD_FILE: path.join(dir, 'old'),
    });
    expect(c.secretKey).toEqual({ current, old: [old1, old2] });
    expect(loadConfig({ LANGO_SECRET_KEY: current, LANGO_SECRET_KEY_OLD: `${old1}, ${old2}` }).secretKey.old).toEqual([
      old1,
      old2,
    ]);
    const p = problems({ ...prod, LANGO_SECRET_KEY: 'too-short', LANGO_SECRET_KEY_OLD: `${old1},nope` });
    expect(p).toMatch(/LANGO_SECRET_KEY: a secret key is 32 random bytes/);
    expect(p).toMatch(/LANGO_SECRET_KEY_OLD \(entry 2\)/);
    expect(p).not.toContain('too-short');
    expect(problems({ ...prod, LANGO_SECRET_KEY_FILE: path.join(dir, 'missing') })).toMatch(
      /LANGO_SECRET_KEY_FILE: cannot read/,
    );
    // A configured box opens what the old keys sealed.
    const sealed = SecretBox.fromKeys(old2).seal('x');
    expect(SecretBox.fromKeys(c.secretKey.current, c.secretKey.old).open(sealed)).toBe('x');
  });
});
