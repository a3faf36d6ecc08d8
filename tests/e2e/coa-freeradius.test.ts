/**
 * FreeRADIUS 3.2 as an independent NAS for Lango's RFC 5176 client: a small raddb written to a
 * temp dir with one client (127.0.0.1, require_message_authenticator = yes) and a
 * `listen { type = coa }` server whose recv-coa logs every packet to a detail file, ACKs
 * Acct-Session-Id "known-session-1" and NAKs anything else with Error-Cause
 * Session-Context-Not-Found. FreeRADIUS checks the Request Authenticator and the
 * Message-Authenticator: code nobody here wrote judges our packets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RadiusClient } from '../../src/radius/client';
import { PacketCode } from '../../src/radius/codec';
import { RadiusTimeoutError } from '../../src/radius/errors';
import { DynAuthClient, type DynAuthTarget } from '../../src/radius/dynauth-client';
import { pickFreeUdpPort } from '../helpers/ports';

jest.setTimeout(60000);

const SECRET = 'e2e-coa-s3cret';
const KNOWN = 'known-session-1';
/** 2 transmissions, 300 + 600 ms: enough on loopback, short for the timeout cases. */
const SCHEDULE = { irt: 0.3, mrt: 0, mrc: 1, mrd: 0 };

function raddb(port: number): Record<string, string> {
  const radiusd = `# Minimal FreeRADIUS acting as a NAS's CoA/Disconnect receiver (Lango e2e test).
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = \${exec_prefix}/sbin
logdir = \${confdir}/var/log
radacctdir = \${logdir}/radacct
name = freeradius
modconfdir = \${confdir}/mods-config
run_dir = \${confdir}/var/run
db_dir = \${confdir}/var
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/\${name}.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no

log {
	destination = files
	colourise = no
	file = \${logdir}/radius.log
}

security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}

proxy_requests = no

$INCLUDE clients.conf

thread pool {
	start_servers = 2
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
}

modules {
	$INCLUDE mods-enabled/
}

$INCLUDE sites-enabled/
`;
  const clients = `client lango {
	ipaddr = 127.0.0.1
	secret = "${SECRET}"
	# Packets without a (correct) Message-Authenticator are dropped.
	require_message_authenticator = yes
}
`;
  const always = `always ok {
	rcode = ok
}
always reject {
	rcode = reject
}
`;
  const detail = `detail coa_log {
	filename = \${logdir}/coa-received.detail
	escape_filenames = no
	permissions = 0600
	header = "%t"
	locking = no
}
`;
  const site = `server coa-nas {
	listen {
		type = coa
		ipaddr = 127.0.0.1
		port = ${port}
	}
	recv-coa {
		coa_log
		if (&Acct-Session-Id && &Acct-Session-Id == "${KNOWN}") {
			ok
		}
		else {
			update reply {
				&Error-Cause := Session-Context-Not-Found
			}
			reject
		}
	}
	send-coa {
		ok
	}
}
`;
  return {
    'radiusd.conf': radiusd,
    'clients.conf': clients,
    'mods-enabled/always': always,
    'mods-enabled/detail': detail,
    'sites-enabled/coa-nas': site,
  };
}

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly output: string[];
  readonly exited: Promise<void>;
}

async function startFreeRadius(dir: string): Promise<Running> {
  const binary = process.env.LANGO_FREERADIUS_BIN ?? 'freeradius';
  let lastOutput: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await pickFreeUdpPort('127.0.0.1');
    for (const [name, text] of Object.entries(raddb(port))) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), text, { mode: 0o600 });
    }
    await mkdir(path.join(dir, 'var/log'), { recursive: true });
    await mkdir(path.join(dir, 'var/run'), { recursive: true });
    const output: string[] = [];
    const child = spawn(binary, ['-f', '-l', 'stdout', '-d', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15000);
      const onData = (chunk: Buffer): void => {
        output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        if (output.some((l) => l.includes('Ready to process requests'))) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        output.push(String(err));
        clearTimeout(timer);
        resolve(false);
      });
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) return { child, port, output, exited };
    child.kill('SIGKILL');
    await exited;
    lastOutput = output;
  }
  throw new Error(`FreeRADIUS did not start:\n${lastOutput.join('\n')}`);
}

/** The detail file as packet blocks (attribute lines of one received packet each). */
async function detailBlocks(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, 'var/log/coa-received.detail'), 'utf8').catch(() => '');
  return text.split(/\n\s*\n/).filter((b) => b.trim() !== '');
}

