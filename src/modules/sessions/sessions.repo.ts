/**
 * Sessions as FreeRADIUS accounted them (radacct), scoped to a tenant. Every query here is
 * served by an index of the FreeRADIUS schema migration: open sessions by
 * radacct_tenant_open_user_idx / radacct_open_nas_idx (partial, WHERE acctstoptime IS NULL), one
 * user's history by radacct_tenant_user_start_idx.
 */
import type { Handle } from '../../db/knex';

export interface SessionRow {
  radacctid: string;
  username: string;
  nas_id: string | null;
  nasipaddress: string;
  acctsessionid: string;
  framedipaddress: string | null;
  callingstationid: string | null;
  acctstarttime: Date | null;
  acctupdatetime: Date | null;
  acctstoptime: Date | null;
  acctsessiontime: string | number | null;
  acctinputoctets: string | number | null;
  acctoutputoctets: string | number | null;
  acctterminatecause: string | null;
  class: string | null;
  subscriber_id: string | null;
}

const SELECT = [
  'a.radacctid',
  'a.username',
  'a.nas_id',
  'a.nasipaddress',
  'a.acctsessionid',
  'a.framedipaddress',
  'a.callingstationid',
  'a.acctstarttime',
  'a.acctupdatetime',
  'a.acctstoptime',
  'a.acctsessiontime',
  'a.acctinputoctets',
  'a.acctoutputoctets',
  'a.acctterminatecause',
  'a.class',
  's.id as subscriber_id',
];

function base(h: Handle, tenantId: string) {
  return h('radacct as a')
    .leftJoin('subscribers as s', (j) => j.on('s.tenant_id', 'a.tenant_id').andOn('s.username', 'a.username'))
    .where('a.tenant_id', tenantId);
}

const NEWEST_FIRST = [
  { column: 'a.acctstarttime', order: 'desc' as const },
  { column: 'a.radacctid', order: 'desc' as const },
];

/**
 * Live sessions (no Stop yet), newest first, optionally of one NAS, username, address, or MAC
 * (its hex digits, whatever the separators, anywhere in the Calling-Station-Id: the open
 * sessions of a tenant are few, the partial index finds them first).
 */
export function liveSessionsQuery(
  h: Handle,
  tenantId: string,
  q: { nasId?: string | undefined; username?: string | undefined; ip?: string | undefined; mac?: string | undefined },
) {
  const b = base(h, tenantId).whereNull('a.acctstoptime');
  if (q.nasId) b.andWhere('a.nas_id', q.nasId);
  if (q.username) b.andWhere('a.username', q.username);
  if (q.ip) b.andWhereRaw('a.framedipaddress = ?::inet', [q.ip]);
  if (q.mac) {
    const digits = q.mac.toLowerCase().replace(/[^0-9a-f]/g, '');
    b.andWhereRaw(`position(? in regexp_replace(lower(a.callingstationid), '[^0-9a-f]', '', 'g')) > 0`, [digits]);
  }
  return b.select(SELECT).orderBy(NEWEST_FIRST);
}

/** One user's sessions, live and ended, newest first, started in [from, to). */
export function userSessionsQuery(
  h: Handle,
  tenantId: string,
  username: string,
  q: { from?: string | undefined; to?: string | undefined },
) {
  const b = base(h, tenantId).andWhere('a.username', username);
  if (q.from) b.andWhere('a.acctstarttime', '>=', q.from);
  if (q.to) b.andWhere('a.acctstarttime', '<', q.to);
  return b.select(SELECT).orderBy(NEWEST_FIRST);
}

export async function findSession(h: Handle, tenantId: string, id: number): Promise<SessionRow | undefined> {
  return base(h, tenantId).andWhere('a.radacctid', id).first(SELECT);
}

export async function findUsername(h: Handle, tenantId: string, subscriberId: string): Promise<string | undefined> {
  const s = await h('subscribers').where({ tenant_id: tenantId, id: subscriberId }).first('username');
  return s?.username;
}
