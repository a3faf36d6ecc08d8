import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import { ListQuery } from '../../modules/tenancy/tenancy.schemas';
import {
  ChangePlan,
  CreateSubscriber,
  Empty,
  ResetPassword,
  SubscriberPatch,
  SubscriberPeriod,
  SubscriberQuery,
  SubscriberView,
  SubscriptionView,
  Suspend,
} from '../../modules/subscribers/subscribers.schemas';

export function registerSubscriberRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/subscribers',
      tag: 'subscribers',
      summary: 'List subscribers (filter by status, plan, expiry, text)',
      auth: ROLES.staff,
      scope: 'tenant',
      query: SubscriberQuery,
      response: PageOf(SubscriberView),
    },
    async ({ tenantId, query }) => s.subscribers.list(tenantId, query),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers',
      tag: 'subscribers',
      summary: 'Create a subscriber (and start a subscription when a plan is given)',
      auth: ROLES.admin,
      scope: 'tenant',
      status: 201,
      body: CreateSubscriber,
      response: SubscriberView,
    },
    async ({ tenantId, body, actor }) => s.subscribers.create(actor, tenantId, body),
  );
  r.add(
    {
      method: 'get',
      path: '/subscribers/:id',
      tag: 'subscribers',
      summary: 'Get a subscriber',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      response: SubscriberView,
    },
    async ({ tenantId, params }) => s.subscribers.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'patch',
      path: '/subscribers/:id',
      tag: 'subscribers',
      summary: 'Update profile, MAC binding or static IP',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: SubscriberPatch,
      response: SubscriberView,
    },
    async ({ tenantId, params, body, actor }) => s.subscribers.update(actor, tenantId, params.id, body),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers/:id/suspend',
      tag: 'subscribers',
      summary: 'Suspend: RADIUS rejects the subscriber',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      body: Suspend,
      response: SubscriberView,
    },
    async ({ tenantId, params, body, actor }) =>
      s.subscribers.setStatus(actor, tenantId, params.id, 'suspended', body.reason),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers/:id/activate',
      tag: 'subscribers',
      summary: 'Lift a suspension',
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      body: Empty,
      response: SubscriberView,
    },
    async ({ tenantId, params, actor }) => s.subscribers.setStatus(actor, tenantId, params.id, 'active'),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers/:id/renew',
      tag: 'subscribers',
      summary: 'Add one period of the current plan',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: Empty,
      response: SubscriberPeriod,
    },
    async ({ tenantId, params, actor }) => s.subscribers.renew(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers/:id/change-plan',
      tag: 'subscribers',
      summary: 'Move to another plan now',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      body: ChangePlan,
      response: SubscriberPeriod,
    },
    async ({ tenantId, params, body, actor }) => s.subscribers.changePlan(actor, tenantId, params.id, body.planId),
  );
  r.add(
    {
      method: 'post',
      path: '/subscribers/:id/reset-password',
      tag: 'subscribers',
      summary: 'Set a new password',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      status: 204,
      body: ResetPassword,
    },
    async ({ tenantId, params, body, actor }) => s.subscribers.resetPassword(actor, tenantId, params.id, body.password),
  );
  r.add(
    {
      method: 'delete',
      path: '/subscribers/:id',
      tag: 'subscribers',
      summary: 'Delete a subscriber (accounting history is kept)',
      auth: ROLES.admin,
      scope: 'tenant',
      params: IdParams,
      status: 204,
    },
    async ({ tenantId, params, actor }) => s.subscribers.remove(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'get',
      path: '/subscribers/:id/subscriptions',
      tag: 'subscribers',
      summary: "A subscriber's subscription periods",
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      query: ListQuery,
      response: PageOf(SubscriptionView),
    },
    async ({ tenantId, params, query }) => s.subscribers.subscriptions(tenantId, params.id, query.limit, query.offset),
  );
}
