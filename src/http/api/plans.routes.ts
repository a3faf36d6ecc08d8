import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import { CreatePlan, PlanPatch, PlanQuery, PlanView } from '../../modules/plans/plans.schemas';

export function registerPlanRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/plans',
      tag: 'plans',
      summary: 'List plans',
      auth: ROLES.staff,
      scope: 'tenant',
      query: PlanQuery,
      response: PageOf(PlanView),
    },
    async ({ tenantId, query }) => s.plans.list(tenantId, query),
  );
  r.add(
    {
      method: 'post',
      path: '/plans',
      tag: 'plans',
      summary: 'Create a plan (a FreeRADIUS group)',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreatePlan,
      response: PlanView,
    },
    async ({ tenantId, body, actor }) => s.plans.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/plans/:id',
      tag: 'plans',
      summary: 'Get a plan',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: PlanView,
    },
    async ({ tenantId, params }) => s.plans.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'patch',
      path: '/plans/:id',
      tag: 'plans',
      summary: 'Update a plan (speed applies at next login; allowance applies to new periods)',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: PlanPatch,
      response: PlanView,
    },
    async ({ tenantId, params, body, actor }) => s.plans.update(actor, tenantId, params.id, body),
  );
  r.add(
    {
      method: 'delete',
      path: '/plans/:id',
      tag: 'plans',
      summary: 'Delete an unused plan',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      status: 204,
    },
    async ({ tenantId, params, actor }) => s.plans.remove(actor, tenantId, params.id),
  );
}
