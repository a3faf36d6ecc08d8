/**
 * `lango simulate nas`: the NAS simulator (src/simulate/nas-simulator.ts) on the command line,
 * for demos: logs users in through FreeRADIUS, sends interim updates, and answers the worker's
 * CoA/Disconnect-Requests, printing one line per event.
 */
import type { Logger } from 'pino';
import { startNasSimulator, type NasSimulatorMode } from '../simulate/nas-simulator';
import { startHotspot, type Hotspot } from '../simulate/hotspot';
import { UsageError, type Parsed } from './args';

function opt(p: Parsed, name: string): string | undefined {
  const v = p.options[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function port(p: Parsed, name: string, dflt: number): number {
  const raw = opt(p, name);
  const n = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be a port number`);
  return n;
}

export interface SimulateNasDefaults {
  authPort: number;
  acctPort: number;
}

export async function simulateNas(
  p: Parsed,
  defaults: SimulateNasDefaults,
  logger: Logger,
  until: Promise<void>,
): Promise<number> {
  const secret = opt(p, 'secret');
  if (!secret) throw new UsageError('--secret is required (the NAS secret registered in Lango)');
  const mode = (opt(p, 'mode') ?? 'normal') as NasSimulatorMode;
  if (!['normal', 'silent', 'garbage'].includes(mode)) throw new UsageError('--mode must be normal, silent or garbage');
  const address = opt(p, 'address') ?? '127.0.0.1';
  const interim = Number(opt(p, 'interim') ?? 0);
  if (!Number.isFinite(interim) || interim < 0) throw new UsageError('--interim must be a number of seconds');
  const out = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);

  const sim = await startNasSimulator({
    radius: {
      host: opt(p, 'radius') ?? '127.0.0.1',
      authPort: port(p, 'auth-port', defaults.authPort),
      acctPort: port(p, 'acct-port', defaults.acctPort),
      secret,
    },
    coa: { host: address, port: port(p, 'coa-port', 3799) },
    bindAddress: address,
    ...(opt(p, 'nas-identifier') ? { nasIdentifier: opt(p, 'nas-identifier') } : {}),
    mode,
    respondDelayMs: Number(opt(p, 'respond-delay-ms') ?? 0),
    logger: logger.child({ module: 'nas-simulator' }),
  });
  out(`NAS simulator ${address}: CoA/Disconnect on ${sim.coaAddress}:${sim.coaPort}, mode ${mode}`);
  let hotspot: Hotspot | undefined;
  if (opt(p, 'hotspot-port') !== undefined) {
    const portal = opt(p, 'hotspot-portal');
    if (portal !== undefined && !/^https?:\/\/[^\s"<>]+$/.test(portal))
      throw new UsageError('--hotspot-portal must be an http(s) URL');
    hotspot = await startHotspot({
      nas: sim,
      host: address,
      port: port(p, 'hotspot-port', 0),
      ...(portal ? { portalUrl: portal } : {}),
    });
    out(`hotspot login page on ${hotspot.loginUrl}${portal ? ` (external portal ${portal})` : ''}`);
  }

  for (const pair of (opt(p, 'login') ?? '').split(',').filter(Boolean)) {
    const i = pair.indexOf(':');
    if (i <= 0) throw new UsageError('--login takes user:password[,user:password...]');
    const r = await sim.login(pair.slice(0, i), pair.slice(i + 1));
    const attrs = r.reply.map((a) =>
      'name' in a ? `${a.name}=${Buffer.isBuffer(a.value) ? a.value.toString('hex') : String(a.value)}` : `#${a.type}`,
    );
    out(
      r.accepted
        ? `login ${pair.slice(0, i)}: accepted, session ${r.session?.acctSessionId} ip ${r.session?.framedIp} [${attrs.join(' ')}]`
        : `login ${pair.slice(0, i)}: rejected [${attrs.join(' ')}]`,
    );
  }

  let seen = 0;
  const events = setInterval(() => {
    for (; seen < sim.received.length; seen++) {
      const e = sim.received[seen]!;
      const what = e.attributes
        .map((a) => ('name' in a && a.name !== 'Message-Authenticator' ? `${a.name}=${String(a.value)}` : ''))
        .filter(Boolean)
        .join(' ');
      const answer = e.answer
        ? `${e.answer.codeName}${e.answer.errorCause ? ` (Error-Cause ${e.answer.errorCause})` : ''}`
        : e.verdict;
      out(
        `${e.codeName} from ${e.from.address}:${e.from.port}${e.duplicate ? ' (retransmission)' : ''} -> ${answer} [${what}]`,
      );
    }
  }, 200);
  let bytes = 0;
  const interims =
    interim > 0
      ? setInterval(() => {
          bytes += 1_000_000;
          for (const s of sim.sessions()) {
            sim.interim(s.acctSessionId, { inputOctets: bytes, outputOctets: bytes * 4 }).then(
              () => out(`interim ${s.userName} ${s.acctSessionId}: ${bytes * 5} bytes`),
              (err: unknown) => out(`interim ${s.acctSessionId} failed: ${(err as Error).message}`),
            );
          }
        }, interim * 1000)
      : undefined;

  await until;
  clearInterval(events);
  if (interims) clearInterval(interims);
  await hotspot?.close();
  await sim.close();
  return 0;
}
