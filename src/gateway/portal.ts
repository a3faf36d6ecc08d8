/**
 * The gateway's login endpoint (what a MikroTik's /login is to the captive portal): the portal's
 * pages post here, the gateway sends the Access-Request, and the answer is a status page.
 *   any request for another host (a client's HTTP that the firewall redirected here), and
 *   GET / or GET /login from a client not logged in: 302 to the captive portal (`portalUrl`)
 *                 with the parameters a MikroTik's login.html sends: link-login-only (this
 *                 endpoint's /login), link-orig (where the client was going), mac, ip, chap-id
 *                 and chap-challenge (octal-escaped, as RouterOS writes them)
 *   GET  /login   with Accept: application/json: a CHAP challenge for this client (chap-id as a
 *                 number, chap-challenge as hex)
 *   POST /login   username + password (PAP, or CHAP hashed by the gateway when configured), or
 *                 username + chap-response (hex MD5(chap-id + password + chap-challenge)); after
 *                 the portal's redirect, `password` is that CHAP response, as RouterOS takes it
 *   GET  /status  the client's session;  POST /logout  ends it (User-Request)
 * The client is who the TCP connection comes from (its IP, which must be inside the LAN subnet,
 * and its MAC from the kernel's neighbour (ARP) table); with `trustClientHeaders` (development
 * only: pretend clients from the command line) X-Client-IP and X-Client-MAC say who it is.
 * Accept: application/json gets JSON instead of a page.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import { html, page, type SafeHtml } from '../http/html';
import type { Clock } from '../lib/clock';
import { encodeOctal } from '../modules/portal/chap';
import { ipv4ToInt } from './firewall/values';
import type { Credentials, Session, SessionTable } from './sessions';

export interface PortalOptions {
  readonly host: string;
  readonly port: number;
  readonly table: SessionTable;
  readonly clock: Clock;
  /** The captive portal the clients are sent to (Lango's /portal/<slug>). */
  readonly portalUrl: string;
  /** link-login-only; default http://<the address the client reached>:<port>/login. */
  readonly loginUrl?: string;
  /** The clients' network (CIDR): devices outside it cannot log in. */
  readonly lanSubnet: string;
  /** 'pap' (default) sends the password as User-Password; 'chap' hashes it on the gateway. */
  readonly passwordMethod?: 'pap' | 'chap';
  readonly trustClientHeaders?: boolean;
  /** MAC of a LAN client; default: the kernel's ARP table. */
  readonly macOf?: (ip: string) => Promise<string | undefined>;
  readonly logger?: { warn(obj: object, msg: string): void };
}

const MAX_BODY = 8192;
const CHALLENGE_TTL_MS = 5 * 60_000;
const MAC = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

/** /proc/net/arp (the kernel's IPv4 neighbour table of this network namespace):
 *  "IP address  HW type  Flags  HW address  Mask  Device". Incomplete entries (00:00:..) are no answer. */
export async function macFromArp(ip: string, file = '/proc/net/arp'): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[0] === ip && f[3] && f[3] !== '00:00:00:00:00:00') return f[3].toLowerCase();
  }
  return undefined;
}

/** Whether an IPv4 address is inside a CIDR network. */
export function inSubnet(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const prefix = Number(bits);
  if (!isIPv4(ip) || !net || !isIPv4(net) || !(prefix >= 0 && prefix <= 32)) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(ipv4ToInt(ip) / size) === Math.floor(ipv4ToInt(net) / size);
}

const unmapped = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');

class BadInput extends Error {}

