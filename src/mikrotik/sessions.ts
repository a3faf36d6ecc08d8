/**
 * Active hotspot and PPP sessions on a router: where they live in the menu tree, listing them
 * as typed rows, and removing them (the "kick"). Used by RouterOsClient's session methods and
 * by the enforcement fallback (fallback.ts); the simulator serves the same paths.
 *
 * Rows are untrusted: a row without a valid `.id` or user is a protocol error, other
 * properties are kept only when they parse.
 */
import net from 'node:net';
import type { CommandOptions } from './connection';
import { RouterOsProtocolError, RouterOsTrapError } from './errors';
import { queryWord } from './protocol';

export type SessionKind = 'hotspot' | 'ppp';

/** Both kinds, in the order the fallback looks (a hotspot is the common case). */
export const SESSION_KINDS: readonly SessionKind[] = ['hotspot', 'ppp'];

/** The menu of each kind's active sessions (`<path>/print`, `<path>/remove`). */
export const SESSION_PATHS: Readonly<Record<SessionKind, string>> = { hotspot: '/ip/hotspot/active', ppp: '/ppp/active' };

const USER_PROP: Record<SessionKind, string> = { hotspot: 'user', ppp: 'name' };
const MAC_PROP: Record<SessionKind, string> = { hotspot: 'mac-address', ppp: 'caller-id' };
const PROPLIST: Record<SessionKind, string> = {
  hotspot: '.id,user,address,mac-address,uptime,bytes-in,bytes-out,session-id',
  ppp: '.id,name,address,caller-id,uptime,session-id',
};

export interface ActiveSession {
  /** RouterOS item id, e.g. `*1A`. */
  id: string;
  user: string;
  address?: string;
  /** Upper-case `AA:BB:CC:DD:EE:FF`. PPP: from `caller-id` when it is a MAC (PPPoE). */
  macAddress?: string;
  /** Seconds. */
  uptime?: number;
  sessionId?: string;
  bytesIn?: number;
  bytesOut?: number;
}

export interface SessionFilter {
  user?: string;
  address?: string;
  macAddress?: string;
}

export interface KickCriteria {
  kind: SessionKind;
  user?: string;
  address?: string;
  /** Matched against the row's `session-id`; rows that do not report one never match. */
  sessionId?: string;
}

/** What these helpers need from a client (RouterOsClient has it). */
export interface RouterOsCommander {
  command(words: readonly string[], options?: CommandOptions): Promise<Record<string, string>[]>;
}

export type SessionCommandOptions = Omit<CommandOptions, 'idempotent'>;

/** Active sessions of one kind, filtered by the router (`?user=` etc.). */
export async function listSessions(
  router: RouterOsCommander,
  kind: SessionKind,
  filter: SessionFilter = {},
  options: SessionCommandOptions = {},
): Promise<ActiveSession[]> {
  const words = [`${SESSION_PATHS[kind]}/print`, `=.proplist=${PROPLIST[kind]}`];
  if (filter.user !== undefined) words.push(queryWord(USER_PROP[kind], filter.user));
  if (filter.address !== undefined) words.push(queryWord('address', filter.address));
  if (filter.macAddress !== undefined) words.push(queryWord(MAC_PROP[kind], filter.macAddress.toUpperCase()));
  const rows = await router.command(words, { ...options, idempotent: true });
  return rows.map((row) => toActiveSession(kind, row));
}

/**
 * Removes these sessions (all at once, on one connection). Resolves with how many the router
 * confirmed removed: a session that vanished since it was listed (`no such item`: logged out
 * meanwhile, which is what a kick wants) is not counted and is not an error. Any other failure
 * is thrown once every remove has been answered.
 */
export async function removeSessions(
  router: RouterOsCommander,
  kind: SessionKind,
  sessions: readonly Pick<ActiveSession, 'id'>[],
  options: SessionCommandOptions = {},
): Promise<number> {
  const outcomes = await Promise.allSettled(
    sessions.map((s) => router.command([`${SESSION_PATHS[kind]}/remove`, `=.id=${s.id}`], { ...options, idempotent: true })),
  );
  let removed = 0;
  let failure: unknown;
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') removed += 1;
    else if (!isNoSuchItem(outcome.reason)) failure ??= outcome.reason;
  }
  if (failure !== undefined) throw failure;
  return removed;
}

