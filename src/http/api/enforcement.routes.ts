import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import {
  ActionQuery,
  ActionView,
  EnforcementSettings,
  SettingsPatch,
} from '../../modules/enforcement/enforcement.schemas';

/** The enforcement log and the tenant's enforcement settings. */
export function registerEnforcementRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/enforcement-actions',
      tag: 'enforcement',
      summary: 'The enforcement log: Disconnect/CoA actions and their outcomes (ack, nak with Error-Cause, timeout)',
      auth: ROLES.staff,
      scope: 'tenant',
      query: ActionQuery,
      response: PageOf(ActionView),
    },
    async ({ tenantId, query }) => s.enforcement.listActions(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/enforcement-actions/:id',
      tag: 'enforcement',
      summary: 'One enforcement action',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: ActionView,
    },
    async ({ tenantId, params }) => s.enforcement.getAction(tenantId, params.id),
  );
  r.add(
    {
      method: 'get',
      path: '/enforcement/settings',
      tag: 'enforcement',
      summary: 'What happens when time or data runs out (disconnect or soft block)',
      auth: ROLES.staff,
      scope: 'tenant',
      response: EnforcementSettings,
    },
    async ({ tenantId }) => s.settings.get(tenantId),
  );
  r.add(
    {
      method: 'patch',
      path: '/enforcement/settings',
      tag: 'enforcement',
      auth: ROLES.admin,
      scope: 'tenant',
      body: SettingsPatch,
      response: EnforcementSettings,
      summary:
        'Choose disconnect or soft block (walled-garden address list, trickle rate) for users out of time or data',
    },
    async ({ tenantId, body, actor }) => s.settings.update(actor, tenantId, body),
  );
}
