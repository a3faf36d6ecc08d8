/**
 * Where Daraja access tokens are kept between requests and shared between processes.
 *
 * Daraja invalidates the previous token when a new one is issued (gotcha G6), so two processes
 * that each fetch their own token break each other. The client therefore fetches only under a
 * claim: the first process to `claim()` a key fetches and `put()`s the token; the others wait
 * for it and read it with `get()`. A claim expires by itself (its holder may die), so nothing
 * ever waits for ever.
 *
 * `MemoryTokenStore` serves one process (tests, the CLI). A store shared by the api and worker
 * processes keeps the same rows in PostgreSQL (see CONTEXT.md); the key is the collection
 * account's id, the token is a secret (store it sealed, never log it).
 */

export interface CachedToken {
  readonly accessToken: string;
  /** Milliseconds since the epoch (on the client's clock) after which it must not be used. */
  readonly expiresAt: number;
}

export interface TokenStore {
  /** The token stored for `key`, if any (it may have expired: the client checks). */
  get(key: string): Promise<CachedToken | undefined>;
  /**
   * Asks for the right to fetch a new token for `key` until `now + ttlMs`. True if granted (no
   * other unexpired claim); `holder` identifies the claimant in put/release.
   */
  claim(key: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Stores a token fetched under a claim and ends the claim. */
  put(key: string, token: CachedToken, holder: string): Promise<void>;
  /** Ends a claim without a token (the fetch failed). */
  release(key: string, holder: string): Promise<void>;
  /** Forgets the token if it is still `accessToken` (Daraja refused it). */
  invalidate(key: string, accessToken: string): Promise<void>;
}

interface Entry {
  token?: CachedToken;
  claim?: { holder: string; until: number };
}

export class MemoryTokenStore implements TokenStore {
  private readonly entries = new Map<string, Entry>();

  async get(key: string): Promise<CachedToken | undefined> {
    return this.entries.get(key)?.token;
  }

  async claim(key: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const e = this.entries.get(key) ?? {};
    if (e.claim && e.claim.until > now && e.claim.holder !== holder) return false;
    e.claim = { holder, until: now + ttlMs };
    this.entries.set(key, e);
    return true;
  }

  async put(key: string, token: CachedToken, holder: string): Promise<void> {
    const e = this.entries.get(key) ?? {};
    e.token = token;
    if (e.claim?.holder === holder) delete e.claim;
    this.entries.set(key, e);
  }

  async release(key: string, holder: string): Promise<void> {
    const e = this.entries.get(key);
    if (e?.claim?.holder === holder) delete e.claim;
  }

  async invalidate(key: string, accessToken: string): Promise<void> {
    const e = this.entries.get(key);
    if (e?.token?.accessToken === accessToken) delete e.token;
  }
}
