/**
 * The RouterOS API as a fallback: when a CoA/Disconnect-Request to a MikroTik gets no answer
 * (UDP 3799 filtered, `/radius incoming` off, NAT in the way), the enforcement worker logs in to
 * the router's API and removes the session from `/ip hotspot active` or `/ppp active` itself.
 *
 * Each call opens one connection, does its work and closes it: fallbacks are rare, and a
 * long-lived connection per router would only meet idle timeouts. Listing and removing are
 * sessions.ts's; this file adds what a RADIUS session means on the router (pickTargets).
 * Errors are the typed RouterOs*Error classes of errors.ts and propagate unchanged (login
 * refused: RouterOsLoginError, code ROUTEROS_LOGIN_FAILED; unreachable:
 * RouterOsConnectionError; ...).
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { RouterOsClient } from './client';
import { listSessions, removeSessions, SESSION_KINDS, type ActiveSession, type SessionFilter, type SessionKind } from './sessions';
import { tcpTransport, tlsTransport } from './transports';

/** What the fallback needs to know about a NAS (the enforcement sender reads it from the nas row). */
export interface RouterOsTarget {
  /** Where the API listens; normally the NAS address. */
  address: string;
  apiPort: number;
  apiUsername: string;
  apiPassword: string;
  /** api-ssl: the router's certificate must be trusted by this host (see transports.ts). */
  apiTls?: boolean;
}

/** The RADIUS view of the session to end (from radacct). */
export interface SessionToKick {
  username: string;
  /** Framed-IP-Address; when given, only rows with this address match. */
  framedIp: string | null;
  acctSessionId: string;
}

export interface FallbackOptions {
  signal?: AbortSignal;
  logger?: Logger;
  /** Where to look, in this order. Default hotspot, then ppp. */
  kinds?: Array<SessionKind>;
}

export interface KickResult {
  /** Sessions the router confirmed removed. */
  removed: number;
  /** Where matching sessions were found; null when none were. */
  kind: SessionKind | null;
}

/**
 * Finds the session in the hotspot, then the PPP active list and removes it.
 *
 * A row matches when its user is `session.username` and, if `framedIp` is given, its address is
 * `framedIp`. If several rows match and some report a `session-id` equal to `acctSessionId`
 * (compared without a `0x` prefix and case), only those are removed. RouterOS does not document
 * that its `session-id` equals Acct-Session-Id, so rows without a matching id are not spared when
 * none matches: the kick is for this user at this address, and leaving them online is the worse
 * failure. The first kind with a match ends the search.
 */
export async function routerOsKick(
  nas: RouterOsTarget,
  session: SessionToKick,
  opts: FallbackOptions = {},
): Promise<KickResult> {
  if (typeof session.username !== 'string' || session.username.length === 0) {
    throw new TypeError('routerOsKick: session.username must be a non-empty string');
  }
  if (session.framedIp !== null && isIP(session.framedIp) === 0) {
    throw new TypeError('routerOsKick: session.framedIp must be an IP address or null');
  }
  const kinds = checkKinds(opts.kinds);
  const log = opts.logger?.child({ module: 'routeros-fallback' });
  const client = openClient(nas, log);
  const command = opts.signal ? { signal: opts.signal } : {};
  try {
    await client.connect(command);
    for (const kind of kinds) {
      const filter: SessionFilter = { user: session.username };
      if (session.framedIp !== null) filter.address = session.framedIp;
      const targets = pickTargets(await listSessions(client, kind, filter, command), session);
      if (targets.length === 0) continue;
      const removed = await removeSessions(client, kind, targets, command);
      log?.info({ host: nas.address, kind, matched: targets.length, removed }, 'routeros fallback kick');
      return { removed, kind };
    }
    log?.info({ host: nas.address, kinds }, 'routeros fallback kick found no session');
    return { removed: 0, kind: null };
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------

function checkKinds(kinds: readonly SessionKind[] | undefined): SessionKind[] {
  const list = [...new Set(kinds ?? SESSION_KINDS)];
  if (list.length === 0 || list.some((k) => k !== 'hotspot' && k !== 'ppp')) {
    throw new TypeError('kinds must list hotspot and/or ppp');
  }
  return list;
}

function normaliseSessionId(id: string): string {
  return id.trim().toLowerCase().replace(/^0x/, '');
}

function pickTargets(rows: readonly ActiveSession[], session: SessionToKick): ActiveSession[] {
  // The router filtered with ?user= and ?address=; check again in case it ignored a query word.
  const matching = rows.filter(
    (r) => r.user === session.username && (session.framedIp === null || r.address === session.framedIp),
  );
  if (matching.length <= 1 || session.acctSessionId.length === 0) return matching;
  const wanted = normaliseSessionId(session.acctSessionId);
  const exact = matching.filter((r) => r.sessionId !== undefined && normaliseSessionId(r.sessionId) === wanted);
  return exact.length > 0 ? exact : matching;
}

function openClient(nas: RouterOsTarget, log: Logger | undefined): RouterOsClient {
  if (typeof nas.address !== 'string' || nas.address.length === 0) throw new TypeError('nas.address is required');
  if (!Number.isInteger(nas.apiPort) || nas.apiPort < 1 || nas.apiPort > 65535) {
    throw new TypeError('nas.apiPort must be a TCP port');
  }
  if (typeof nas.apiUsername !== 'string' || nas.apiUsername.length === 0) {
    throw new TypeError('nas.apiUsername is required');
  }
  if (typeof nas.apiPassword !== 'string') throw new TypeError('nas.apiPassword must be a string');
  return new RouterOsClient({
    host: nas.address,
    port: nas.apiPort,
    username: nas.apiUsername,
    password: nas.apiPassword,
    transport: nas.apiTls === true ? tlsTransport : tcpTransport,
    ...(log ? { logger: log } : {}),
  });
}
