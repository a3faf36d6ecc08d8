/**
 * The router's redirect, checked: every parameter the buyer's browser carries from
 * mikrotik/hotspot/login.html may have been changed on the way, so each is checked for what it
 * must be, and link-login-only (where the page will post the login) must point at one of the
 * tenant's NAS addresses or hotspot DNS names: never at another tenant's router or any other
 * host.
 */
import { isIP } from 'node:net';
import { AppError } from '../../lib/errors';
import { decodeOctal, isOctalEscaped } from './chap';
import type { RouterContext, RouterRedirect } from './portal.schemas';

const MAC = /^([0-9A-F]{2}[:-]){5}[0-9A-F]{2}$/i;

function bad(field: string, message: string): AppError {
  return new AppError('PORTAL_REDIRECT_INVALID', message, { errors: [{ path: `query.${field}`, message }] });
}

function str(q: Record<string, unknown>, k: string): string | undefined {
  const v = q[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(k, `${k} was given more than once`);
  return v;
}

/** True when the query carries any of the router's parameters (a direct visit carries none). */
export function hasRouterParameters(q: Record<string, unknown>): boolean {
  return ['link-login-only', 'mac', 'ip', 'chap-id', 'chap-challenge'].some((k) => q[k] !== undefined);
}

function httpUrl(field: string, value: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad(field, `${field} is not an address`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(field, `${field} must be an http or https address`);
  if (u.username || u.password) throw bad(field, `${field} must not carry a user name or password`);
  return u;
}

/** `allowedHosts`: the tenant's NAS addresses and hotspot DNS names, lower case. */
export function routerContext(
  q: RouterRedirect & Record<string, unknown>,
  allowedHosts: ReadonlySet<string>,
): RouterContext {
  const login = str(q, 'link-login-only');
  if (!login) throw bad('link-login-only', 'the router did not say where to log in (link-login-only)');
  const u = httpUrl('link-login-only', login);
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!allowedHosts.has(host)) throw bad('link-login-only', "this login address is not one of this network's routers");

  const mac = str(q, 'mac');
  if (!mac || !MAC.test(mac)) throw bad('mac', 'the device address (mac) is missing or malformed');
  const ip = str(q, 'ip');
  if (!ip || isIP(ip) !== 4) throw bad('ip', 'the device IP address (ip) is missing or malformed');

  const chapId = str(q, 'chap-id');
  const chapChallenge = str(q, 'chap-challenge');
  if (!chapId || !isOctalEscaped(chapId) || decodeOctal(chapId).length !== 1)
    throw bad('chap-id', "the router's CHAP id is missing or malformed (the hotspot must log in by http-chap)");
  if (
    !chapChallenge ||
    !isOctalEscaped(chapChallenge) ||
    decodeOctal(chapChallenge).length < 8 ||
    decodeOctal(chapChallenge).length > 64
  ) {
    throw bad('chap-challenge', "the router's CHAP challenge is missing or malformed");
  }

  const orig = str(q, 'link-orig');
  const dst = orig ? httpUrl('link-orig', orig).href : null;
  return { loginUrl: u.href, mac: mac.toUpperCase().replace(/-/g, ':'), ip, chapId, chapChallenge, dst };
}
