import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../lib/errors';
import { mapDbError } from '../../db/errors';
import type { LoginLimits } from '../../config';
import { sha256 } from './credentials';

/**
 * Login brute-force limits, per account (the email as typed, hashed) and per client address,
 * counted in PostgreSQL (table login_throttle) so every API process shares them.
 *
 * Every attempt takes a point from both before the password is checked: the upsert is atomic,
 * so parallel guesses cannot slip past the limit. A successful login clears the account's count
 * and gives the address its point back (down to zero, so successes cannot be saved up for
 * later guesses); what remains counted are failures. The address limit
 * is the higher one, so one client hammering one account locks that account only, and a
 * client spraying many accounts is stopped by its address.
 */
export class LoginThrottle {
  private readonly account: RateLimiterPostgres;
  private readonly address: RateLimiterPostgres;

  constructor(db: Knex, limits: LoginLimits) {
    const store = {
      storeClient: db,
      storeType: 'knex',
      tableName: 'login_throttle',
      tableCreated: true,
      duration: limits.windowSeconds,
    };
    this.account = new RateLimiterPostgres({ ...store, keyPrefix: 'account', points: limits.maxFailuresPerAccount });
    // One limiter's timer is enough to delete the table's expired rows.
    this.address = new RateLimiterPostgres({
      ...store,
      keyPrefix: 'address',
      points: limits.maxFailuresPerAddress,
      clearExpiredByTimeout: false,
    });
  }

  /** Counts an attempt; RATE_LIMITED (with retryAfterSeconds) when either limit is used up. */
  async attempt(email: string, address: string): Promise<void> {
    await take(this.address, address);
    await take(this.account, accountKey(email));
  }

  async succeeded(email: string, address: string): Promise<void> {
    try {
      await this.account.delete(accountKey(email));
      // Give back this attempt's point, never more: successes must not bank failures.
      const used = await this.address.get(address);
      if (used && used.consumedPoints > 0) await this.address.reward(address, 1);
    } catch (err) {
      throw mapDbError(err);
    }
  }
}

const accountKey = (email: string) => sha256(email.toLowerCase());

async function take(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key, 1);
  } catch (res) {
    if (!(res instanceof RateLimiterRes)) throw mapDbError(res);
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw new AppError('RATE_LIMITED', 'too many failed logins; try again later', { retryAfterSeconds });
  }
}
