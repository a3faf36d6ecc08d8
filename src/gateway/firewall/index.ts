/** The gateway's firewall drivers (driver.ts has the contract and the direction convention). */
import type { FirewallDriver } from './driver';
import { MemoryFirewallDriver } from './memory';
import { NftablesFirewallDriver, type NftablesOptions } from './nftables';

export type { AllowedClient, ClientCounters, ClientLimits, FirewallClient, FirewallDriver, FirewallOptions, WalledGardenEntry } from './driver';
export { FirewallError, type FirewallErrorCode } from './errors';
export { MemoryFirewallDriver } from './memory';
export { NftablesFirewallDriver } from './nftables';
export { createCommandRunner, type CommandRunner } from './runner';

export function createFirewallDriver(kind: FirewallDriver['kind'], opts: NftablesOptions): FirewallDriver {
  return kind === 'nftables' ? new NftablesFirewallDriver(opts) : new MemoryFirewallDriver(opts);
}
