import type { Knex } from 'knex';
import { AppError } from '../errors';
import { Page } from './context';
import { iso } from './tenants.service';
import { SOFT_BLOCK_CLASS_RADACCT } from './enforcement.service';

/**
 * Sessions as FreeRADIUS accounted them (radacct), scoped to a tenant. Every query here is
 * served by an index of the FreeRADIUS schema migration: open sessions by
 * radacct_tenant_open_user_idx / radacct_open_nas_idx (partial, WHERE acctstoptime IS NULL), one
 * user's history by radacct_tenant_user_start_idx.
 */
export interface SessionView {
  id: number;
  live: boolean;
  username: string;
  subscriberId: string | null;
  nasId: string | null;
  nasIpAddress: string;
  acctSessionId: string;
  framedIpAddress: string | null;
  callingStationId: string | null;
  startedAt: string | null;
  updatedAt: string | null;
  stoppedAt: string | null;
  sessionTimeSeconds: number;
  inputOctets: number;
  outputOctets: number;
  terminateCause: string | null;
  /** Accepted into the walled garden (the tenant's soft block). */
  softBlocked: boolean;
}

function sessionView(r: any): SessionView {
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
    startedAt: r.acctstarttime ? iso(r.acctstarttime) : null,
    updatedAt: r.acctupdatetime ? iso(r.acctupdatetime) : null,
    stoppedAt: r.acctstoptime ? iso(r.acctstoptime) : null,
    sessionTimeSeconds: Number(r.acctsessiontime ?? 0),
    inputOctets: Number(r.acctinputoctets ?? 0),
    outputOctets: Number(r.acctoutputoctets ?? 0),
    terminateCause: r.acctterminatecause,
    softBlocked: r.class === SOFT_BLOCK_CLASS_RADACCT,
  };
}

const SELECT = [
  'a.radacctid', 'a.username', 'a.nas_id', 'a.nasipaddress', 'a.acctsessionid', 'a.framedipaddress', 'a.callingstationid',
  'a.acctstarttime', 'a.acctupdatetime', 'a.acctstoptime', 'a.acctsessiontime', 'a.acctinputoctets', 'a.acctoutputoctets',
  'a.acctterminatecause', 'a.class', 's.id as subscriber_id',
];

export class SessionsService {
  constructor(private readonly db: Knex) {}

  private base(tenantId: string) {
    return this.db('radacct as a')
      .leftJoin('subscribers as s', (j) => j.on('s.tenant_id', 'a.tenant_id').andOn('s.username', 'a.username'))
      .where('a.tenant_id', tenantId);
  }

  private async subscriberUsername(tenantId: string, subscriberId: string): Promise<string> {
    const s = await this.db('subscribers').where({ tenant_id: tenantId, id: subscriberId }).first('username');
    if (!s) throw new AppError('SUBSCRIBER_NOT_FOUND', 'subscriber not found');
    return s.username;
  }

  /** Live sessions (no Stop yet), newest first, optionally of one NAS, subscriber or username. */
  async listLive(tenantId: string, q: { limit: number; offset: number; nasId?: string; subscriberId?: string; username?: string }): Promise<Page<SessionView>> {
    const b = this.base(tenantId).whereNull('a.acctstoptime');
    if (q.nasId) b.andWhere('a.nas_id', q.nasId);
    if (q.subscriberId) b.andWhere('a.username', await this.subscriberUsername(tenantId, q.subscriberId));
    if (q.username) b.andWhere('a.username', q.username);
    const [rows, total] = await Promise.all([
      b.clone().select(SELECT).orderBy([{ column: 'a.acctstarttime', order: 'desc' }, { column: 'a.radacctid', order: 'desc' }]).limit(q.limit).offset(q.offset),
      b.clone().count<{ count: string }[]>({ count: '*' }),
    ]);
    return { data: rows.map(sessionView), page: { limit: q.limit, offset: q.offset, total: Number(total[0]?.count ?? 0) } };
  }

  /** One subscriber's sessions, live and ended, newest first. */
  async history(tenantId: string, subscriberId: string, q: { limit: number; offset: number; from?: string; to?: string }): Promise<Page<SessionView>> {
    const username = await this.subscriberUsername(tenantId, subscriberId);
    const b = this.base(tenantId).andWhere('a.username', username);
    if (q.from) b.andWhere('a.acctstarttime', '>=', q.from);
    if (q.to) b.andWhere('a.acctstarttime', '<', q.to);
    const [rows, total] = await Promise.all([
      b.clone().select(SELECT).orderBy([{ column: 'a.acctstarttime', order: 'desc' }, { column: 'a.radacctid', order: 'desc' }]).limit(q.limit).offset(q.offset),
      b.clone().count<{ count: string }[]>({ count: '*' }),
    ]);
    return { data: rows.map(sessionView), page: { limit: q.limit, offset: q.offset, total: Number(total[0]?.count ?? 0) } };
  }

  async get(tenantId: string, id: number): Promise<SessionView> {
    const r = await this.base(tenantId).andWhere('a.radacctid', id).first(SELECT);
    if (!r) throw new AppError('SESSION_NOT_FOUND', 'session not found');
    return sessionView(r);
  }
}
