import type { Knex } from 'knex';
import { paginate, type Page } from '../../lib/pagination';
import { iso } from '../../lib/time';
import { visibleActorId } from './actor';
import { auditEntriesQuery, type AuditRow } from './audit.repo';
import type { AuditEntryView, AuditQuery } from './audit.schemas';

function auditEntryView(a: AuditRow): AuditEntryView {
  return {
    id: Number(a.id),
    action: a.action,
    entity: a.entity,
    entityId: a.entity_id,
    actorType: a.actor_type,
    actorId: visibleActorId(a.actor_type, a.actor_id),
    data: a.data,
    requestId: a.request_id,
    createdAt: iso(a.created_at),
  };
}

/** Reads the audit trail that every module writes with audit() (audit.repo.ts). */
export class AuditService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  async list(tenantId: string, q: AuditQuery): Promise<Page<AuditEntryView>> {
    return paginate(auditEntriesQuery(this.db, tenantId, q), q.limit, q.offset, auditEntryView);
  }
}
