/**
 * What both firewall drivers share, so their semantics cannot drift apart: validation before
 * anything happens, one operation at a time (a CoA and a login may arrive together), the
 * NOT_SET_UP / IP_IN_USE / NOT_ALLOWED rules and the driver's own record of who is allowed with
 * which limits. Subclasses only apply the changes (to the kernel, or to memory).
 */
import {
  normalizeClient,
  normalizeGarden,
  normalizeLimits,
  type AllowedClient,
  type ClientCounters,
  type ClientLimits,
  type FirewallClient,
  type FirewallDriver,
  type NormalizedClient,
  type NormalizedGardenEntry,
  type WalledGardenEntry,
} from './driver';
import { FirewallError } from './errors';

/** Runs async operations one at a time, in call order (a failed one does not stop the next). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export interface ClientRecord {
  mac: string;
  limits: ClientLimits;
}

export abstract class BaseFirewallDriver<R extends ClientRecord> implements FirewallDriver {
  abstract readonly kind: FirewallDriver['kind'];
  /** Allowed clients by IP, as this driver instance made them. */
  protected readonly clients = new Map<string, R>();
  private readonly queue = new SerialQueue();
  private ready = false;

  /** Initial state from whatever was there. */
  protected abstract doSetup(): Promise<void>;
  protected abstract doTeardown(): Promise<void>;
  /** Lets the client through with `limits`; `cur` is its record when it is allowed already. */
  protected abstract doAllow(client: NormalizedClient, limits: ClientLimits, cur: R | undefined): Promise<R>;
  /** Blocks the client; its final counters. */
  protected abstract doRevoke(client: NormalizedClient, cur: R): Promise<ClientCounters>;
  /** Every allowed client with counters (limits null where the record is not ours). */
  protected abstract doList(): Promise<AllowedClient[]>;
  protected abstract doSetWalledGarden(entries: NormalizedGardenEntry[]): Promise<void>;

  protected get isReady(): boolean {
    return this.ready;
  }

  async setup(): Promise<void> {
    return this.queue.run(async () => {
      this.ready = false;
      await this.doSetup();
      this.clients.clear();
      this.ready = true;
    });
  }

  async teardown(): Promise<void> {
    return this.queue.run(async () => {
      this.ready = false;
      await this.doTeardown();
      this.clients.clear();
    });
  }

  async allow(client: FirewallClient, limits: ClientLimits): Promise<void> {
    const c = normalizeClient(client);
    const l = normalizeLimits(limits);
    return this.exclusive(async () => {
      const cur = this.clients.get(c.ip);
      if (cur && cur.mac !== c.mac)
        throw new FirewallError('IP_IN_USE', `${c.ip} is allowed for another MAC`, { ip: c.ip });
      this.clients.set(c.ip, await this.doAllow(c, l, cur));
    });
  }

  async updateLimits(client: FirewallClient, limits: ClientLimits): Promise<void> {
    const c = normalizeClient(client);
    const l = normalizeLimits(limits);
    return this.exclusive(async () => {
      const cur = this.record(c);
      if (!cur) throw new FirewallError('NOT_ALLOWED', `${c.ip} (${c.mac}) is not allowed`, { ip: c.ip });
      this.clients.set(c.ip, await this.doAllow(c, l, cur));
    });
  }

  async revoke(client: FirewallClient): Promise<ClientCounters | null> {
    const c = normalizeClient(client);
    return this.exclusive(async () => {
      const cur = this.record(c);
      if (!cur) return null;
      const final = await this.doRevoke(c, cur);
      this.clients.delete(c.ip);
      return final;
    });
  }

  async counters(client: FirewallClient): Promise<ClientCounters | null> {
    const c = normalizeClient(client);
    return this.exclusive(async () => {
      const found = (await this.doList()).find((x) => x.ip === c.ip && x.mac === c.mac);
      return found ? found.counters : null;
    });
  }

  async listAllowed(): Promise<AllowedClient[]> {
    return this.exclusive(() => this.doList());
  }

  async setWalledGarden(entries: readonly WalledGardenEntry[]): Promise<void> {
    const garden = normalizeGarden(entries);
    return this.exclusive(() => this.doSetWalledGarden(garden));
  }

  /** The record of an allowed client, when the MAC matches too. */
  protected record(c: NormalizedClient): R | undefined {
    const cur = this.clients.get(c.ip);
    return cur && cur.mac === c.mac ? cur : undefined;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      if (!this.ready) throw new FirewallError('NOT_SET_UP', 'the firewall is not set up (call setup())');
      return fn();
    });
  }
}
