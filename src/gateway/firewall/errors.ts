/** Typed errors of the gateway's firewall drivers. */

export type FirewallErrorCode =
  /** A value (IP, MAC, interface, number) is not what it must be; nothing was changed. */
  | 'INVALID_VALUE'
  /** setup() has not run (or teardown() has). */
  | 'NOT_SET_UP'
  /** allow() for an IP that is allowed for another MAC: revoke that session first. */
  | 'IP_IN_USE'
  /** updateLimits() for a client that is not allowed. */
  | 'NOT_ALLOWED'
  /** nft, tc or ip failed (details: command, exit code, stderr). */
  | 'COMMAND_FAILED';

export class FirewallError extends Error {
  override readonly name = 'FirewallError';
  constructor(
    readonly code: FirewallErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
