/**
 * The walled garden by name: what unauthenticated clients may reach (the portal's host, M-Pesa's
 * pages). The config lists IPv4 addresses, CIDR networks or DNS names; the firewall only knows
 * addresses (an nftables set), so names are resolved here, with the gateway's own resolver
 * (node's dns.resolve4: the servers in the box's /etc/resolv.conf; on a hotspot box that is the
 * dnsmasq the clients use too, so both see the same cached answers), and resolved again every
 * `refreshMs`, or sooner when an answer's TTL is shorter (never more often than every 30 s).
 * The set is replaced as a whole after each round. A name that does not resolve keeps the
 * addresses it had (a DNS hiccup must not close the portal); it is logged.
 */
import { promises as dns } from 'node:dns';
import { isIPv4 } from 'node:net';
import type { Clock, Timer } from '../lib/clock';
import type { FirewallDriver, WalledGardenEntry } from './firewall';

export type Resolve4 = (name: string) => Promise<ReadonlyArray<{ address: string; ttl: number }>>;

export const MIN_REFRESH_MS = 30_000;

const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** True when the entry is an address or network (used as it is), false for a name to resolve. */
export function isGardenAddress(entry: string): boolean {
  return isIPv4(entry) || CIDR.test(entry);
}

export interface WalledGardenOptions {
  /** Addresses, networks and names (the portal's host among them). */
  readonly entries: readonly string[];
  readonly driver: FirewallDriver;
  readonly clock: Clock;
  readonly refreshMs: number;
  readonly resolve?: Resolve4;
  readonly logger: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

export class WalledGarden {
  private readonly known = new Map<string, string[]>();
  private timer: Timer | undefined;
  private stopped = false;

  constructor(private readonly opts: WalledGardenOptions) {}

  /** What the firewall holds now: the fixed addresses and the last answer for each name. */
  entries(): WalledGardenEntry[] {
    const out = new Set<string>();
    for (const e of this.opts.entries) {
      if (isGardenAddress(e)) out.add(e);
      else for (const a of this.known.get(e) ?? []) out.add(a);
    }
    return [...out].map((address) => ({ address }));
  }

  /** One round: resolve every name, replace the firewall's set; the delay until the next round. */
  async refresh(): Promise<number> {
    const resolve = this.opts.resolve ?? ((name: string) => dns.resolve4(name, { ttl: true }));
    let next = this.opts.refreshMs;
    const names = [...new Set(this.opts.entries.filter((e) => !isGardenAddress(e)))];
    await Promise.all(
      names.map(async (name) => {
        try {
          const answers = (await resolve(name)).filter((a) => isIPv4(a.address));
          if (answers.length === 0) throw new Error('no IPv4 address');
          this.known.set(
            name,
            answers.map((a) => a.address),
          );
          for (const a of answers) if (a.ttl > 0) next = Math.min(next, a.ttl * 1000);
        } catch (err) {
          this.opts.logger.warn(
            { name, err: (err as Error).message, kept: this.known.get(name) ?? [] },
            'gateway: a walled-garden name did not resolve; its last addresses are kept',
          );
        }
      }),
    );
    await this.opts.driver.setWalledGarden(this.entries());
    return Math.max(MIN_REFRESH_MS, next);
  }

  /** The first round (awaited), then rounds on the clock until stop(). */
  async start(): Promise<void> {
    this.stopped = false;
    this.schedule(await this.refresh());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(ms, () => {
      this.refresh().then(
        (next) => this.schedule(next),
        (err: unknown) => {
          this.opts.logger.warn({ err }, 'gateway: walled garden refresh failed');
          this.schedule(this.opts.refreshMs);
        },
      );
    });
  }
}
