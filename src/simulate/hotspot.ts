/**
 * The hotspot login endpoint of the NAS simulator, behaving like RouterOS's HTTP servlet
 * (protocols.md 2.4), on top of a NasSimulator (its RADIUS client, sessions and accounting):
 *
 *  - GET /login: the device's CHAP challenge (chap-id: 1 byte, chap-challenge: 16 bytes,
 *    written octal-escaped as RouterOS does; one per device, valid until a login uses it or
 *    five minutes pass, so a favicon or reload does not replace it), then either the router's own login page
 *    (a form whose script computes MD5(chap-id + password + chap-challenge), as RouterOS's
 *    login.html with md5.js does) or, with `portalUrl`, Lango's mikrotik/hotspot/login.html with
 *    the servlet variables filled in (the redirect to the external portal);
 *  - POST /login (username, password, dst): a 32-hex-digit password answers the device's last
 *    challenge and goes to FreeRADIUS as CHAP (CHAP-Password + CHAP-Challenge); anything else is
 *    PAP, if `loginBy` allows it. On Access-Accept the session starts (Accounting Start, then
 *    Interim-Updates every Acct-Interim-Interval) and the browser is sent to `dst` (link-orig)
 *    or the status page; on Access-Reject the error page carries the Reply-Message (with a
 *    portal: the redirect to it carries `error`);
 *  - GET /status, GET|POST /logout (Stop, User-Request).
 *
 * Like RouterOS it ends a session by itself: at Session-Timeout, and when the traffic reported
 * with traffic() reaches Mikrotik-Total-Limit(-Gigawords), each with a Stop carrying
 * Acct-Terminate-Cause Session-Timeout (RouterOS reports an exhausted limit-bytes-total as a
 * session timeout too; to be confirmed on hardware). Timers run on the injected Clock.
 *
 * A device is its source address: the MAC is the one setDevice() gave, or one derived from the
 * address (02:00 + the IPv4 bytes), so tests pose as several phones by binding 127.0.0.x.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getString } from '../radius';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import { hotspotLoginHtml } from '../mikrotik/script';
import type { NasSimulator, SimulatedSession } from './nas-simulator';

export type HotspotLoginBy = 'http-chap' | 'http-pap';

export interface HotspotOptions {
  readonly nas: NasSimulator;
  /** Listen address and port (default 127.0.0.1, a free port). */
  readonly host?: string;
  readonly port?: number;
  readonly clock?: Clock;
  /** External portal (Lango's): GET /login renders mikrotik/hotspot/login.html pointing there. */
  readonly portalUrl?: string;
  /** Default both, as a profile with login-by=http-chap,http-pap. */
  readonly loginBy?: readonly HotspotLoginBy[];
  /** The router's identity shown on its pages. */
  readonly identity?: string;
}

export interface HotspotDevice {
  readonly ip: string;
  readonly mac: string;
  readonly user?: string;
  readonly acctSessionId?: string;
  readonly loggedInAt?: Date;
}

export interface HotspotEnded {
  readonly user: string;
  readonly acctSessionId: string;
  readonly cause: 'Session-Timeout' | 'User-Request';
  readonly reason: 'session-timeout' | 'traffic-limit' | 'logout';
}

