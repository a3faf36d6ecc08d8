import type { Knex } from 'knex';
import { TenantsService, UsersService } from './tenants.service';
import { PlansService } from './plans.service';
import { SubscribersService } from './subscribers.service';
import { NasService } from './nas.service';
import { ApiKeysService } from './api-keys.service';

export interface Services {
  tenants: TenantsService;
  users: UsersService;
  apiKeys: ApiKeysService;
  plans: PlansService;
  subscribers: SubscribersService;
  nas: NasService;
}

/** Wired once at boot (no module singletons). */
export function createServices(db: Knex): Services {
  const plans = new PlansService(db);
  return {
    tenants: new TenantsService(db),
    users: new UsersService(db),
    apiKeys: new ApiKeysService(db),
    plans,
    subscribers: new SubscribersService(db, plans),
    nas: new NasService(db),
  };
}
