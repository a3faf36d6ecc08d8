/**
 * The Daraja TokenStore (src/mpesa/token-store.ts) in PostgreSQL, so the api and worker
 * processes share one token per account (a new token invalidates the old one). Tokens are
 * sealed like the credentials. Claims are rows updated under a condition, so two processes
 * never both win one.
 */
import type { Knex } from 'knex';
import type { CachedToken, TokenStore } from '../../mpesa/token-store';
import type { Sealer } from './accounts.service';

export class PgTokenStore implements TokenStore {
  constructor(
    private readonly db: Knex,
    private readonly sealer: Sealer,
  ) {}

  async get(key: string): Promise<CachedToken | undefined> {
    const r = await this.db('mpesa_tokens').where({ account_id: key }).first('token_sealed', 'expires_at_ms');
    if (!r?.token_sealed) return undefined;
    try {
      return {
        accessToken: this.sealer.open(r.token_sealed, `mpesa_tokens:${key}`),
        expiresAt: Number(r.expires_at_ms),
      };
    } catch {
      return undefined; // sealed under a key no longer configured: fetch a new one
    }
  }

  async claim(key: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const r = await this.db.raw(
      `INSERT INTO mpesa_tokens (account_id, claim_holder, claim_until_ms) VALUES (?, ?, ?)
       ON CONFLICT (account_id) DO UPDATE SET claim_holder = EXCLUDED.claim_holder, claim_until_ms = EXCLUDED.claim_until_ms
        WHERE mpesa_tokens.claim_holder IS NULL OR mpesa_tokens.claim_until_ms <= ? OR mpesa_tokens.claim_holder = EXCLUDED.claim_holder
       RETURNING account_id`,
      [key, holder, now + ttlMs, now],
    );
    return r.rows.length === 1;
  }

  async put(key: string, token: CachedToken, holder: string): Promise<void> {
    await this.db.raw(
      `INSERT INTO mpesa_tokens (account_id, token_sealed, expires_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (account_id) DO UPDATE SET token_sealed = EXCLUDED.token_sealed, expires_at_ms = EXCLUDED.expires_at_ms,
         claim_holder = CASE WHEN mpesa_tokens.claim_holder = ? THEN NULL ELSE mpesa_tokens.claim_holder END,
         claim_until_ms = CASE WHEN mpesa_tokens.claim_holder = ? THEN NULL ELSE mpesa_tokens.claim_until_ms END`,
      [key, this.sealer.seal(token.accessToken, `mpesa_tokens:${key}`), token.expiresAt, holder, holder],
    );
  }

  async release(key: string, holder: string): Promise<void> {
    await this.db('mpesa_tokens')
      .where({ account_id: key, claim_holder: holder })
      .update({ claim_holder: null, claim_until_ms: null });
  }

  async invalidate(key: string, accessToken: string): Promise<void> {
    const cur = await this.get(key);
    if (cur?.accessToken === accessToken)
      await this.db('mpesa_tokens').where({ account_id: key }).update({ token_sealed: null, expires_at_ms: null });
  }
}
