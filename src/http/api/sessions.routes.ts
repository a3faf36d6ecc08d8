import type { RouteRegistry } from '../registry';
import type { Services } from '../../modules/services';
import { ROLES } from '../../modules/tenancy/principals';
import { IdParams, PageOf } from '../../lib/schema';
import { HistoryQuery, LiveQuery, SessionParams, SessionView } from '../../modules/sessions/sessions.schemas';
import { Empty } from '../../modules/subscribers/subscribers.schemas';
import { ActionView } from '../../modules/enforcement/enforcement.schemas';

/** Sessions (radacct) and the staff "disconnect" button. */
export function registerSessionRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get',
      path: '/sessions',
      tag: 'sessions',
      summary: 'Live sessions (accounting open), newest first; filter by NAS, subscriber or username',
      auth: ROLES.staff,
      scope: 'tenant',
      query: LiveQuery,
      response: PageOf(SessionView),
    },
    async ({ tenantId, query }) => s.sessions.listLive(tenantId, query),
  );
  r.add(
    {
      method: 'get',
      path: '/sessions/:id',
      tag: 'sessions',
      summary: 'One session, live or ended',
      auth: ROLES.staff,
      scope: 'tenant',
      params: SessionParams,
      response: SessionView,
    },
    async ({ tenantId, params }) => s.sessions.get(tenantId, params.id),
  );
  r.add(
    {
      method: 'post',
      path: '/sessions/:id/disconnect',
      tag: 'sessions',
      auth: ROLES.staff,
      scope: 'tenant',
      params: SessionParams,
      body: Empty,
      status: 202,
      response: ActionView,
      summary:
        'Disconnect a live session: queues a Disconnect-Request; follow the returned action for ack, nak (Error-Cause) or timeout',
    },
    async ({ tenantId, params, actor }) => s.enforcement.disconnectSession(actor, tenantId, params.id),
  );
  r.add(
    {
      method: 'get',
      path: '/subscribers/:id/sessions',
      tag: 'sessions',
      summary: "A subscriber's sessions, live and ended, newest first",
      auth: ROLES.staff,
      scope: 'tenant',
      params: IdParams,
      query: HistoryQuery,
      response: PageOf(SessionView),
    },
    async ({ tenantId, params, query }) => s.sessions.history(tenantId, params.id, query),
  );
}
