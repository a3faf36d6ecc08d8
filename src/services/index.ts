import type { Knex } from 'knex';
import { TenantsService, UsersService } from './tenants.service';
import { PlansService } from './plans.service';
import { SubscribersService } from './subscribers.service';
import { NasService, type NasApproval } from './nas.service';
import { ApiKeysService } from './api-keys.service';
import { AuditService } from './audit.service';
import { EnforcementService } from './enforcement.service';
import { SessionsService } from './sessions.service';
import { TargetGuard, type TargetPolicy } from '../config/networks';

export interface Services {
  tenants: TenantsService;
  users: UsersService;
  apiKeys: ApiKeysService;
  audit: AuditService;
  plans: PlansService;
  subscribers: SubscribersService;
  nas: NasService;
  sessions: SessionsService;
  enforcement: EnforcementService;
}

/** Wired once at boot (no module singletons). */
export interface ServiceOptions {
  /** Who admits NAS addresses (config LANGO_NAS_APPROVAL). Default auto. */
  nasApproval?: NasApproval;
  /** Where NAS addresses may point (config.enforcementTargets): the worker sends there. */
  enforcementTargets: TargetPolicy;
}

export function createServices(db: Knex, opts: ServiceOptions): Services {
  const plans = new PlansService(db);
  const enforcement = new EnforcementService(db);
  return {
    tenants: new TenantsService(db, enforcement),
    users: new UsersService(db),
    apiKeys: new ApiKeysService(db),
    audit: new AuditService(db),
    plans,
    subscribers: new SubscribersService(db, plans, enforcement),
    nas: new NasService(db, new TargetGuard(opts.enforcementTargets), opts.nasApproval ?? 'auto'),
    sessions: new SessionsService(db),
    enforcement,
  };
}
