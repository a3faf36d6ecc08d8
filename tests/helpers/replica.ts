/**
 * A PostgreSQL primary and a streaming replica of it, for the test that reports can be read
 * from a replica (LANGO_REPORTS_DATABASE_URL): initdb of a fresh cluster, pg_basebackup -R of it
 * into a second data directory, both started with pg_ctl on free loopback ports, as the
 * postgres OS user when the tests run as root. Uses the PostgreSQL binaries of the machine
 * (PG_BINDIR, else /usr/lib/postgresql/<newest>/bin): pg_basebackup must match the server.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeTcpPort } from './ports';

const run = promisify(execFile);

export function postgresBindir(): string | undefined {
  if (process.env.PG_BINDIR && existsSync(path.join(process.env.PG_BINDIR, 'pg_basebackup')))
    return process.env.PG_BINDIR;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

export interface Replicated {
  primaryUrl: string;
  replicaUrl: string;
  /** Waits until the replica has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

const PASSWORD = 'replica-test-password';

export async function startPrimaryAndReplica(): Promise<Replicated> {
  const bindir = postgresBindir();
  if (!bindir) throw new Error('no PostgreSQL binaries with pg_basebackup (set PG_BINDIR)');
  const root = process.getuid?.() === 0;
  let ids: { uid: number; gid: number } | undefined;
  if (root) {
    const [u, g] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    ids = { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lango-replica-'));
  await chmod(dir, 0o755);
  if (ids) await chown(dir, ids.uid, ids.gid);
  const as = { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C', PGPASSWORD: PASSWORD }, cwd: dir };
  const bin = (b: string) => path.join(bindir, b);
  const primaryDir = path.join(dir, 'primary');
  const replicaDir = path.join(dir, 'replica');
  const pwfile = path.join(dir, 'pw');
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (ids) await chown(pwfile, ids.uid, ids.gid);
  await run(
    bin('initdb'),
    ['-D', primaryDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C'],
    as,
  );
  const [p1, p2] = [await freeTcpPort(), await freeTcpPort()];
  const start = (data: string, port: number) =>
    run(
      bin('pg_ctl'),
      [
        '-D',
        data,
        '-w',
        '-t',
        '60',
        '-l',
        path.join(dir, `${path.basename(data)}.log`),
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`,
        'start',
      ],
      as,
    );
  const stop = (data: string) =>
    run(bin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], as).catch(() => undefined);
  await start(primaryDir, p1);
  const primaryUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${p1}/postgres`;
  try {
    await run(
      bin('pg_basebackup'),
      ['-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast', '-d', `host=127.0.0.1 port=${p1} user=postgres`],
      as,
    );
    await start(replicaDir, p2);
  } catch (err) {
    await stop(primaryDir);
    throw err;
  }
  const replicaUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${p2}/postgres`;
  const { Client } = await import('pg');
  const query = async (url: string, sql: string) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql)).rows[0];
    } finally {
      await c.end();
    }
  };
  return {
    primaryUrl,
    replicaUrl,
    async caughtUp() {
      const { lsn } = await query(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
      for (let i = 0; i < 600; i++) {
        const r = await query(replicaUrl, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS ok`);
        if (r.ok) return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('the replica did not catch up within 30 s');
    },
    async stop() {
      await stop(replicaDir);
      await stop(primaryDir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
