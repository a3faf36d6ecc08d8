/**
 * Secrets at rest (a tenant's Daraja consumer secret and passkey, ...): AES-256-GCM with a
 * random 96-bit nonce per value, the master key from the environment (src/config:
 * LANGO_SECRET_KEY / _FILE).
 *
 * A sealed value is text: `lsb1.<key id>.<base64url(nonce | ciphertext | tag)>`. The key id is
 * derived from the key (8 hex digits of a SHA-256), so rotation needs no bookkeeping: the new
 * key seals, old keys (LANGO_SECRET_KEY_OLD) still open what they sealed, and `needsReseal()`
 * finds what to re-seal before an old key is dropped.
 *
 * A `context` (e.g. `tenant:<id>:daraja:passkey`) is authenticated with the value: a sealed
 * value copied into another row or tenant does not open there.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'lsb1';
const NONCE = 12;
const TAG = 16;

export type SecretBoxProblem = 'key' | 'format' | 'unknown-key' | 'tampered';

export class SecretBoxError extends Error {
  constructor(
    readonly problem: SecretBoxProblem,
    message: string,
  ) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/**
 * A master key as configured: 32 bytes as 64 hex digits or as base64 / base64url (44 or 43
 * characters). Throws SecretBoxError('key') without echoing the value.
 */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) {
    const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new SecretBoxError(
    'key',
    'a secret key is 32 random bytes, written as 64 hex digits or in base64 (e.g. `openssl rand -base64 32`)',
  );
}

/** A new random key in base64, for LANGO_SECRET_KEY. */
export function generateSecretKey(): string {
  return randomBytes(32).toString('base64');
}

/** The public id of a key: the first 8 hex digits of SHA-256("lango secret-box key id" NUL key). */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('lango secret-box key id\0').update(key).digest('hex').slice(0, 8);
}

export class SecretBox {
  /** The id of the key that seals. */
  readonly keyId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: Buffer, old: readonly Buffer[] = []) {
    if (current.length !== 32 || old.some((k) => k.length !== 32))
      throw new SecretBoxError('key', 'AES-256-GCM keys are 32 bytes');
    this.keyId = secretKeyId(current);
    this.keys.set(this.keyId, Buffer.from(current));
    for (const k of old) {
      const id = secretKeyId(k);
      if (!this.keys.has(id)) this.keys.set(id, Buffer.from(k));
    }
  }

  /** From configured key texts (parseSecretKey's forms). */
  static fromKeys(current: string, old: readonly string[] = []): SecretBox {
    return new SecretBox(parseSecretKey(current), old.map(parseSecretKey));
  }

  seal(plaintext: string, context = ''): string {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.keyId) as Buffer, nonce);
    cipher.setAAD(aad(this.keyId, context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${this.keyId}.${Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url')}`;
  }

  open(sealed: string, context = ''): string {
    const { keyId, blob } = split(sealed);
    const key = this.keys.get(keyId);
    if (!key)
      throw new SecretBoxError(
        'unknown-key',
        `sealed with key ${keyId}, which is not configured (LANGO_SECRET_KEY or LANGO_SECRET_KEY_OLD)`,
      );
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, NONCE));
    decipher.setAAD(aad(keyId, context));
    decipher.setAuthTag(blob.subarray(blob.length - TAG));
    try {
      return Buffer.concat([decipher.update(blob.subarray(NONCE, blob.length - TAG)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretBoxError('tampered', 'a sealed value does not open: altered, or sealed for another context');
    }
  }

  /** Whether the value was sealed with an old key (re-seal it before that key is retired). */
  needsReseal(sealed: string): boolean {
    return split(sealed).keyId !== this.keyId;
  }

  /** Opens with whichever key sealed it and seals with the current key. */
  reseal(sealed: string, context = ''): string {
    return this.seal(this.open(sealed, context), context);
  }

  /** The ids of every key that can open (current first). */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`${VERSION}.${keyId}.${context}`, 'utf8');
}

function split(sealed: string): { keyId: string; blob: Buffer } {
  const m = /^lsb1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/.exec(typeof sealed === 'string' ? sealed : '');
  if (!m) throw new SecretBoxError('format', 'not a sealed value (lsb1.<key id>.<data>)');
  const blob = Buffer.from(m[2] as string, 'base64url');
  if (blob.length < NONCE + TAG)
    throw new SecretBoxError('format', 'a sealed value too short to hold a nonce and a tag');
  return { keyId: m[1] as string, blob };
}
