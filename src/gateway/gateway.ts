/**
 * `lango gateway`: the local NAS assembled from its parts. start(): firewall setup (nothing
 * allowed; the walled garden: the portal's host and the configured entries, names resolved and
 * kept fresh by garden.ts), the CoA/Disconnect server, the login
 * endpoint, the session checks, then Accounting-On (FreeRADIUS closes what a previous run left
 * open). stop(): Stops for every session (NAS-Request), Accounting-Off, a bounded wait for the
 * accounting queue, then everything closed and the firewall torn down.
 */
import type { Clock } from '../lib/clock';
import { DynAuthServer } from '../radius';
import type { GatewayConfig } from './config';
import { gatewayDynAuthHandler } from './dynauth';
import { createFirewallDriver, type FirewallDriver } from './firewall';
import { WalledGarden, type Resolve4 } from './garden';
import { GatewayPortal } from './portal';
import { GatewayRadius } from './radius';
import { SessionTable, type GatewayIdentity } from './sessions';

export interface GatewayLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface GatewayDeps {
  readonly clock: Clock;
  readonly logger: GatewayLogger;
  /** Default: the configured driver. */
  readonly driver?: FirewallDriver;
  readonly macOf?: (ip: string) => Promise<string | undefined>;
  /** Resolves walled-garden names; default node's dns.resolve4 (the box's resolver). */
  readonly resolve4?: Resolve4;
  /** How long stop() waits for unanswered accounting. Default 10 s. */
  readonly stopDrainMs?: number;
  /** Wait between accounting rounds when no server answered. Default 5 s. */
  readonly accountingRetryMs?: number;
}

export class Gateway {
  readonly driver: FirewallDriver;
  readonly radius: GatewayRadius;
  readonly sessions: SessionTable;
  readonly portal: GatewayPortal;
  readonly identity: GatewayIdentity;
  readonly garden: WalledGarden;
  private dynauth: DynAuthServer | undefined;
  private started = false;

  constructor(
    readonly config: GatewayConfig,
    private readonly deps: GatewayDeps,
  ) {
    const portalPort = config.portal.port;
    this.driver =
      deps.driver ??
      createFirewallDriver(config.driver, {
        lanInterface: config.lanInterface,
        wanInterface: config.wanInterface,
        portalPort,
      });
    this.identity = {
      nasIdentifier: config.nasIdentifier,
      nasIpAddress: config.nasIpAddress,
      calledStationId: config.calledStationId ?? config.nasIdentifier,
    };
    this.radius = new GatewayRadius({
      servers: config.radius.servers,
      secret: config.radius.secret,
      clock: deps.clock,
      retransmit: config.radius.retransmit,
      ...(deps.accountingRetryMs !== undefined ? { accountingRetryMs: deps.accountingRetryMs } : {}),
      ...(config.radius.bindAddress ? { bindAddress: config.radius.bindAddress } : {}),
      logger: deps.logger,
    });
    this.sessions = new SessionTable({
      driver: this.driver,
      radius: this.radius,
      clock: deps.clock,
      identity: this.identity,
      checkIntervalMs: config.checkIntervalMs,
      logger: deps.logger,
    });
    this.portal = new GatewayPortal({
      host: config.portal.host,
      port: portalPort,
      table: this.sessions,
      clock: deps.clock,
      portalUrl: config.portal.url,
      ...(config.portal.loginUrl ? { loginUrl: config.portal.loginUrl } : {}),
      lanSubnet: config.lanSubnet,
      passwordMethod: config.portal.passwordMethod,
      trustClientHeaders: config.portal.trustClientHeaders,
      ...(deps.macOf ? { macOf: deps.macOf } : {}),
      logger: deps.logger,
    });
    this.garden = new WalledGarden({
      entries: [...config.walledGarden, new URL(config.portal.url).hostname.replace(/^\[|\]$/g, '')],
      driver: this.driver,
      clock: deps.clock,
      refreshMs: config.walledGardenRefreshSeconds * 1000,
      ...(deps.resolve4 ? { resolve: deps.resolve4 } : {}),
      logger: deps.logger,
    });
  }

  get coaPort(): number {
    return this.dynauth?.port ?? 0;
  }

  async start(): Promise<void> {
    await this.driver.setup();
    await this.garden.start();
    this.dynauth = await DynAuthServer.listen({
      host: this.config.coa.host,
      port: this.config.coa.port,
      secret: this.config.coa.secret ?? this.config.radius.secret,
      requireMessageAuthenticator: this.config.coa.requireMessageAuthenticator,
      clock: this.deps.clock,
      handler: gatewayDynAuthHandler(this.sessions, this.identity),
      logger: this.deps.logger,
    });
    await this.portal.listen();
    this.sessions.start();
    this.started = true;
    void this.sessions
      .nasAccounting('Accounting-On')
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'gateway: Accounting-On failed'));
    this.deps.logger.info(
      { coaPort: this.coaPort, portalPort: this.portal.port, driver: this.driver.kind },
      'gateway started',
    );
  }

  async stop(): Promise<void> {
    if (this.started) {
      this.started = false;
      await this.sessions.stop('NAS-Request');
      void this.sessions.nasAccounting('Accounting-Off').catch(() => undefined);
      const drained = await this.radius.drain(this.deps.stopDrainMs ?? 10_000);
      if (!drained)
        this.deps.logger.warn(
          { pending: this.radius.pendingAccounting },
          'gateway: stopping with accounting unanswered',
        );
    }
    this.garden.stop();
    await this.portal.close();
    await this.dynauth?.close();
    await this.radius.close();
    await this.driver.teardown();
  }
}
