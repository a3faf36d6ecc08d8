/**
 * Cookies of the HTML surfaces. Parsed by hand (Express 5 has no parser and the format is
 * small); set with the rules every Lango cookie follows: HttpOnly, SameSite, a path, Secure on
 * HTTPS (req.secure, which honours LANGO_TRUST_PROXY) and always in production.
 */
import type { Request, Response } from 'express';

export function readCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      continue; // malformed: as if absent
    }
    if (name && !(name in out)) out[name] = value;
  }
  return out;
}

export function cookie(req: Request, name: string): string | undefined {
  return readCookies(req.get('cookie'))[name];
}

export interface CookieRules {
  /** Production: Secure whatever the request says. */
  production: boolean;
}

export function setCookie(
  req: Request,
  res: Response,
  rules: CookieRules,
  name: string,
  value: string,
  o: { path: string; maxAgeSeconds?: number; sameSite: 'strict' | 'lax' },
): void {
  res.cookie(name, value, {
    httpOnly: true,
    sameSite: o.sameSite,
    path: o.path,
    secure: rules.production || req.secure,
    ...(o.maxAgeSeconds !== undefined ? { maxAge: o.maxAgeSeconds * 1000 } : {}),
  });
}

export function clearCookie(req: Request, res: Response, rules: CookieRules, name: string, path: string): void {
  res.clearCookie(name, { httpOnly: true, path, secure: rules.production || req.secure, sameSite: 'strict' });
}
