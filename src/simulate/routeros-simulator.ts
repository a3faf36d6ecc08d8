/**
 * A small RouterOS API device that speaks the real wire protocol (src/mikrotik/protocol.ts)
 * over TCP or TLS, for demos (`lango simulate routeros`) and tests. It knows just enough of
 * RouterOS for Lango:
 *
 *  - `/login` in both styles: 6.43+ plaintext (`=name= =password=`) and the pre-6.43 MD5
 *    challenge (`/login` -> `=ret=`, then `=name= =response=00<md5>`); `legacyLogin: true`
 *    behaves like an old router that answers even a plaintext login with a challenge;
 *  - `<path>/print` for the active hotspot and PPP sessions (src/mikrotik/sessions.ts paths)
 *    with `?` queries (`?k=v`, `?k`, `?-k`, `?<k=v`, `?>k=v`, `?#` operators) and `=.proplist=`;
 *  - `<path>/remove` (`=.id=`, comma lists), `no such item`;
 *  - `/system/identity/print`, `/cancel`, `/quit`; `!trap` for anything else;
 *  - `.tag=` on every reply; `emptyReplies` answers empty prints with `!empty` then `!done`
 *    (RouterOS >= 7.18); `idleTimeoutMs` drops quiet connections (on the injected clock).
 *
 * Sessions are added and removed programmatically with addActive() / removeActive(). Tests
 * order events with hooks instead of delays: hold() keeps a command unanswered until released
 * (a `/cancel` for it answers `interrupted`, as RouterOS does), received() reports that a
 * command arrived, allClosed() that every client connection is gone.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { systemClock, type Clock, type Timer } from '../lib/clock';
import {
  encodeSentence,
  loginChallengeResponse,
  parseCommand,
  SentenceDecoder,
  type CommandSentence,
} from '../mikrotik/protocol';
import { formatRouterOsDuration, SESSION_KINDS, SESSION_PATHS, type SessionKind } from '../mikrotik/sessions';

export type { CommandSentence };

export interface SimulatorUser {
  name: string;
  password: string;
}

export interface SimulatorLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RouterOsSimulatorOptions {
  /** Default: one user `admin` with an empty password. */
  users?: SimulatorUser[];
  /** `/system/identity/print` name. Default `MikroTik`. */
  identity?: string;
  /** Answer prints without results with `!empty` then `!done` (RouterOS >= 7.18). */
  emptyReplies?: boolean;
  /** Close a connection after this long without data from the client (0 = never). */
  idleTimeoutMs?: number;
  /** Behave like RouterOS < 6.43: every `/login` without `=response=` gets a challenge. */
  legacyLogin?: boolean;
  /** Serve api-ssl with this key and certificate (PEM) instead of plain TCP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Idle timeouts and session uptimes. Default: the system clock. */
  clock?: Clock;
  logger?: SimulatorLogger;
}

export interface SimulatedSessionInput {
  user: string;
  address?: string;
  macAddress?: string;
  sessionId?: string;
  /** Seconds the session has already been up. */
  uptimeSeconds?: number;
  bytesIn?: number;
  bytesOut?: number;
  /** Hotspot server name (hotspot) or PPP service (ppp). */
  server?: string;
}

export interface SimulatorStats {
  connections: number;
  logins: number;
  /** Commands run (a held command counts when it is released). */
  commands: number;
}

/** Which command a hook is for: its path, or a test on the parsed sentence. */
export type CommandMatch = string | ((command: CommandSentence) => boolean);

/** A command the simulator keeps unanswered until release() (see hold()). */
export interface HeldCommand {
  /** Resolves with the command once it has arrived (it is then neither run nor answered). */
  readonly arrived: Promise<CommandSentence>;
  /**
   * Runs and answers the command now, against the sessions as they are now; before arrival,
   * lets it through when it comes. Nothing happens if it was cancelled or its connection closed.
   */
  release(): void;
}

interface StoredSession {
  id: string;
  input: SimulatedSessionInput;
  startedAt: number;
}

