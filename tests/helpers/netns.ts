/**
 * A small network made of namespaces, for the gateway firewall tests and bench/gateway-forwarding:
 *
 *   client ns c0..cN-1        gateway ns                          upstream ns
 *   eth0 10.88.0.10+i/16 ──── lanpI ─┐                            eth0 10.99.0.2/24
 *                                    lan0 (bridge) 10.88.0.1/16
 *                                    wan0 10.99.0.1/24 ─────────── (veth)
 *
 * Every interface is created inside a namespace (`ip -n NS link add ... peer ... netns NS2`), so
 * nothing appears on the host and the host's network, firewall and sysctls are never touched;
 * forwarding is switched on in the gateway namespace only. The upstream has no route back to
 * 10.88.0.0/16: replies reach clients only through the gateway's masquerade (routeBack() adds
 * the route, for the benchmark's no-gateway baseline).
 *
 * Names are `lgfw-<pid>-<random>-<role>`; createLab() first removes namespaces of this prefix
 * whose creating process is gone (a run killed before its cleanup), never another live run's.
 * destroy() kills what runs inside and deletes the namespaces; call it in afterAll.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export const LAB_PREFIX = 'lgfw';

export interface LabClient {
  ns: string;
  ip: string;
  /** Upper case, as a MikroTik or a DHCP log would write it (the drivers normalise). */
  mac: string;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface LabServer {
  /** Lines the server printed after READY (one JSON object per line). */
  readonly lines: string[];
  stop(): Promise<void>;
}

