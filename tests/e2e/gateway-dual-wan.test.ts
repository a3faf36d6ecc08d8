/**
 * The README's dual-WAN commands (deploy/gateway/dual-wan.sh) run for real in network
 * namespaces: a gateway namespace with two uplinks (wan1, wan2) to two upstream namespaces,
 * each holding the same "internet" address 203.0.113.1 with a web server that says which
 * upstream it is. `up` balances connections over both, `check` drops an uplink whose router no
 * longer answers and takes it back when it does. Without namespaces the test fails saying so.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { IP, LAB_PREFIX, PROGRAMS, requireNetns, sweepStaleNamespaces } from '../helpers/netns';

jest.setTimeout(120_000);

const exec = promisify(execFile);
const SCRIPT = path.resolve(__dirname, '../../deploy/gateway/dual-wan.sh');
const INTERNET = '203.0.113.1';
const id = `${LAB_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
const NS = { gw: `${id}-gw`, u1: `${id}-u1`, u2: `${id}-u2` };
const ENV = {
  WAN1_DEV: 'wan1',
  WAN1_ADDR: '10.101.0.1',
  WAN1_GW: '10.101.0.2',
  WAN2_DEV: 'wan2',
  WAN2_ADDR: '10.102.0.1',
  WAN2_GW: '10.102.0.2',
};
const created: string[] = [];
const servers: Array<{ kill(): void }> = [];

const ip = async (...args: string[]): Promise<string> => (await exec(IP, args)).stdout;
const inNs = async (ns: string, argv: string[], env: Record<string, string> = {}) =>
  exec(IP, ['netns', 'exec', ns, ...argv], { env: { ...process.env, ...env } });
const script = async (cmd: 'up' | 'check' | 'down') => (await inNs(NS.gw, ['sh', SCRIPT, cmd], ENV)).stdout.trim();

/** The uplink the kernel picks for TCP connections from 32 different source ports. */
async function uplinks(): Promise<Set<string>> {
  const devs = new Set<string>();
  for (let sport = 40000; sport < 40032; sport++) {
    const out = (
      await inNs(NS.gw, ['ip', 'route', 'get', INTERNET, 'ipproto', 'tcp', 'sport', String(sport), 'dport', '80'])
    ).stdout;
    devs.add(/ dev (\S+)/.exec(out)![1]!);
  }
  return devs;
}

/** Which upstream answers a web request from the gateway (a new connection each time). */
async function answeredBy(): Promise<string> {
  const { stdout } = await inNs(NS.gw, [process.execPath, '-e', PROGRAMS.client, 'http', INTERNET, '80']);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { body?: string; error?: string };
  if (!r.body) throw new Error(`no answer from ${INTERNET}: ${r.error}`);
  return (JSON.parse(r.body) as { server: string }).server;
}

beforeAll(async () => {
  await requireNetns();
  await sweepStaleNamespaces();
  for (const ns of Object.values(NS)) {
    await ip('netns', 'add', ns);
    created.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  for (const [n, up] of [
    [1, NS.u1],
    [2, NS.u2],
  ] as const) {
    await ip('-n', NS.gw, 'link', 'add', `wan${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', up);
    await ip('-n', NS.gw, 'addr', 'add', `10.10${n}.0.1/24`, 'dev', `wan${n}`);
    await ip('-n', NS.gw, 'link', 'set', `wan${n}`, 'up');
    await ip('-n', up, 'addr', 'add', `10.10${n}.0.2/24`, 'dev', 'eth0');
    await ip('-n', up, 'link', 'set', 'eth0', 'up');
    await ip('-n', up, 'addr', 'add', `${INTERNET}/32`, 'dev', 'lo');
    const server = execFile(IP, ['netns', 'exec', up, process.execPath, '-e', PROGRAMS.httpServer, '80', `u${n}`]);
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
      server.on('exit', (code) => reject(new Error(`web server in ${up} exited (${code})`)));
    });
  }
});

afterAll(async () => {
  for (const s of servers) s.kill();
  for (const ns of created) await ip('netns', 'del', ns).catch(() => undefined);
});

it('up: both uplinks carry connections; replies from an uplink address leave by it', async () => {
  await script('up');
  expect(await uplinks()).toEqual(new Set(['wan1', 'wan2']));
  const seen = new Set<string>();
  for (let i = 0; i < 24 && seen.size < 2; i++) seen.add(await answeredBy());
  expect(seen).toEqual(new Set(['u1', 'u2']));
  for (const [addr, dev] of [
    [ENV.WAN1_ADDR, 'wan1'],
    [ENV.WAN2_ADDR, 'wan2'],
  ]) {
    const out = (await inNs(NS.gw, ['ip', 'route', 'get', INTERNET, 'from', addr!])).stdout;
    expect(out).toContain(`dev ${dev}`);
  }
});

it('check: an uplink whose router stops answering is dropped, and taken back when it answers again', async () => {
  await script('up');
  expect(await script('check')).toBe('dual-wan: both uplinks');
  // The first uplink's router goes away (its link stays up: the case a carrier check misses).
  await ip('-n', NS.u1, 'addr', 'del', `${ENV.WAN1_GW}/24`, 'dev', 'eth0');
  expect(await script('check')).toBe('dual-wan: wan2 only');
  expect(await uplinks()).toEqual(new Set(['wan2']));
  for (let i = 0; i < 6; i++) expect(await answeredBy()).toBe('u2');
  await ip('-n', NS.u1, 'addr', 'add', `${ENV.WAN1_GW}/24`, 'dev', 'eth0');
  expect(await script('check')).toBe('dual-wan: both uplinks');
  expect(await uplinks()).toEqual(new Set(['wan1', 'wan2']));
  await script('down');
  expect(await uplinks()).toEqual(new Set(['wan1']));
});
