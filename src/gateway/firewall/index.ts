/** The gateway's firewall drivers (driver.ts has the contract and the direction convention). */
import type { FirewallDriver } from './driver';
import { MemoryFirewallDriver } from './memory';
import { NftablesFirewallDriver, type NftablesOptions } from './nftables';

export type { ClientCounters, ClientLimits, FirewallDriver, WalledGardenEntry } from './driver';
export { MemoryFirewallDriver } from './memory';

export function createFirewallDriver(kind: FirewallDriver['kind'], opts: NftablesOptions): FirewallDriver {
  return kind === 'nftables' ? new NftablesFirewallDriver(opts) : new MemoryFirewallDriver(opts);
}
