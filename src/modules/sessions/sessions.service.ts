import type { Knex } from 'knex';
import { AppError } from '../../lib/errors';
import { paginate, type Page } from '../../lib/pagination';
import { isoOrNull } from '../../lib/time';
import { SOFT_BLOCK_CLASS_RADACCT } from '../enforcement/contract';
import { findSession, findUsername, liveSessionsQuery, userSessionsQuery, type SessionRow } from './sessions.repo';
import type { HistoryQuery, LiveQuery, SessionView } from './sessions.schemas';

function sessionView(r: SessionRow): SessionView {
  return {
    id: Number(r.radacctid),
    live: r.acctstoptime === null,
    username: r.username,
    subscriberId: r.subscriber_id ?? null,
    nasId: r.nas_id,
    nasIpAddress: r.nasipaddress,
    acctSessionId: r.acctsessionid,
    framedIpAddress: r.framedipaddress,
    callingStationId: r.callingstationid,
    startedAt: isoOrNull(r.acctstarttime),
    updatedAt: isoOrNull(r.acctupdatetime),
    stoppedAt: isoOrNull(r.acctstoptime),
    sessionTimeSeconds: Number(r.acctsessiontime ?? 0),
    inputOctets: Number(r.acctinputoctets ?? 0),
    outputOctets: Number(r.acctoutputoctets ?? 0),
    terminateCause: r.acctterminatecause,
    softBlocked: r.class === SOFT_BLOCK_CLASS_RADACCT,
  };
}

/** Reads of radacct for staff: live sessions, a subscriber's history, one session. */
export class SessionsService {
  private readonly db: Knex;

  constructor(deps: { db: Knex }) {
    this.db = deps.db;
  }

  private async username(tenantId: string, subscriberId: string): Promise<string> {
    const username = await findUsername(this.db, tenantId, subscriberId);
    if (username === undefined) throw new AppError('SUBSCRIBER_NOT_FOUND', 'subscriber not found');
    return username;
  }

  /** Live sessions (no Stop yet), newest first, optionally of one NAS, subscriber or username. */
  async listLive(tenantId: string, q: LiveQuery): Promise<Page<SessionView>> {
    const b = liveSessionsQuery(this.db, tenantId, q);
    if (q.subscriberId) b.andWhere('a.username', await this.username(tenantId, q.subscriberId));
    return paginate(b, q.limit, q.offset, sessionView);
  }

  /** One subscriber's sessions, live and ended, newest first. */
  async history(tenantId: string, subscriberId: string, q: HistoryQuery): Promise<Page<SessionView>> {
    return paginate(
      userSessionsQuery(this.db, tenantId, await this.username(tenantId, subscriberId), q),
      q.limit,
      q.offset,
      sessionView,
    );
  }

  async get(tenantId: string, id: number): Promise<SessionView> {
    const r = await findSession(this.db, tenantId, id);
    if (!r) throw new AppError('SESSION_NOT_FOUND', 'session not found');
    return sessionView(r);
  }
}