/**
 * Finds the sessions matching every given criterion and removes them; resolves with the
 * number removed (see removeSessions) and how many matched.
 */
export async function kickSessions(
  router: RouterOsCommander,
  criteria: KickCriteria,
  options: SessionCommandOptions = {},
): Promise<{ removed: number; matched: number }> {
  const { kind, user, address, sessionId } = criteria;
  for (const [key, value] of Object.entries({ user, address, sessionId })) {
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new TypeError(`kickSessions: ${key} must be a non-empty string`);
    }
  }
  if (user === undefined && address === undefined && sessionId === undefined) {
    throw new TypeError('kickSessions needs user, address or sessionId');
  }
  const filter: SessionFilter = {};
  if (user !== undefined) filter.user = user;
  if (address !== undefined) filter.address = address;
  const sessions = await listSessions(router, kind, filter, options);
  // the router's query already filtered; check again in case it ignored a query word
  const targets = sessions.filter(
    (s) =>
      (user === undefined || s.user === user) &&
      (address === undefined || s.address === address) &&
      (sessionId === undefined || s.sessionId === sessionId),
  );
  return { removed: await removeSessions(router, kind, targets, options), matched: targets.length };
}

function isNoSuchItem(err: unknown): boolean {
  return err instanceof RouterOsTrapError && /no such item/i.test(err.routerMessage);
}

// ---------------------------------------------------------------------------------------------
// Rows

const ID_RE = /^\*[0-9A-Fa-f]{1,16}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const COUNTER_RE = /^\d{1,16}$/;

function toActiveSession(kind: SessionKind, row: Record<string, string>): ActiveSession {
  const id = row['.id'];
  const user = row[USER_PROP[kind]];
  if (id === undefined || !ID_RE.test(id)) {
    throw new RouterOsProtocolError('INVALID_ROW', `RouterOS ${kind} session without a valid .id`);
  }
  if (user === undefined) {
    throw new RouterOsProtocolError('INVALID_ROW', `RouterOS ${kind} session ${id} without a user`);
  }
  const session: ActiveSession = { id, user };
  const address = row.address;
  if (address !== undefined && net.isIP(address) !== 0) session.address = address;
  const mac = row[MAC_PROP[kind]];
  if (mac !== undefined && MAC_RE.test(mac)) session.macAddress = mac.toUpperCase();
  const uptime = row.uptime === undefined ? undefined : parseRouterOsDuration(row.uptime);
  if (uptime !== undefined) session.uptime = uptime;
  const sessionId = row['session-id'];
  if (sessionId !== undefined && sessionId.length > 0) session.sessionId = sessionId;
  const bytesIn = row['bytes-in'];
  if (bytesIn !== undefined && COUNTER_RE.test(bytesIn)) session.bytesIn = Number(bytesIn);
  const bytesOut = row['bytes-out'];
  if (bytesOut !== undefined && COUNTER_RE.test(bytesOut)) session.bytesOut = Number(bytesOut);
  return session;
}

const UNIT_SECONDS: Record<string, number> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1, ms: 0.001 };

/**
 * RouterOS durations: `1w2d3h4m5s` (also with `ms`) or `[Nd]hh:mm:ss`. Returns whole seconds,
 * or undefined when the text is in neither form.
 */
export function parseRouterOsDuration(text: string): number | undefined {
  const clock = /^(?:(\d+)d\s*)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (clock) {
    const [, d, h, m, s] = clock;
    return Number(d ?? 0) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
  }
  if (!/^(?:\d+(?:ms|w|d|h|m|s))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/(\d+)(ms|w|d|h|m|s)/g)) {
    seconds += Number(value) * (UNIT_SECONDS[unit as string] ?? 0);
  }
  return Math.floor(seconds);
}

/** RouterOS 7 style `1w2d3h4m5s` (`0s` for zero): how a router prints an uptime. */
export function formatRouterOsDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.floor(totalSeconds));
  let out = '';
  for (const [unit, size] of [
    ['w', 604_800],
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  if (rest > 0 || out === '') out += `${rest}s`;
  return out;
}