let dir: string;
let fr: Running;
let target: DynAuthTarget;
const client = new DynAuthClient({ schedule: SCHEDULE });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lango-coa-e2e-'));
  fr = await startFreeRadius(dir);
  target = { host: '127.0.0.1', port: fr.port, secret: SECRET };
});

afterAll(async () => {
  await client.close();
  if (fr && fr.child.exitCode === null && fr.child.signalCode === null) {
    fr.child.kill('SIGTERM');
    const killer = setTimeout(() => fr.child.kill('SIGKILL'), 10000);
    await fr.exited;
    clearTimeout(killer);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('DynAuthClient against FreeRADIUS as the NAS', () => {
  it('Disconnect-Request for a known session is ACKed', async () => {
    const res = await client.send(target, {
      kind: 'disconnect',
      userName: 'alice',
      acctSessionId: KNOWN,
      framedIpAddress: '10.5.50.20',
      nasIpAddress: '127.0.0.1',
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
  });

  it('CoA-Request with Mikrotik-Rate-Limit is ACKed; FreeRADIUS logged the VSA and our Message-Authenticator', async () => {
    const res = await client.send(target, {
      kind: 'coa',
      userName: 'alice',
      acctSessionId: KNOWN,
      framedIpAddress: '10.5.50.20',
      attributes: [{ name: 'Mikrotik-Rate-Limit', value: '2M/5M' }],
    });
    expect(res).toMatchObject({ outcome: 'ack', attempts: 1 });
    const block = (await detailBlocks(dir)).find((b) => b.includes('Packet-Type = CoA-Request') && b.includes('2M/5M'));
    expect(block).toBeDefined();
    expect(block).toContain('Mikrotik-Rate-Limit = "2M/5M"');
    expect(block).toMatch(/Message-Authenticator = 0x[0-9a-f]{32}/);
    expect(block).toContain('Event-Timestamp = ');
    expect(block).toContain(`Acct-Session-Id = "${KNOWN}"`);
    expect(block).toContain('Framed-IP-Address = 10.5.50.20');
  });

  it('an unknown session gets a NAK with Error-Cause 503', async () => {
    await expect(client.send(target, { kind: 'disconnect', acctSessionId: 'no-such-session' })).resolves.toMatchObject({
      outcome: 'nak',
      errorCause: 503,
      errorCauseName: 'Session-Context-Not-Found',
      attempts: 1,
    });
    await expect(
      client.send(target, { kind: 'coa', acctSessionId: 'no-such-session', attributes: [{ name: 'Mikrotik-Rate-Limit', value: '1M/1M' }] }),
    ).resolves.toMatchObject({ outcome: 'nak', errorCause: 503 });
  });

  it('a wrong secret is dropped by FreeRADIUS: timeout after the schedule', async () => {
    const res = await client.send({ ...target, secret: 'not-the-secret' }, { kind: 'disconnect', acctSessionId: KNOWN });
    expect(res).toMatchObject({ outcome: 'timeout', attempts: 2 });
  });

  it('FreeRADIUS really checks the Message-Authenticator: none, or a wrong one, is dropped', async () => {
    const raw = new RadiusClient({ host: '127.0.0.1', port: fr.port, secret: SECRET, retransmit: [400] });
    try {
      const ts = { name: 'Event-Timestamp', value: Math.floor(Date.now() / 1000) };
      const asid = { name: 'Acct-Session-Id', value: KNOWN };
      // Control: the same client with a Message-Authenticator is answered.
      await expect(raw.send(PacketCode.DisconnectRequest, [asid, ts], { addMessageAuthenticator: true })).resolves.toMatchObject({
        packet: { code: PacketCode.DisconnectAck },
      });
      await expect(raw.send(PacketCode.DisconnectRequest, [asid, ts], { addMessageAuthenticator: false })).rejects.toBeInstanceOf(
        RadiusTimeoutError,
      );
      // A raw type-80 attribute is sent as given (16 bytes of 0x42), under a valid Request Authenticator.
      await expect(
        raw.send(PacketCode.DisconnectRequest, [{ type: 80, raw: Buffer.alloc(16, 0x42) }, asid, ts]),
      ).rejects.toBeInstanceOf(RadiusTimeoutError);
    } finally {
      await raw.close();
    }
  });
});
