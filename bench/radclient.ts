/**
 * FreeRADIUS's own radclient as an independent load client (lab notes section 5):
 *   radclient -f FILE -p 200 -s -q -t 5 -r 3 HOST:PORT auth SECRET
 * It reports no latency; we time the whole run and parse its packet summary.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { RadiusAttribute } from '../src/radius';
import { password, username } from './db';
import { authExtras } from './load';

export interface RadclientResult {
  requests: number;
  wallMs: number;
  perSecond: number;
  accepted: number;
  rejected: number;
  lost: number;
  exitCode: number | null;
  /** Non-summary output lines (errors), at most a few. */
  notes: string[];
}

/** Enumerated values (Wireless-802.11, Login-User), numbers and addresses bare; text quoted. */
const BARE = new Set(['NAS-Port-Type', 'Service-Type', 'NAS-IP-Address', 'Framed-IP-Address']);
function line(a: RadiusAttribute): string {
  if (!('name' in a)) throw new Error('raw attribute in a radclient file');
  const bare = typeof a.value === 'number' || BARE.has(a.name);
  return `${a.name} = ${bare ? String(a.value) : JSON.stringify(String(a.value))}`;
}

/** The same Access-Requests as the RadiusClient auth phase, in radclient's file format. */
export async function writeAuthFile(file: string, n: number, offset = 0): Promise<void> {
  const blocks: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i + offset;
    const attrs: RadiusAttribute[] = [
      { name: 'User-Name', value: username(k) },
      { name: 'User-Password', value: password(k) },
      ...authExtras(k),
    ];
    // Message-Authenticator as RouterOS 7.15+ sends it (and Lango's RadiusClient does in the other
    // phases); Lango's NAS require it by default.
    blocks.push([...attrs.map(line), 'Message-Authenticator = 0x00'].join('\n'));
  }
  await writeFile(file, `${blocks.join('\n\n')}\n`);
}

export async function runRadclient(
  file: string,
  n: number,
  host: string,
  port: number,
  secret: string,
  parallel = 200,
): Promise<RadclientResult> {
  const args = [
    '-f',
    file,
    '-p',
    String(parallel),
    '-s',
    '-q',
    '-t',
    '5',
    '-r',
    '3',
    `${host}:${port}`,
    'auth',
    secret,
  ];
  const t0 = performance.now();
  const child = spawn('radclient', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const wallMs = performance.now() - t0;
  const num = (label: string): number => Number(new RegExp(`${label}\\s*:\\s*(\\d+)`, 'i').exec(out)?.[1] ?? NaN);
  const accepted = num('Accepted');
  const notes = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Packet summary|Accepted|Rejected|Lost|Passed filter|Failed filter)/i.test(l))
    .slice(0, 5);
  return {
    requests: n,
    wallMs,
    perSecond: accepted / (wallMs / 1000),
    accepted,
    rejected: num('Rejected'),
    lost: num('Lost'),
    exitCode,
    notes,
  };
}