interface Hold {
  match: CommandMatch;
  arrive(command: CommandSentence): void;
  /** Set on arrival; cleared once run or dropped. */
  run: (() => void) | undefined;
  released: boolean;
}

interface Watch {
  match: CommandMatch;
  resolve(command: CommandSentence): void;
}

const noopLogger: SimulatorLogger = { debug: () => undefined, warn: () => undefined };

function matches(match: CommandMatch, command: CommandSentence): boolean {
  return typeof match === 'string' ? command.command === match : match(command);
}

export class RouterOsSimulator {
  readonly stats: SimulatorStats = { connections: 0, logins: 0, commands: 0 };
  private readonly users: SimulatorUser[];
  private readonly identity: string;
  private readonly emptyReplies: boolean;
  private readonly idleTimeoutMs: number;
  private readonly legacyLogin: boolean;
  private readonly tlsOptions: RouterOsSimulatorOptions['tls'];
  /** @internal */
  readonly clock: Clock;
  private readonly log: SimulatorLogger;
  private readonly sessions: Record<SessionKind, Map<string, StoredSession>> = {
    hotspot: new Map(),
    ppp: new Map(),
  };
  private nextId = 1;
  private server: net.Server | null = null;
  private readonly connections = new Set<SimulatorConnection>();
  private boundPort = 0;
  private holds: Hold[] = [];
  private watches: Watch[] = [];
  private closedWaiters: Array<() => void> = [];