function readBody(req: IncomingMessage): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BadInput('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const type = req.headers['content-type'] ?? '';
      try {
        if (type.startsWith('application/json')) {
          const v: unknown = text === '' ? {} : JSON.parse(text);
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadInput('body must be an object');
          const out: Record<string, string> = {};
          for (const [k, x] of Object.entries(v))
            if (typeof x === 'string' || typeof x === 'number') out[k] = String(x);
          resolve(out);
        } else {
          resolve(Object.fromEntries(new URLSearchParams(text)));
        }
      } catch (err) {
        reject(err instanceof BadInput ? err : new BadInput('body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

export class GatewayPortal {
  private server: Server | undefined;
  private readonly challenges = new Map<string, { id: number; challenge: Buffer; at: number; portal: boolean }>();

  constructor(private readonly opts: PortalOptions) {}

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger?.warn({ err }, 'gateway portal: request failed');
        if (!res.headersSent) this.send(req, res, 500, { error: 'INTERNAL' }, html`<h1>Something went wrong</h1>`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async client(req: IncomingMessage): Promise<{ ip: string; mac: string | undefined }> {
    if (this.opts.trustClientHeaders) {
      const ip = req.headers['x-client-ip'];
      const mac = req.headers['x-client-mac'];
      if (typeof ip === 'string' && typeof mac === 'string') {
        if (!isIPv4(ip) || !MAC.test(mac))
          throw new BadInput('X-Client-IP must be IPv4 and X-Client-MAC a MAC address');
        return { ip, mac: inSubnet(ip, this.opts.lanSubnet) ? mac.toLowerCase().replace(/-/g, ':') : undefined };
      }
    }
    const ip = unmapped(req.socket.remoteAddress);
    const mac = inSubnet(ip, this.opts.lanSubnet) ? await (this.opts.macOf ?? macFromArp)(ip) : undefined;
    return { ip, mac };
  }

  private send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    json: object,
    body: SafeHtml,
    title = 'Hotspot',
  ): void {
    const wantsJson = (req.headers.accept ?? '').includes('application/json');
    res.statusCode = status;
    res.setHeader('Cache-Control', 'no-store');
    if (wantsJson) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(json));
    } else {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
      res.end(page(title, body));
    }
  }

  private statusView(s: Session): object {
    const now = this.opts.clock.now();
    return {
      username: s.username,
      ip: s.ip,
      mac: s.mac,
      acctSessionId: s.acctSessionId,
      sessionSeconds: Math.floor((now - s.startedAt) / 1000),
      sessionTimeout: s.policy.sessionTimeout ?? null,
      uploadBps: s.policy.limits.uploadBps,
      downloadBps: s.policy.limits.downloadBps,
      bytesIn: s.counters.bytesIn.toString(),
      bytesOut: s.counters.bytesOut.toString(),
    };
  }

  private statusPage(s: Session, dst?: string): SafeHtml {
    const v = this.statusView(s) as Record<string, unknown>;
    const next =
      dst !== undefined && /^https?:\/\/[^\s]{1,1000}$/.test(dst)
        ? html`<p><a href="${dst}">Continue to ${dst}</a></p>`
        : html``;
    return html`<h1>You are logged in</h1>${next}<table>
<tr><th>User</th><td>${s.username}</td></tr><tr><th>Address</th><td>${s.ip}</td></tr>
<tr><th>Connected for</th><td>${String(v.sessionSeconds)} s</td></tr>
<tr><th>Time left</th><td>${s.policy.sessionTimeout === undefined ? 'no limit' : `${Math.max(0, s.policy.sessionTimeout - Number(v.sessionSeconds))} s`}</td></tr>
<tr><th>Rate (up/down)</th><td>${s.policy.limits.uploadBps || 'no limit'} / ${s.policy.limits.downloadBps || 'no limit'} bit/s</td></tr>
</table><form method="post" action="/logout"><p><button type="submit">Log out</button></p></form>`;
  }

  private challengeFor(ip: string, portal: boolean): { id: number; challenge: Buffer } {
    const now = this.opts.clock.now();
    for (const [k, c] of this.challenges) if (now - c.at > CHALLENGE_TTL_MS) this.challenges.delete(k);
    const c = { id: randomBytes(1)[0] ?? 0, challenge: randomBytes(16), at: now, portal };
    this.challenges.set(ip, c);
    return c;
  }

  /** The names this endpoint answers to itself; a request for any other host was redirected here. */
  private isForGateway(req: IncomingMessage): boolean {
    const host = (req.headers.host ?? '')
      .replace(/:\d+$/, '')
      .replace(/^\[|\]$/g, '')
      .toLowerCase();
    if (host === '') return true;
    const own = new Set([unmapped(req.socket.localAddress), 'localhost']);
    if (this.opts.loginUrl) own.add(new URL(this.opts.loginUrl).hostname.toLowerCase());
    return own.has(host);
  }

  /** 302 to the captive portal with a MikroTik's redirect parameters (and a fresh CHAP challenge). */
  private toPortal(
    req: IncomingMessage,
    res: ServerResponse,
    who: { ip: string; mac: string },
    orig: string | null,
  ): void {
    const c = this.challengeFor(who.ip, true);
    const target = new URL(this.opts.portalUrl);
    const login =
      this.opts.loginUrl ??
      `http://${unmapped(req.socket.localAddress)}:${String(req.socket.localPort ?? this.port)}/login`;
    target.searchParams.set('link-login-only', login);
    if (orig) target.searchParams.set('link-orig', orig);
    target.searchParams.set('mac', who.mac.toUpperCase());
    target.searchParams.set('ip', who.ip);
    target.searchParams.set('chap-id', encodeOctal(Buffer.from([c.id])));
    target.searchParams.set('chap-challenge', encodeOctal(c.challenge));
    res.statusCode = 302;
    res.setHeader('Location', target.toString());
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Hotspot', html`<p><a href="${target.toString()}">Log in to the hotspot</a></p>`));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    let who: { ip: string; mac: string | undefined };
    try {
      who = await this.client(req);
    } catch (err) {
      if (err instanceof BadInput)
        return this.send(
          req,
          res,
          400,
          { error: 'VALIDATION_FAILED', message: err.message },
          html`<p class="error">${err.message}</p>`,
        );
      throw err;
    }
    const table = this.opts.table;
    const notOnLan = (): void =>
      this.send(
        req,
        res,
        403,
        { error: 'NOT_ON_HOTSPOT', message: 'this device is not on the hotspot network' },
        html`<h1>Hotspot</h1><p class="error">This device is not on the hotspot network.</p>`,
      );
    if (!this.isForGateway(req)) {
      // A client's web request the firewall redirected: to the portal, remembering where it went.
      if (!isIPv4(who.ip) || who.mac === undefined) return notOnLan();
      const existing = table.byAddress(who.ip);
      if (existing)
        return this.send(
          req,
          res,
          200,
          { loggedIn: true, session: this.statusView(existing) },
          this.statusPage(existing),
        );
      const host = (req.headers.host ?? '').slice(0, 253);
      return this.toPortal(req, res, { ip: who.ip, mac: who.mac }, `http://${host}${(req.url ?? '/').slice(0, 700)}`);
    }
    if (req.method === 'GET' && (path === '/' || path === '/login')) {
      const existing = table.byAddress(who.ip);
      if (existing)
        return this.send(
          req,
          res,
          200,
          { loggedIn: true, session: this.statusView(existing) },
          this.statusPage(existing),
        );
      const wantsJson = (req.headers.accept ?? '').includes('application/json');
      if (!wantsJson) {
        if (!isIPv4(who.ip) || who.mac === undefined) return notOnLan();
        return this.toPortal(req, res, { ip: who.ip, mac: who.mac }, null);
      }
      const c = this.challengeFor(who.ip, false);
      return this.send(
        req,
        res,
        200,
        { loggedIn: false, chapId: c.id, chapChallenge: c.challenge.toString('hex') },
        html``,
      );
    }
    if (req.method === 'GET' && path === '/status') {
      const s = table.byAddress(who.ip);
      return s
        ? this.send(req, res, 200, { loggedIn: true, session: this.statusView(s) }, this.statusPage(s))
        : this.send(req, res, 404, { loggedIn: false }, html`<h1>Not logged in</h1><p><a href="/login">Log in</a></p>`);
    }
    if (req.method === 'POST' && path === '/logout') {
      const s = table.byAddress(who.ip);
      if (s) await table.end(s, 'User-Request');
      return this.send(
        req,
        res,
        200,
        { loggedIn: false },
        html`<h1>You are logged out</h1><p><a href="/login">Log in again</a></p>`,
      );
    }
    if (req.method === 'POST' && path === '/login') {
      let body: Record<string, string>;
      try {
        body = await readBody(req);
      } catch (err) {
        if (err instanceof BadInput)
          return this.send(
            req,
            res,
            400,
            { error: 'VALIDATION_FAILED', message: err.message },
            html`<p class="error">${err.message}</p>`,
          );
        throw err;
      }
      const bad = (message: string): void =>
        this.send(
          req,
          res,
          400,
          { error: 'VALIDATION_FAILED', message },
          html`<h1>Log in</h1><p class="error">${message}</p>`,
        );
      const username = body.username ?? '';
      if (username.length < 1 || username.length > 253) return bad('username is required (at most 253 characters)');
      if (!isIPv4(who.ip) || who.mac === undefined) return bad('this device is not on the hotspot network');
      let credentials: Credentials;
      const issued = this.challenges.get(who.ip);
      // After the portal's redirect the page posts the CHAP response as `password` (RouterOS's way).
      const portalChap = issued?.portal === true && /^[0-9a-fA-F]{32}$/.test(body.password ?? '');
      if (body['chap-response'] !== undefined || body.chapResponse !== undefined || portalChap) {
        const hex = body['chap-response'] ?? body.chapResponse ?? body.password ?? '';
        const c = issued;
        if (!/^[0-9a-fA-F]{32}$/.test(hex)) return bad('chap-response must be 32 hex digits');
        if (!c) return bad('no CHAP challenge was issued to this device (GET /login first)');
        this.challenges.delete(who.ip);
        credentials = {
          method: 'chap-response',
          chapId: c.id,
          challenge: c.challenge,
          response: Buffer.from(hex, 'hex'),
        };
      } else {
        const password = body.password ?? '';
        if (password.length < 1 || Buffer.byteLength(password) > 128)
          return bad('password is required (at most 128 bytes)');
        credentials = { method: this.opts.passwordMethod ?? 'pap', password };
      }
      const result = await table.login({ username, credentials, ip: who.ip, mac: who.mac });
      if (result.ok)
        return this.send(
          req,
          res,
          200,
          { loggedIn: true, session: this.statusView(result.session) },
          this.statusPage(result.session, body.dst),
        );
      if (result.reason === 'no-server') {
        return this.send(
          req,
          res,
          503,
          { error: 'RADIUS_UNAVAILABLE' },
          html`<h1>Log in</h1><p class="error">The login service does not answer; try again in a minute.</p>`,
        );
      }
      return this.send(
        req,
        res,
        401,
        { error: 'LOGIN_REJECTED', message: result.message ?? null },
        html`<h1>Log in</h1><p class="error">${result.message ?? 'Wrong username or password.'}</p>`,
      );
    }
    this.send(req, res, 404, { error: 'NOT_FOUND' }, html`<h1>Not found</h1>`);
  }
}
