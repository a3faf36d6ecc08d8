/**
 * The modules' services, wired once at boot (no module singletons). Services share the root
 * Knex handle and open their own transactions (db/knex.ts withTransaction); work across
 * modules inside a transaction goes through the other module's repo and hook functions.
 */
import type { Knex } from 'knex';
import type { Config } from '../config';
import { TargetGuard } from '../config/networks';
import { systemClock, type Clock } from '../lib/clock';
import { AuditService } from './audit/audit.service';
import { EnforcementService } from './enforcement/enforcement.service';
import { SettingsService } from './enforcement/settings.service';
import { NasService } from './nas/nas.service';
import { PlansService } from './plans/plans.service';
import { PortalService } from './portal/portal.service';
import { ReportsService } from './reports/reports.service';
import { SessionsService } from './sessions/sessions.service';
import { SubscribersService } from './subscribers/subscribers.service';
import { SecretBox, parseSecretKey } from '../lib/secret-box';
import { DarajaClient } from '../mpesa/daraja-client';
import { MpesaAccountsService } from './payments/accounts.service';
import { PaymentsService } from './payments/payments.service';
import { StkService, type DarajaFactory } from './payments/stk.service';
import { PgTokenStore } from './payments/token-store';
import { SmsSettingsService } from './payments/sms-settings.service';
import { ApiKeysService } from './tenancy/api-keys.service';
import { Authenticator } from './tenancy/authenticator';
import { LoginThrottle } from './tenancy/login-throttle';
import { TenantsService } from './tenancy/tenants.service';
import { UsersService } from './tenancy/users.service';
import { VouchersService } from './vouchers/vouchers.service';

export interface Services {
  authenticator: Authenticator;
  tenants: TenantsService;
  users: UsersService;
  apiKeys: ApiKeysService;
  audit: AuditService;
  plans: PlansService;
  portal: PortalService;
  subscribers: SubscribersService;
  nas: NasService;
  sessions: SessionsService;
  enforcement: EnforcementService;
  settings: SettingsService;
  vouchers: VouchersService;
  mpesaAccounts: MpesaAccountsService;
  smsSettings: SmsSettingsService;
  payments: PaymentsService;
  stk: StkService;
  reports: ReportsService;
}

/** What the services take from the configuration (tests give the parts they need). */
export type ServicesConfig = Pick<
  Config,
  'jwtSecret' | 'jwtTtlSeconds' | 'login' | 'nasApproval' | 'enforcementTargets' | 'payments' | 'secretKey'
> &
  Partial<Pick<Config, 'publicUrl'>>;

/**
 * `reportsDb`: where reports are read (LANGO_REPORTS_DATABASE_URL, a streaming replica); the
 * primary when absent.
 */
export function createServices(
  db: Knex,
  config: ServicesConfig,
  clock: Clock = systemClock,
  o: { daraja?: DarajaFactory; reportsDb?: Knex } = {},
): Services {
  const sealer = new SecretBox(parseSecretKey(config.secretKey.current), config.secretKey.old.map(parseSecretKey));
  const tokenStore = new PgTokenStore(db, sealer);
  const daraja: DarajaFactory = o.daraja ?? ((account) => new DarajaClient(account, { tokenStore, clock }));
  const mpesaAccounts = new MpesaAccountsService({ db, sealer, darajaSandboxUrl: config.payments.darajaSandboxUrl });
  const payments = new PaymentsService({ db, clock });
  const stk = new StkService({ db, clock, accounts: mpesaAccounts, payments, daraja, options: config.payments });
  return {
    mpesaAccounts,
    smsSettings: new SmsSettingsService({ db, sealer }),
    payments,
    stk,
    authenticator: new Authenticator({ db, jwtSecret: config.jwtSecret, clock }),
    tenants: new TenantsService({ db }),
    users: new UsersService({ db, throttle: new LoginThrottle(db, config.login), tokens: config }),
    apiKeys: new ApiKeysService({ db, clock }),
    audit: new AuditService({ db }),
    plans: new PlansService({ db }),
    portal: new PortalService({ db, clock }),
    subscribers: new SubscribersService({ db, clock }),
    nas: new NasService({ db, targets: new TargetGuard(config.enforcementTargets), approval: config.nasApproval }),
    sessions: new SessionsService({ db }),
    enforcement: new EnforcementService({ db }),
    settings: new SettingsService({ db }),
    vouchers: new VouchersService({ db, clock, portalUrl: config.publicUrl }),
    reports: new ReportsService({ db: o.reportsDb ?? db, clock }),
  };
}