  constructor(options: RouterOsSimulatorOptions = {}) {
    this.users = options.users ?? [{ name: 'admin', password: '' }];
    this.identity = options.identity ?? 'MikroTik';
    this.emptyReplies = options.emptyReplies ?? false;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.legacyLogin = options.legacyLogin ?? false;
    this.tlsOptions = options.tls;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? noopLogger;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.connections.size;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<{ port: number }> {
    if (this.server) return Promise.reject(new Error('simulator already listening'));
    const server = this.tlsOptions
      ? tls.createServer({ key: this.tlsOptions.key, cert: this.tlsOptions.cert }, (socket) => this.accept(socket))
      : net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.warn({ err: err.message }, 'routeros simulator server error'));
        const address = server.address();
        this.boundPort = typeof address === 'object' && address !== null ? address.port : port;
        resolve({ port: this.boundPort });
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Adds an active session and returns its `.id`. */
  addActive(kind: SessionKind, input: SimulatedSessionInput): string {
    const id = `*${(this.nextId++).toString(16).toUpperCase()}`;
    const stored: SimulatedSessionInput = { ...input };
    if (kind === 'ppp' && stored.sessionId === undefined) {
      stored.sessionId = `0x${(0x81000000 + this.nextId).toString(16).toUpperCase()}`;
    }
    this.sessions[kind].set(id, {
      id,
      input: stored,
      startedAt: this.clock.now() - (input.uptimeSeconds ?? 0) * 1000,
    });
    return id;
  }

  removeActive(kind: SessionKind, id: string): boolean {
    return this.sessions[kind].delete(id);
  }

  /** Rows as `print` would return them (all properties). */
  listActive(kind: SessionKind): Record<string, string>[] {
    return [...this.sessions[kind].values()].map((s) => this.toRow(kind, s));
  }

  /** Drops every client connection (as a router reboot or a NAT timeout would). */
  dropConnections(): void {
    for (const conn of [...this.connections]) conn.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Hooks for tests

  /** Holds the next command that matches (and has no earlier hold): see HeldCommand. */
  hold(match: CommandMatch): HeldCommand {
    let arrive!: (command: CommandSentence) => void;
    const arrived = new Promise<CommandSentence>((resolve) => {
      arrive = resolve;
    });
    const hold: Hold = { match, arrive, run: undefined, released: false };
    this.holds.push(hold);
    return {
      arrived,
      release: () => {
        hold.released = true;
        this.holds = this.holds.filter((h) => h !== hold);
        const run = hold.run;
        hold.run = undefined;
        run?.();
      },
    };
  }

  /**
   * Resolves with the next command that matches, once the simulator has dealt with it: its
   * replies are written (they reach the client before anything answered later on the same
   * connection), or it is held.
   */
  received(match: CommandMatch): Promise<CommandSentence> {
    return new Promise((resolve) => this.watches.push({ match, resolve }));
  }

  /** Resolves once no client connection is open (at once if none is). */
  allClosed(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  // -------------------------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    this.stats.connections += 1;
    const conn = new SimulatorConnection(socket, this, this.idleTimeoutMs, this.log, () => {
      this.connections.delete(conn);
      if (this.connections.size === 0) for (const resolve of this.closedWaiters.splice(0)) resolve();
    });
    this.connections.add(conn);
  }

  /** @internal The first waiting hold for this command, now arrived; undefined if none. */
  takeHold(command: CommandSentence, run: () => void): Hold | undefined {
    const hold = this.holds.find((h) => !h.released && matches(h.match, command));
    if (!hold) return undefined;
    this.holds = this.holds.filter((h) => h !== hold);
    hold.run = run;
    hold.arrive(command);
    return hold;
  }

  /** @internal */
  notifyReceived(command: CommandSentence): void {
    const watch = this.watches.find((w) => matches(w.match, command));
    if (!watch) return;
    this.watches = this.watches.filter((w) => w !== watch);
    watch.resolve(command);
  }

  /** @internal Runs one command and returns the reply sentences (without tags). */
  execute(conn: SimulatorConnection, request: CommandSentence): string[][] {
    const { command } = request;
    this.stats.commands += 1;
    if (command === '/login') return this.login(conn, request);
    if (command === '/quit') return [['!fatal', 'session terminated on request']];
    if (!conn.user) return trap('not logged in', 5);
    if (command === '/cancel') return [['!done']]; // held commands are cancelled by the connection
    if (command === '/system/identity/print') return [['!re', `=name=${this.identity}`], ['!done']];
    for (const kind of SESSION_KINDS) {
      if (command === `${SESSION_PATHS[kind]}/print`) return this.print(kind, request);
      if (command === `${SESSION_PATHS[kind]}/remove`) return this.remove(kind, request);
    }
    return trap('no such command prefix', 0);
  }

  private login(conn: SimulatorConnection, request: CommandSentence): string[][] {
    const { name, password, response } = request.attrs;
    if (name !== undefined && response !== undefined) {
      const user = this.users.find((u) => u.name === name);
      const challenge = conn.challenge;
      conn.challenge = null;
      if (!user || !challenge || !/^00[0-9a-f]{32}$/i.test(response)) return trap('cannot log in');
      if (response.slice(2).toLowerCase() !== loginChallengeResponse(user.password, challenge.toString('hex'))) {
        return trap('cannot log in');
      }
      return this.loggedIn(conn, user);
    }
    if (name !== undefined && password !== undefined && !this.legacyLogin) {
      const user = this.users.find((u) => u.name === name && u.password === password);
      if (!user) return trap('invalid user name or password (6)');
      return this.loggedIn(conn, user);
    }
    conn.challenge = randomBytes(16);
    return [['!done', `=ret=${conn.challenge.toString('hex')}`]];
  }

  private loggedIn(conn: SimulatorConnection, user: SimulatorUser): string[][] {
    conn.user = user.name;
    this.stats.logins += 1;
    this.log.debug({ user: user.name }, 'routeros simulator login');
    return [['!done']];
  }

  private print(kind: SessionKind, request: CommandSentence): string[][] {
    let matcher: (row: Record<string, string>) => boolean;
    try {
      matcher = compileQuery(request.queries);
    } catch {
      return trap('invalid query', 5);
    }
    const proplist = request.attrs['.proplist']?.split(',').filter((p) => p.length > 0);
    const replies: string[][] = [];
    for (const session of this.sessions[kind].values()) {
      const row = this.toRow(kind, session);
      if (!matcher(row)) continue;
      const keys = proplist ?? Object.keys(row);
      const words = ['!re'];
      for (const key of keys) {
        const value = row[key];
        if (value !== undefined) words.push(`=${key}=${value}`);
      }
      replies.push(words);
    }
    if (replies.length === 0 && this.emptyReplies) replies.push(['!empty']);
    replies.push(['!done']);
    return replies;
  }

  private remove(kind: SessionKind, request: CommandSentence): string[][] {
    const idList = request.attrs['.id'] ?? request.attrs.numbers;
    if (idList === undefined || idList.length === 0) return trap('no such item', 1);
    const ids = idList.split(',');
    const table = this.sessions[kind];
    if (!ids.every((id) => table.has(id))) return trap('no such item');
    for (const id of ids) table.delete(id);
    return [['!done']];
  }

  private toRow(kind: SessionKind, session: StoredSession): Record<string, string> {
    const s = session.input;
    const uptime = formatRouterOsDuration((this.clock.now() - session.startedAt) / 1000);
    const row: Record<string, string> = { '.id': session.id };
    if (kind === 'hotspot') {
      row.server = s.server ?? 'hotspot1';
      row.user = s.user;
      row.domain = '';
      if (s.address !== undefined) row.address = s.address;
      if (s.macAddress !== undefined) row['mac-address'] = s.macAddress.toUpperCase();
      row['login-by'] = 'http-chap';
      row.uptime = uptime;
      row['idle-time'] = '0s';
      row['keepalive-timeout'] = '2m';
      row['bytes-in'] = String(s.bytesIn ?? 0);
      row['bytes-out'] = String(s.bytesOut ?? 0);
      row['packets-in'] = '0';
      row['packets-out'] = '0';
      row.radius = 'true';
      if (s.sessionId !== undefined) row['session-id'] = s.sessionId;
    } else {
      row.name = s.user;
      row.service = s.server ?? 'pppoe';
      if (s.macAddress !== undefined) row['caller-id'] = s.macAddress.toUpperCase();
      if (s.address !== undefined) row.address = s.address;
      row.uptime = uptime;
      row.encoding = '';
      if (s.sessionId !== undefined) row['session-id'] = s.sessionId;
      row['limit-bytes-in'] = '0';
      row['limit-bytes-out'] = '0';
      row.radius = 'true';
    }
    return row;
  }
}

export async function startRouterOsSimulator(
  options: RouterOsSimulatorOptions & { port?: number; host?: string } = {},
): Promise<RouterOsSimulator> {
  const simulator = new RouterOsSimulator(options);
  await simulator.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return simulator;
}

// ---------------------------------------------------------------------------------------------
// One client connection

class SimulatorConnection {
  user: string | null = null;
  challenge: Buffer | null = null;
  private readonly decoder = new SentenceDecoder();
  private idleTimer: Timer | undefined;
  /** Held commands by tag (or a made-up key when untagged). */
  private readonly held = new Map<string, Hold>();
  private nextUntagged = 1;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly device: RouterOsSimulator,
    private readonly idleTimeoutMs: number,
    private readonly log: SimulatorLogger,
    private readonly onClose: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    this.touch();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    this.closed = true;
    this.idleTimer?.cancel();
    for (const hold of this.held.values()) hold.run = undefined;
    this.held.clear();
    this.onClose();
  }

  private touch(): void {
    if (this.idleTimeoutMs <= 0) return;
    this.idleTimer?.cancel();
    this.idleTimer = this.device.clock.setTimer(this.idleTimeoutMs, () => {
      this.log.debug({}, 'routeros simulator closing idle connection');
      this.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.touch();
    let sentences: string[][];
    try {
      sentences = this.decoder.push(chunk);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'routeros simulator got a bad stream');
      this.destroy();
      return;
    }
    for (const words of sentences) {
      if (this.closed) return;
      this.handle(words);
    }
  }

  private handle(words: string[]): void {
    const request = parseCommand(words);
    if (request === undefined) return; // empty sentences are ignored, as RouterOS does
    if (request.command === '/cancel' && this.user) this.cancel(request.attrs.tag);
    const key = request.tag ?? `untagged-${this.nextUntagged++}`;
    const hold = this.device.takeHold(request, () => {
      this.held.delete(key);
      if (!this.closed) this.reply(request.tag, this.device.execute(this, request));
    });
    if (hold) this.held.set(key, hold);
    else this.reply(request.tag, this.device.execute(this, request));
    this.device.notifyReceived(request);
  }

  private cancel(tag: string | undefined): void {
    if (tag === undefined) return;
    const hold = this.held.get(tag);
    if (!hold) return;
    hold.run = undefined;
    this.held.delete(tag);
    this.reply(tag, trap('interrupted', 2));
  }

  private reply(tag: string | undefined, sentences: string[][]): void {
    const buffers: Buffer[] = [];
    let fatal = false;
    for (const words of sentences) {
      if (words[0] === '!fatal') {
        fatal = true; // `!fatal` is untagged, then the router closes the connection
        buffers.push(encodeSentence(words));
        break;
      }
      buffers.push(encodeSentence(tag === undefined ? words : [...words, `.tag=${tag}`]));
    }
    this.socket.write(Buffer.concat(buffers));
    if (fatal) {
      this.socket.end(() => this.socket.destroy());
      this.finish();
    }
  }
}

function trap(message: string, category?: number): string[][] {
  const words = ['!trap'];
  if (category !== undefined) words.push(`=category=${category}`);
  words.push(`=message=${message}`);
  return [words, ['!done']];
}

// ---------------------------------------------------------------------------------------------
// Queries: each word pushes a boolean; `?#` pops and combines; at the end all must be true.

type RowTest = (row: Record<string, string>) => boolean;

function compileQuery(queries: readonly string[]): RowTest {
  const steps: Array<(row: Record<string, string>, stack: boolean[]) => void> = [];
  for (const q of queries) {
    if (q.startsWith('#')) {
      const ops = q.slice(1);
      steps.push((_, stack) => applyOps(ops, stack));
      continue;
    }
    const op = q[0] === '<' || q[0] === '>' || q[0] === '-' || q[0] === '=' ? q[0] : '';
    const body = q.slice(op.length);
    const eq = body.indexOf('=');
    const key = eq === -1 ? body : body.slice(0, eq);
    const value = eq === -1 ? undefined : body.slice(eq + 1);
    if (key.length === 0) throw new Error('bad query word');
    if (op === '-') {
      steps.push((row, stack) => void stack.push(row[key] === undefined));
    } else if (value === undefined) {
      steps.push((row, stack) => void stack.push(row[key] !== undefined));
    } else if (op === '<' || op === '>') {
      steps.push((row, stack) => {
        const actual = row[key];
        stack.push(actual !== undefined && compare(actual, value) === (op === '<' ? -1 : 1));
      });
    } else {
      steps.push((row, stack) => void stack.push((row[key] ?? '') === value));
    }
  }
  return (row) => {
    const stack: boolean[] = [];
    for (const step of steps) step(row, stack);
    return stack.every(Boolean);
  };
}

function applyOps(ops: string, stack: boolean[]): void {
  for (let i = 0; i < ops.length; i += 1) {
    const op = ops[i] as string;
    if (/\d/.test(op)) {
      let digits = op;
      while (i + 1 < ops.length && /\d/.test(ops[i + 1] as string)) digits += ops[++i];
      const index = Number(digits);
      if (index >= stack.length) throw new Error('bad query stack index');
      stack.push(stack[index] as boolean);
      continue;
    }
    if (op === '!' || op === '.') {
      if (stack.length < 1) throw new Error('query stack underflow');
      const top = stack.pop() as boolean;
      if (op === '!') stack.push(!top);
      else stack.push(top, top);
      continue;
    }
    if (op === '|' || op === '&') {
      if (stack.length < 2) throw new Error('query stack underflow');
      const b = stack.pop() as boolean;
      const a = stack.pop() as boolean;
      stack.push(op === '|' ? a || b : a && b);
      continue;
    }
    throw new Error(`unknown query operation ${op}`);
  }
}

function compare(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return Math.sign(na - nb);
  return a < b ? -1 : a > b ? 1 : 0;
}