export interface Hotspot {
  /** http://host:port */
  readonly url: string;
  /** link-login-only as the pages give it. */
  readonly loginUrl: string;
  /** Sessions this hotspot ended by itself or by logout, in order. */
  readonly ended: readonly HotspotEnded[];
  setDevice(ip: string, mac: string): void;
  device(ip: string): HotspotDevice | undefined;
  /**
   * Traffic of the device's session so far (totals, bytes from / to the client); ends the
   * session when the total reaches the session's data limit.
   */
  traffic(ip: string, totals: { inputOctets: number | bigint; outputOctets: number | bigint }): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
const SESSION_TIMEOUT_CAUSE = 'Session-Timeout' as const;
/** How long a CHAP challenge stays valid unused (RouterOS keeps a client's challenge for minutes). */
const CHALLENGE_TTL_MS = 5 * 60 * 1000;

interface DeviceState {
  ip: string;
  mac: string;
  /** The device's CHAP challenge: issued once, kept until a login uses it or it expires. */
  chap?: { id: number; challenge: Buffer; expiresAt: number };
  user?: string;
  acctSessionId?: string;
  loggedInAt?: Date;
  input: bigint;
  output: bigint;
  timers: Timer[];
}

/** Bytes as RouterOS writes $(chap-id) and $(chap-challenge): every byte as \ooo. */
export function octalEscape(b: Buffer): string {
  return [...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
}

/** The bytes of an octal-escaped string (what a portal does with chap-id / chap-challenge). */
export function octalUnescape(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length;) {
    const m = /^\\([0-7]{3})/.exec(s.slice(i));
    if (m) {
      out.push(parseInt(m[1]!, 8) & 0xff);
      i += 4;
    } else {
      out.push(s.charCodeAt(i) & 0xff);
      i += 1;
    }
  }
  return Buffer.from(out);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * RouterOS servlet variables: $(name) (here HTML-escaped), $(name-esc) (URL-escaped),
 * $(if name) ... $(else) ... $(endif) (true when the variable is not empty).
 */
export function renderServletPage(template: string, vars: Readonly<Record<string, string>>): string {
  const ifs = /\$\(if ([a-z-]+)\)([\s\S]*?)(?:\$\(else\)([\s\S]*?))?\$\(endif\)/g;
  const withIfs = template.replace(ifs, (_m, name: string, yes: string, no: string | undefined) =>
    (vars[name] ?? '') !== '' ? yes : (no ?? ''),
  );
  return withIfs.replace(/\$\(([a-z-]+)\)/g, (_m, name: string) => {
    if (name.endsWith('-esc')) return encodeURIComponent(vars[name.slice(0, -4)] ?? '');
    return esc(vars[name] ?? '');
  });
}

/** MD5 in the page, on the bytes of a string (char codes 0-255), like RouterOS's md5.js. */
export const PAGE_MD5 = `function hexMD5(s){var K=[],S=[7,12,17,22,5,9,14,20,4,11,16,23,6,10,15,21],i,j,k;
for(i=0;i<64;i++)K[i]=Math.floor(Math.abs(Math.sin(i+1))*4294967296)|0;
var n=s.length,nb=((n+8)>>6)+1,w=[];for(i=0;i<nb*16;i++)w[i]=0;
for(i=0;i<n;i++)w[i>>2]|=(s.charCodeAt(i)&255)<<((i%4)*8);
w[n>>2]|=128<<((n%4)*8);w[nb*16-2]=n*8;
var a0=1732584193,b0=-271733879,c0=-1732584194,d0=271733878;
for(j=0;j<w.length;j+=16){var A=a0,B=b0,C=c0,D=d0,F,g,r;
for(i=0;i<64;i++){if(i<16){F=(B&C)|(~B&D);g=i}else if(i<32){F=(D&B)|(~D&C);g=(5*i+1)%16}
else if(i<48){F=B^C^D;g=(3*i+5)%16}else{F=C^(B|~D);g=(7*i)%16}
r=S[(i>>4)*4+(i%4)];F=(((F+A)|0)+((K[i]+w[j+g])|0))|0;A=D;D=C;C=B;B=(B+((F<<r)|(F>>>(32-r))))|0}
a0=(a0+A)|0;b0=(b0+B)|0;c0=(c0+C)|0;d0=(d0+D)|0}
var v=[a0,b0,c0,d0],o='';for(i=0;i<4;i++)for(k=0;k<4;k++)o+=('0'+((v[i]>>>(k*8))&255).toString(16)).slice(-2);return o}`;

function page(title: string, body: string): string {
  return (
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${esc(title)}</title></head><body>${body}</body></html>`
  );
}

function macFromIp(ip: string): string {
  const parts = ip.split('.').map((x) => Number(x));
  const bytes =
    parts.length === 4 && parts.every((x) => Number.isInteger(x) && x >= 0 && x <= 255) ? parts : [...randomBytes(4)];
  return ['02', '00', ...bytes.map((x) => x.toString(16).padStart(2, '0'))].join(':').toUpperCase();
}

function clientIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return 'too-large';
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** A `dst` the router would send a browser to: http(s) URLs only (no javascript:, no data:). */
function safeDst(dst: string | null): string | undefined {
  if (!dst) return undefined;
  try {
    const u = new URL(dst);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

class HotspotServer implements Hotspot {
  readonly ended: HotspotEnded[] = [];
  private readonly devices = new Map<string, DeviceState>();
  private readonly clock: Clock;
  private readonly loginBy: readonly HotspotLoginBy[];
  private readonly loginTemplate: string | undefined;
  url = '';
  loginUrl = '';

  constructor(
    private readonly opts: HotspotOptions,
    readonly server: Server,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.loginBy = opts.loginBy ?? ['http-chap', 'http-pap'];
    // The same file, rendered the same way, as the per-NAS .rsc installs on a router.
    this.loginTemplate = opts.portalUrl ? hotspotLoginHtml(opts.portalUrl) : undefined;
  }

  setDevice(ip: string, mac: string): void {
    this.state(ip).mac = mac.toUpperCase();
  }

  device(ip: string): HotspotDevice | undefined {
    const d = this.devices.get(ip);
    if (!d) return undefined;
    this.sync(d);
    return {
      ip: d.ip,
      mac: d.mac,
      ...(d.user ? { user: d.user, acctSessionId: d.acctSessionId!, loggedInAt: d.loggedInAt! } : {}),
    };
  }

  private state(ip: string): DeviceState {
    let d = this.devices.get(ip);
    if (!d) {
      d = { ip, mac: macFromIp(ip), input: 0n, output: 0n, timers: [] };
      this.devices.set(ip, d);
    }
    return d;
  }

  /** A session the NAS no longer has (Disconnect-Request, reboot) is logged out here too. */
  private sync(d: DeviceState): SimulatedSession | undefined {
    if (!d.acctSessionId) return undefined;
    const s = this.opts.nas.session(d.acctSessionId);
    if (!s) this.forget(d);
    return s;
  }

  private forget(d: DeviceState): void {
    for (const t of d.timers) t.cancel();
    d.timers = [];
    delete d.user;
    delete d.acctSessionId;
    delete d.loggedInAt;
    d.input = 0n;
    d.output = 0n;
  }

  private async end(d: DeviceState, cause: HotspotEnded['cause'], reason: HotspotEnded['reason']): Promise<void> {
    const id = d.acctSessionId;
    const user = d.user;
    if (!id || !user || !this.opts.nas.session(id)) {
      this.forget(d);
      return;
    }
    const counters = { inputOctets: d.input, outputOctets: d.output };
    this.forget(d);
    this.ended.push({ user, acctSessionId: id, cause, reason });
    await this.opts.nas.logout(id, cause, counters);
  }

  async traffic(ip: string, totals: { inputOctets: number | bigint; outputOctets: number | bigint }): Promise<void> {
    const d = this.devices.get(ip);
    if (!d) throw new Error(`no device ${ip}`);
    const s = this.sync(d);
    if (!s) throw new Error(`device ${ip} is not logged in`);
    d.input = BigInt(totals.inputOctets);
    d.output = BigInt(totals.outputOctets);
    if (s.totalLimit !== undefined && s.totalLimit > 0n && d.input + d.output >= s.totalLimit) {
      await this.end(d, SESSION_TIMEOUT_CAUSE, 'traffic-limit');
    }
  }

  private startTimers(d: DeviceState, s: SimulatedSession): void {
    const id = s.acctSessionId;
    if (s.sessionTimeout !== undefined && s.sessionTimeout > 0) {
      d.timers.push(
        this.clock.setTimer(s.sessionTimeout * 1000, () => {
          if (d.acctSessionId === id) void this.end(d, SESSION_TIMEOUT_CAUSE, 'session-timeout').catch(() => undefined);
        }),
      );
    }
    const interval = s.interimInterval;
    if (interval !== undefined && interval > 0) {
      const tick = (): void => {
        if (d.acctSessionId !== id || !this.opts.nas.session(id)) return;
        void this.opts.nas.interim(id, { inputOctets: d.input, outputOctets: d.output }).catch(() => undefined);
        d.timers.push(this.clock.setTimer(interval * 1000, tick));
      };
      d.timers.push(this.clock.setTimer(interval * 1000, tick));
    }
  }

  private vars(d: DeviceState, extra: Record<string, string>): Record<string, string> {
    return {
      'link-login-only': this.loginUrl,
      'link-login': this.loginUrl,
      'link-status': `${this.url}/status`,
      'link-logout': `${this.url}/logout`,
      mac: d.mac,
      ip: d.ip,
      'chap-id': d.chap ? octalEscape(Buffer.from([d.chap.id])) : '',
      'chap-challenge': d.chap ? octalEscape(d.chap.challenge) : '',
      identity: this.opts.identity ?? 'lango-sim',
      username: '',
      error: '',
      'link-orig': '',
      ...extra,
    };
  }

  private loginPage(d: DeviceState, dst: string | undefined, error: string | undefined, res: ServerResponse): void {
    // Like RouterOS, one challenge per client until a login uses it or it expires: a second
    // request (the browser's favicon, a reload) shows the same challenge, so a portal that
    // carries the first one still logs in.
    if (!this.loginBy.includes('http-chap')) delete d.chap;
    else if (!d.chap || d.chap.expiresAt <= this.clock.now())
      d.chap = { id: randomBytes(1)[0]!, challenge: randomBytes(16), expiresAt: this.clock.now() + CHALLENGE_TTL_MS };
    const vars = this.vars(d, { 'link-orig': dst ?? '', error: error ?? '' });
    if (this.loginTemplate) {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(renderServletPage(this.loginTemplate, vars));
      return;
    }
    // The router's own page: CHAP in the page's script (RouterOS's login.html + md5.js).
    const script = d.chap
      ? `<script>${PAGE_MD5}
function doLogin(){var f=document.forms.login;f.password.value=hexMD5('${vars['chap-id']}'+f.password.value+'${vars['chap-challenge']}');return true}</script>`
      : '';
    const body =
      `<h1>${esc(vars.identity!)}</h1>` +
      (error ? `<p class="error" id="error">${esc(error)}</p>` : '') +
      `<form name="login" action="${esc(this.loginUrl)}" method="post"${d.chap ? ' onsubmit="return doLogin()"' : ''}>` +
      `<input type="hidden" name="dst" value="${esc(dst ?? '')}"><input type="hidden" name="popup" value="false">` +
      `<label>Username <input name="username" autocomplete="username"></label>` +
      `<label>Password <input name="password" type="password"></label><button type="submit">Log in</button></form>${script}`;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(page('Login', body));
  }

  private redirect(res: ServerResponse, to: string): void {
    res.writeHead(302, { location: to, 'cache-control': 'no-store' }).end();
  }

  private async postLogin(d: DeviceState, form: URLSearchParams, res: ServerResponse): Promise<void> {
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    const dst = safeDst(form.get('dst'));
    // RouterOS shows login.html again with $(error); Lango's login.html takes it to the portal.
    const fail = (message: string): void => this.loginPage(d, dst, message, res);
    if (this.sync(d)) {
      this.redirect(res, dst ?? `${this.url}/status`);
      return;
    }
    if (username === '' || Buffer.byteLength(username) > 253 || Buffer.byteLength(password) > 128) {
      fail('invalid username or password');
      return;
    }
    const chap =
      d.chap && d.chap.expiresAt > this.clock.now() && /^[0-9a-fA-F]{32}$/.test(password) ? d.chap : undefined;
    if (!chap && !this.loginBy.includes('http-pap')) {
      fail('invalid username or password');
      return;
    }
    // A challenge answers one login, as on RouterOS.
    delete d.chap;
    const result = await this.opts.nas.login(username, password, {
      macAddress: d.mac,
      framedIp: d.ip,
      ...(chap
        ? { chapResponse: { id: chap.id, challenge: chap.challenge, response: Buffer.from(password, 'hex') } }
        : { method: 'pap' as const }),
    });
    if (!result.accepted || !result.session) {
      fail(getString(result.reply, 'Reply-Message') ?? 'invalid username or password');
      return;
    }
    d.user = username;
    d.acctSessionId = result.session.acctSessionId;
    d.loggedInAt = this.clock.date();
    d.input = 0n;
    d.output = 0n;
    this.startTimers(d, result.session);
    this.redirect(res, dst ?? `${this.url}/status`);
  }

  private status(d: DeviceState, res: ServerResponse): void {
    const s = this.sync(d);
    if (!s || !d.user) {
      this.redirect(res, this.loginUrl);
      return;
    }
    const uptime = Math.floor((this.clock.now() - d.loggedInAt!.getTime()) / 1000);
    const left =
      s.sessionTimeout !== undefined
        ? `<p>Time left: <span id="session-time-left">${Math.max(0, s.sessionTimeout - uptime)}</span> s</p>`
        : '';
    const body =
      `<h1>You are logged in</h1><p>User: <span id="username">${esc(d.user)}</span></p>` +
      `<p>IP: <span id="ip">${esc(d.ip)}</span> MAC: <span id="mac">${esc(d.mac)}</span></p>` +
      `<p>Uptime: <span id="uptime">${uptime}</span> s; bytes in/out: ${d.input}/${d.output}</p>${left}` +
      `<form action="${esc(this.url)}/logout" method="post"><button type="submit">Log out</button></form>`;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(page('Status', body));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const d = this.state(clientIp(req));
    const method = req.method ?? 'GET';
    if (url.pathname === '/login' && method === 'GET') {
      if (this.sync(d)) return this.redirect(res, safeDst(url.searchParams.get('dst')) ?? `${this.url}/status`);
      return this.loginPage(d, safeDst(url.searchParams.get('dst')), undefined, res);
    }
    if (url.pathname === '/login' && method === 'POST') {
      if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
        res.writeHead(415, { 'content-type': 'text/plain' }).end('form expected');
        return;
      }
      const form = await readForm(req);
      if (form === 'too-large') {
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('form too large');
        return;
      }
      return this.postLogin(d, form, res);
    }
    if (url.pathname === '/status' && method === 'GET') return this.status(d, res);
    if (url.pathname === '/logout' && (method === 'GET' || method === 'POST')) {
      if (this.sync(d)) await this.end(d, 'User-Request', 'logout');
      return this.redirect(res, this.loginUrl);
    }
    if (method === 'GET') {
      // Any other page: a client that is not logged in is sent to the login page, keeping where it was going.
      if (!this.sync(d)) return this.redirect(res, `${this.loginUrl}?dst=${encodeURIComponent(url.toString())}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('online');
      return;
    }
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed');
  }

  async close(): Promise<void> {
    for (const d of this.devices.values()) for (const t of d.timers) t.cancel();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Start the hotspot login endpoint of a simulated NAS. */
export async function startHotspot(opts: HotspotOptions): Promise<Hotspot> {
  const server = createServer();
  const hs = new HotspotServer(opts, server);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    hs.handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('RADIUS server is not responding');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  hs.url = `http://${host}:${a.port}`;
  hs.loginUrl = `${hs.url}/login`;
  return hs;
}
