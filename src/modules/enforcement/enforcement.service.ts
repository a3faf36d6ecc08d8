import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { withTransaction } from '../../db/knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso, isoOrNull } from '../../lib/time';
import { attributeValueName } from '../../radius/dictionary';
import { audit } from '../audit/audit.repo';
import { visibleActorId, type Actor } from '../audit/actor';
import {
  actionsQuery,
  findAction,
  findSessionToDisconnect,
  findStaffAction,
  findSubscriberId,
  type ActionRow,
} from './enforcement.repo';
import type { ActionQuery, ActionView } from './enforcement.schemas';
import { enqueueForUser } from './outbox.repo';

export function actionView(r: ActionRow): ActionView {
  return {
    id: r.id,
    kind: r.kind,
    reason: r.reason,
    status: r.status,
    subscriberId: r.subscriber_id,
    nasId: r.nas_id,
    sessionId: r.radacct_id === null ? null : Number(r.radacct_id),
    username: r.username,
    acctSessionId: r.acct_session_id,
    framedIp: r.framed_ip,
    attributes: r.attributes,
    context: r.context,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    errorCause: r.error_cause,
    errorCauseName: r.error_cause === null ? null : (attributeValueName('Error-Cause', r.error_cause) ?? null),
    lastError: r.last_error,
    rttMs: r.rtt_ms,
    fallback: r.fallback_status
      ? {
          status: r.fallback_status,
          removed: r.fallback_removed,
          error: r.fallback_error,
          at: iso(r.fallback_at as Date),
        }
      : null,
    requestedBy: { type: r.requested_by_type, id: visibleActorId(r.requested_by_type, r.requested_by) },
    dueAt: iso(r.due_at),
    nextAttemptAt: iso(r.next_attempt_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    completedAt: isoOrNull(r.completed_at),
  };
}

/** The enforcement log (outbox rows as staff see them) and the staff "disconnect" button. */
export class EnforcementService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  /**
   * Staff "disconnect" on one live session. Idempotent while an action is in flight (pending or
   * being sent): any number of clicks answer with that one action.
   */
  async disconnectSession(actor: Actor, tenantId: string, sessionId: number): Promise<ActionView> {
    return withTransaction(this.db, async (trx) => {
      const a = await findSessionToDisconnect(trx, tenantId, sessionId);
      if (!a) throw new AppError('SESSION_NOT_FOUND', 'session not found');
      if (a.acctstoptime) throw new AppError('INVALID_STATE', 'this session has ended');
      const subscriberId = await findSubscriberId(trx, tenantId, a.username);
      const [id] = await enqueueForUser(trx, {
        tenantId,
        username: a.username,
        subscriberId,
        kind: 'disconnect',
        reason: 'staff',
        actor,
        radacctId: sessionId,
      });
      if (id) {
        await audit(trx, {
          tenantId,
          actor,
          action: 'session.disconnect',
          entity: 'session',
          entityId: String(sessionId),
          data: { actionId: id, username: a.username },
        });
        return actionView((await findAction(trx, { id }))!);
      }
      // Already queued or being sent (another click): answer with the action in flight, or the
      // one that has just finished.
      const row = await findStaffAction(trx, tenantId, sessionId);
      if (!row) throw new AppError('INVALID_STATE', 'this session has ended');
      return actionView(row);
    });
  }

  async getAction(tenantId: string, id: string): Promise<ActionView> {
    const r = await findAction(this.db, { tenant_id: tenantId, id });
    if (!r) throw new AppError('ENFORCEMENT_ACTION_NOT_FOUND', 'enforcement action not found');
    return actionView(r);
  }

  async listActions(tenantId: string, q: ActionQuery): Promise<Page<ActionView>> {
    return paginate(actionsQuery(this.db, tenantId, q), q.limit, q.offset, actionView);
  }
}
