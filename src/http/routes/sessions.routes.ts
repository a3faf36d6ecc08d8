import type { RouteRegistry } from '../registry';
import type { Services } from '../../services';
import { ROLES, tenantOf } from '../auth';
import { bigintId, idParams, obj, page, str, timestamp, uuid } from './schemas';
import { actorOf } from './admin.routes';

const sessionParams = obj({ id: bigintId }, ['id']);

/** Sessions (radacct), the staff "disconnect" button, the enforcement log and its settings. */
export function registerSessionRoutes(r: RouteRegistry, s: Services): void {
  r.add(
    {
      method: 'get', path: '/sessions', tag: 'sessions', summary: 'Live sessions (accounting open), newest first; filter by NAS, subscriber or username', auth: ROLES.staff,
      query: obj({ ...page, nasId: uuid, subscriberId: uuid, username: str(253) }),
    },
    async ({ req, query, principal }) => s.sessions.listLive(tenantOf(req, principal), query),
  );
  r.add(
    { method: 'get', path: '/sessions/:id', tag: 'sessions', summary: 'One session, live or ended', auth: ROLES.staff, params: sessionParams },
    async ({ req, params, principal }) => s.sessions.get(tenantOf(req, principal), params.id),
  );
  r.add(
    {
      method: 'post', path: '/sessions/:id/disconnect', tag: 'sessions', auth: ROLES.staff, params: sessionParams, body: obj({}), status: 202,
      summary: 'Disconnect a live session: queues a Disconnect-Request; follow the returned action for ack, nak (Error-Cause) or timeout',
    },
    async ({ req, params, principal }) => s.enforcement.disconnectSession(actorOf(principal), tenantOf(req, principal), params.id),
  );
  r.add(
    {
      method: 'get', path: '/subscribers/:id/sessions', tag: 'sessions', summary: "A subscriber's sessions, live and ended, newest first", auth: ROLES.staff, params: idParams,
      query: obj({ ...page, from: timestamp, to: timestamp }),
    },
    async ({ req, params, query, principal }) => s.sessions.history(tenantOf(req, principal), params.id, query),
  );

  r.add(
    {
      method: 'get', path: '/enforcement-actions', tag: 'enforcement', summary: 'The enforcement log: Disconnect/CoA actions and their outcomes (ack, nak with Error-Cause, timeout)', auth: ROLES.staff,
      query: obj({
        ...page,
        status: { enum: ['pending', 'sending', 'ack', 'nak', 'timeout', 'failed', 'cancelled'] },
        reason: { enum: ['expired', 'quota', 'suspended', 'plan_change', 'staff', 'soft_block', 'deleted', 'unblock', 'tenant_suspended'] },
        kind: { enum: ['disconnect', 'coa'] },
        subscriberId: uuid,
        nasId: uuid,
        sessionId: bigintId,
      }),
    },
    async ({ req, query, principal }) => s.enforcement.listActions(tenantOf(req, principal), query),
  );
  r.add(
    { method: 'get', path: '/enforcement-actions/:id', tag: 'enforcement', summary: 'One enforcement action', auth: ROLES.staff, params: idParams },
    async ({ req, params, principal }) => s.enforcement.getAction(tenantOf(req, principal), params.id),
  );
  r.add(
    { method: 'get', path: '/enforcement/settings', tag: 'enforcement', summary: 'What happens when time or data runs out (disconnect or soft block)', auth: ROLES.staff },
    async ({ req, principal }) => s.enforcement.getSettings(tenantOf(req, principal)),
  );
  r.add(
    {
      method: 'patch', path: '/enforcement/settings', tag: 'enforcement', auth: ROLES.admin,
      summary: 'Choose disconnect or soft block (walled-garden address list, trickle rate) for users out of time or data',
      body: obj({
        expiryAction: { enum: ['disconnect', 'soft_block'] },
        walledGardenList: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,63}$' },
        softBlockRateLimit: str(128),
        softBlockSessionTimeout: { type: 'integer', minimum: 60, maximum: 86400 },
      }),
    },
    async ({ req, body, principal }) => s.enforcement.updateSettings(actorOf(principal), tenantOf(req, principal), body),
  );
}