export interface NetnsLab {
  gateway: { ns: string; lan: string; wan: string; lanIp: string; wanIp: string };
  upstream: { ns: string; ip: string };
  clients: LabClient[];
  /** Runs a command in a namespace; never throws for a non-zero exit. */
  exec(ns: string, argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Runs one of PROGRAMS.client's actions in a namespace and returns its JSON answer. */
  client<T = Record<string, unknown>>(ns: string, args: readonly (string | number)[], timeoutMs?: number): Promise<T>;
  /** Starts a server program in a namespace and waits until it listens. */
  serve(ns: string, program: string, args: readonly (string | number)[]): Promise<LabServer>;
  /** Whether one ICMP echo from ns to ip is answered within a second. */
  ping(ns: string, ip: string): Promise<boolean>;
  /** Upstream route back to the LAN, for forwarding without NAT (benchmark baseline). */
  routeBack(on: boolean): Promise<void>;
  destroy(): Promise<void>;
}

export const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

function run(
  file: string,
  argv: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...argv],
      { timeout: opts.timeoutMs ?? 15000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({ code, stdout, stderr: stderr || (err && code === null ? String(err.message) : '') });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

async function ip(argv: readonly string[]): Promise<void> {
  const r = await run(IP, argv);
  if (r.code !== 0) throw new Error(`ip ${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
}

/**
 * Throws, saying exactly why, when this machine cannot run the namespace tests. Tests call it
 * in beforeAll, so they FAIL with the reason (never skip, never pass without running).
 */
export async function requireNetns(): Promise<void> {
  const why = (reason: string): Error =>
    new Error(
      `cannot create network namespaces: ${reason}. The gateway firewall tests run nftables in network namespaces they create; ` +
        'they need root (CAP_SYS_ADMIN and CAP_NET_ADMIN), `ip netns` (iproute2), nft (nftables) and tc, as .ci/run installs them.',
    );
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw why(`not root (uid ${process.getuid()})`);
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['tc', 'iproute2'],
    ['nft', 'nftables'],
    ['ping', 'iputils-ping'],
  ] as const) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(`${d}/${bin}`)))
      throw why(`${bin} is not installed (apt-get install ${pkg})`);
  }
  const probe = `${LAB_PREFIX}-${process.pid}-probe${randomBytes(2).toString('hex')}`;
  const r = await run(IP, ['netns', 'add', probe]);
  if (r.code !== 0) throw why(`\`ip netns add\` failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  await run(IP, ['netns', 'del', probe]);
}

async function listNamespaces(): Promise<string[]> {
  const r = await run(IP, ['-j', 'netns', 'list']);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function killInside(ns: string): Promise<void> {
  const r = await run(IP, ['netns', 'pids', ns]);
  for (const p of r.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function deleteNamespace(ns: string): Promise<void> {
  await killInside(ns);
  await run(IP, ['netns', 'del', ns]);
}

/** Namespaces of this prefix left by a process that no longer exists. */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((n) => {
    const m = new RegExp(`^${LAB_PREFIX}-(\\d+)-`).exec(n);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const n of stale) await deleteNamespace(n);
  return stale;
}

export const LAN_PREFIX = '10.88';
export const GATEWAY_LAN_IP = '10.88.0.1';
export const GATEWAY_WAN_IP = '10.99.0.1';
export const UPSTREAM_IP = '10.99.0.2';

export async function createLab(opts: { clients?: number } = {}): Promise<NetnsLab> {
  const count = opts.clients ?? 2;
  await sweepStaleNamespaces();
  const id = `${LAB_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const gw = `${id}-gw`;
  const up = `${id}-up`;
  const clients: LabClient[] = Array.from({ length: count }, (_, i) => ({
    ns: `${id}-c${i}`,
    ip: `${LAN_PREFIX}.0.${10 + i}`,
    mac: `02:4C:47:00:00:${(10 + i).toString(16).toUpperCase().padStart(2, '0')}`,
  }));
  const all = [gw, up, ...clients.map((c) => c.ns)];
  const children = new Set<ChildProcess>();

  const exec: NetnsLab['exec'] = (ns, argv, o) => run(IP, ['netns', 'exec', ns, ...argv], o);

  const destroy = async (): Promise<void> => {
    for (const c of children) c.kill('SIGKILL');
    children.clear();
    for (const ns of all) await deleteNamespace(ns);
  };

  try {
    for (const ns of all) {
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await ip(['-n', gw, 'link', 'add', 'lan0', 'type', 'bridge']);
    await ip(['-n', gw, 'addr', 'add', `${GATEWAY_LAN_IP}/16`, 'dev', 'lan0']);
    await ip(['-n', gw, 'link', 'set', 'lan0', 'up']);
    for (const [i, c] of clients.entries()) {
      await ip(['-n', c.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `lanp${i}`, 'netns', gw]);
      await ip(['-n', gw, 'link', 'set', `lanp${i}`, 'master', 'lan0', 'up']);
      await ip(['-n', c.ns, 'link', 'set', 'eth0', 'address', c.mac.toLowerCase()]);
      await ip(['-n', c.ns, 'addr', 'add', `${c.ip}/16`, 'dev', 'eth0']);
      await ip(['-n', c.ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', c.ns, 'route', 'add', 'default', 'via', GATEWAY_LAN_IP]);
    }
    await ip(['-n', gw, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', up]);
    await ip(['-n', gw, 'addr', 'add', `${GATEWAY_WAN_IP}/24`, 'dev', 'wan0']);
    await ip(['-n', gw, 'link', 'set', 'wan0', 'up']);
    await ip(['-n', up, 'addr', 'add', `${UPSTREAM_IP}/24`, 'dev', 'eth0']);
    await ip(['-n', up, 'link', 'set', 'eth0', 'up']);
    // Per-namespace sysctl, written from inside the gateway namespace (coreutils, always there).
    const fwd = await exec(gw, ['tee', '/proc/sys/net/ipv4/ip_forward'], { input: '1\n' });
    if (fwd.code !== 0) throw new Error(`cannot enable forwarding in ${gw}: ${fwd.stderr}`);
  } catch (err) {
    await destroy();
    throw err;
  }

  const lab: NetnsLab = {
    gateway: { ns: gw, lan: 'lan0', wan: 'wan0', lanIp: GATEWAY_LAN_IP, wanIp: GATEWAY_WAN_IP },
    upstream: { ns: up, ip: UPSTREAM_IP },
    clients,
    exec,
    async client(ns, args, timeoutMs = 30000) {
      const r = await exec(ns, [process.execPath, '-e', PROGRAMS.client, ...args.map(String)], { timeoutMs });
      const last = r.stdout.trim().split('\n').pop() ?? '';
      if (r.code !== 0 || !last.startsWith('{'))
        throw new Error(`client ${args.join(' ')} in ${ns} failed (${r.code}): ${r.stderr.trim()} ${r.stdout.trim()}`);
      return JSON.parse(last);
    },
    serve(ns, program, args) {
      return new Promise((resolve, reject) => {
        const child = spawn(IP, ['netns', 'exec', ns, process.execPath, '-e', program, ...args.map(String)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.add(child);
        const lines: string[] = [];
        let ready = false;
        let buf = '';
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          const parts = buf.split('\n');
          buf = parts.pop() ?? '';
          for (const line of parts) {
            if (!ready && line === 'READY') {
              ready = true;
              resolve({
                lines,
                stop: () =>
                  new Promise<void>((done) => {
                    if (child.exitCode !== null || child.signalCode !== null) return done();
                    child.once('exit', () => done());
                    child.kill('SIGKILL');
                  }),
              });
            } else if (ready) lines.push(line);
          }
        });
        child.on('exit', (code) => {
          children.delete(child);
          if (!ready) reject(new Error(`server in ${ns} exited (${code}) before it was ready: ${err.trim()}`));
        });
      });
    },
    async ping(ns, target) {
      const r = await exec(ns, ['ping', '-n', '-c', '1', '-W', '1', target], { timeoutMs: 5000 });
      return r.code === 0;
    },
    async routeBack(on) {
      await ip(['-n', up, 'route', on ? 'replace' : 'del', `${LAN_PREFIX}.0.0/16`, 'via', GATEWAY_WAN_IP]);
    },
    destroy,
  };
  return lab;
}

/**
 * Node programs run inside the namespaces with `node -e` (plain JavaScript, nothing to build).
 * Servers print READY when they listen, then one JSON line per event.
 */
export const PROGRAMS = {
  /**
   * TCP traffic server, args: port. A connection starts with one line:
   *   "PUT\n" then data: it counts the data and, at the client's end, answers
   *           {"bytes", "ms" (first to last byte), "peer"} and closes;
   *   "GET n\n": it sends n bytes and closes;
   *   "GETFOR s\n": it sends as fast as it can for s seconds and closes.
   */
  trafficServer: String.raw`
const net = require('net');
const [port] = process.argv.slice(1);
const chunk = Buffer.alloc(65536, 120);
net.createServer((s) => {
  s.on('error', () => {});
  let head = Buffer.alloc(0);
  let mode = null, bytes = 0, first = 0n, last = 0n;
  s.on('data', (d) => {
    if (mode === null) {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      const line = head.subarray(0, nl).toString();
      d = head.subarray(nl + 1);
      if (line === 'PUT') mode = 'put';
      else if (line.startsWith('GET ') || line.startsWith('GETFOR ')) {
        mode = 'get';
        const timed = line.startsWith('GETFOR ');
        let left = timed ? Infinity : Number(line.slice(4));
        const until = timed ? Date.now() + Number(line.slice(7)) * 1000 : Infinity;
        const pump = () => {
          while (left > 0 && Date.now() < until) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
          }
          s.end();
        };
        pump();
        return;
      } else { s.destroy(); return; }
    }
    if (mode === 'put' && d.length > 0) {
      const now = process.hrtime.bigint();
      if (bytes === 0) first = now;
      bytes += d.length;
      last = now;
    }
  });
  s.on('end', () => {
    if (mode === 'put') s.end(JSON.stringify({ bytes, ms: Number(last - first) / 1e6, peer: s.remoteAddress }) + '\n');
  });
}).listen(Number(port), () => console.log('READY'));
`,

  /** HTTP server, args: port name. Answers {"server": name, "peer": remote address, "host": Host header}. */
  httpServer: String.raw`
const http = require('http');
const [port, name] = process.argv.slice(1);
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ server: name, peer: req.socket.remoteAddress, host: req.headers.host || null }));
}).listen(Number(port), () => console.log('READY'));
`,

  /**
   * A DNS server (UDP), args: port then name=ipv4 pairs. Answers A questions for those names
   * (TTL 60), NXDOMAIN for any other; prints {"name", "peer"} per question.
   */
  dnsServer: String.raw`
const dgram = require('dgram');
const [port, ...pairs] = process.argv.slice(1);
const table = new Map(pairs.map((p) => p.split('=')));
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  if (m.length < 17) return;
  let i = 12; const labels = [];
  while (i < m.length && m[i] !== 0) { labels.push(m.subarray(i + 1, i + 1 + m[i]).toString()); i += m[i] + 1; }
  const qEnd = i + 5;
  const name = labels.join('.').toLowerCase();
  const qtype = m.readUInt16BE(i + 1);
  const ip = table.get(name);
  const answer = ip && qtype === 1;
  const head = Buffer.alloc(12);
  m.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180 | (ip ? 0 : 3), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answer ? 1 : 0, 6);
  const parts = [head, m.subarray(12, qEnd)];
  if (answer) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(60, 6); rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((o, k) => (rr[12 + k] = Number(o)));
    parts.push(rr);
  }
  console.log(JSON.stringify({ name, peer: r.address }));
  s.send(Buffer.concat(parts), r.port, r.address);
});
s.bind(Number(port), () => console.log('READY'));
`,

  /** UDP echo, args: port. Prints {"peer"} per datagram and sends it back. */
  udpEcho: String.raw`
const dgram = require('dgram');
const [port] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => { console.log(JSON.stringify({ peer: r.address })); s.send(m, r.port, r.address); });
s.bind(Number(port), () => console.log('READY'));
`,

  /**
   * One-shot client, prints one JSON line:
   *   connect host port timeoutMs  -> {"result": "connected" | "refused" | "timeout" | error code}
   *   put host port bytes          -> {"sent", "server": <the server's answer>}
   *   put-for host port seconds    -> the same, sending as fast as it can for that long
   *   get host port bytes          -> {"bytes", "ms" (first to last byte)}
   *   get-for host port seconds    -> the same, the server sending for that long
   *   http host port               -> {"status", "body"} or {"error"}
   *   udp host port timeoutMs      -> {"reply": true | false}
   *   dns server name              -> {"addresses"} (A records through that server) or {"error"}
   *   fetch method url [form]      -> {"status", "location", "body"} or {"error"} (form: a=b&c=d)
   */
  client: String.raw`
const net = require('net'), http = require('http'), dgram = require('dgram');
const [action, host, portText, arg] = process.argv.slice(1);
const port = Number(portText);
const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
if (action === 'connect') {
  const s = net.connect({ host, port });
  const t = setTimeout(() => { s.destroy(); out({ result: 'timeout' }); }, Number(arg));
  s.on('connect', () => { clearTimeout(t); s.destroy(); out({ result: 'connected' }); });
  s.on('error', (e) => { clearTimeout(t); out({ result: e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : e.code }); });
} else if (action === 'put' || action === 'put-for') {
  const timed = action === 'put-for';
  let left = timed ? Infinity : Number(arg);
  let total = 0;
  const until = timed ? Date.now() + Number(arg) * 1000 : Infinity;
  const chunk = Buffer.alloc(65536, 121);
  const s = net.connect({ host, port }, () => {
    s.write('PUT\n');
    const pump = () => {
      while (left > 0 && Date.now() < until) {
        const n = Math.min(left, chunk.length);
        left -= n;
        total += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  let reply = '';
  s.on('data', (d) => (reply += d));
  s.on('end', () => out({ sent: total, server: JSON.parse(reply) }));
  s.on('error', (e) => out({ error: e.code }));
} else if (action === 'get' || action === 'get-for') {
  let bytes = 0, first = 0n, last = 0n;
  const s = net.connect({ host, port }, () => s.write((action === 'get' ? 'GET ' : 'GETFOR ') + arg + '\n'));
  s.on('data', (d) => { const now = process.hrtime.bigint(); if (bytes === 0) first = now; bytes += d.length; last = now; });
  s.on('end', () => out({ bytes, ms: Number(last - first) / 1e6 }));
  s.on('error', (e) => out({ error: e.code }));
} else if (action === 'http') {
  const req = http.get({ host, port, path: '/', timeout: 3000 }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => out({ status: res.statusCode, body }));
  });
  req.on('timeout', () => { req.destroy(); out({ error: 'timeout' }); });
  req.on('error', (e) => out({ error: e.code }));
} else if (action === 'udp') {
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => out({ reply: false }), Number(arg));
  s.on('message', () => { clearTimeout(t); out({ reply: true }); });
  s.on('error', () => { clearTimeout(t); out({ reply: false }); });
  s.send(Buffer.from('lango'), port, host);
} else if (action === 'dns') {
  const r = new (require('dns').promises.Resolver)({ timeout: 2000, tries: 1 });
  r.setServers([host]);
  r.resolve4(portText).then((addresses) => out({ addresses }), (e) => out({ error: e.code }));
} else if (action === 'fetch') {
  const [, method, url, form] = process.argv.slice(1);
  const body = form === undefined ? undefined : Buffer.from(form);
  const req = http.request(url, { method, timeout: 5000, headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } : {} }, (res) => {
    let text = '';
    res.on('data', (d) => (text += d));
    res.on('end', () => out({ status: res.statusCode, location: res.headers.location || null, body: text }));
  });
  req.on('timeout', () => { req.destroy(); out({ error: 'timeout' }); });
  req.on('error', (e) => out({ error: e.code }));
  req.end(body);
} else {
  console.error('unknown action ' + action);
  process.exit(2);
}
`,
};
