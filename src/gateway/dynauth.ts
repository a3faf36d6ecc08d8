/**
 * The gateway's answer to CoA/Disconnect (on src/radius/dynauth-server.ts, which has already
 * checked the secret, the authenticators, the Event-Timestamp and duplicates): sessions are
 * matched by every identification attribute given; NAS-IP-Address/NAS-Identifier not ours ->
 * NAK NAS-Identification-Mismatch; no session identification -> Missing-Attribute; no match ->
 * Session-Context-Not-Found. Disconnect logs the matched clients out (Stop with Admin-Reset).
 * CoA may change the rate (Mikrotik-Rate-Limit or WISPr-Bandwidth-Max-*), Session-Timeout and
 * Idle-Timeout live; any other attribute -> Unsupported-Attribute, nothing changed.
 */
import { getNumber, standardAttributeName, type DynAuthAnswer, type DynAuthIncoming } from '../radius';
import { rateFrom } from './reply';
import type { GatewayIdentity, Session, SessionTable } from './sessions';

const COA_CHANGES = new Set([
  'mikrotik-rate-limit',
  'wispr-bandwidth-max-up',
  'wispr-bandwidth-max-down',
  'session-timeout',
  'idle-timeout',
]);

function changeName(a: DynAuthIncoming['changes'][number]): string | undefined {
  if ('name' in a) return a.name.toLowerCase();
  return standardAttributeName(a);
}

export function gatewayDynAuthHandler(table: SessionTable, identity: GatewayIdentity) {
  return async (req: DynAuthIncoming): Promise<DynAuthAnswer> => {
    const id = req.identification;
    if (req.kind === 'disconnect' && req.changes.length > 0)
      return { outcome: 'nak', errorCause: 'Unsupported-Attribute' };
    if (req.kind === 'coa' && req.changes.some((a) => !COA_CHANGES.has(changeName(a) ?? ''))) {
      return { outcome: 'nak', errorCause: 'Unsupported-Attribute' };
    }
    if (
      (id.nasIpAddress !== undefined && id.nasIpAddress !== identity.nasIpAddress) ||
      (id.nasIdentifier !== undefined && id.nasIdentifier !== identity.nasIdentifier)
    ) {
      return { outcome: 'nak', errorCause: 'NAS-Identification-Mismatch' };
    }
    if (
      id.acctSessionId === undefined &&
      id.userName === undefined &&
      id.framedIpAddress === undefined &&
      id.callingStationId === undefined
    ) {
      return { outcome: 'nak', errorCause: 'Missing-Attribute' };
    }
    const mac = id.callingStationId?.toLowerCase().replace(/-/g, ':');
    const matches: Session[] = table
      .list()
      .filter(
        (s) =>
          (id.acctSessionId === undefined || s.acctSessionId === id.acctSessionId) &&
          (id.userName === undefined || s.username === id.userName) &&
          (id.framedIpAddress === undefined || s.ip === id.framedIpAddress) &&
          (mac === undefined || s.mac === mac),
      );
    if (matches.length === 0) return { outcome: 'nak', errorCause: 'Session-Context-Not-Found' };
    if (req.kind === 'disconnect') {
      for (const s of matches) await table.end(s, 'Admin-Reset');
      return { outcome: 'ack' };
    }
    const limits = rateFrom(req.changes);
    const sessionTimeout = getNumber(req.changes, 'Session-Timeout');
    const idleTimeout = getNumber(req.changes, 'Idle-Timeout');
    for (const s of matches) {
      await table.change(s, {
        ...(limits ? { limits } : {}),
        ...(sessionTimeout !== undefined ? { sessionTimeout } : {}),
        ...(idleTimeout !== undefined ? { idleTimeout } : {}),
      });
    }
    return { outcome: 'ack' };
  };
}
