/**
 * LISTEN on the enforcement channel with one dedicated connection (a pooled knex connection
 * cannot hold a LISTEN). The connection is re-opened with backoff when Postgres restarts or the
 * network drops; `onReconnect` then runs, because notifications sent meanwhile are lost.
 */
import { Client } from 'pg';
import type { Logger } from 'pino';
import { retryDelay } from '../lib/retry-delay';

export interface Listener {
  /** Resolves once the first LISTEN succeeded (or right away if it failed: it keeps retrying). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function listen(
  databaseUrl: string,
  channel: string,
  handlers: { onNotify(payload: string): void; onReconnect(): void },
  logger: Logger,
): Listener {
  const log = logger.child({ module: 'enforcement-listener' });
  let client: Client | undefined;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const schedule = (): void => {
    if (closed || timer) return;
    const wait = retryDelay(failures, { capMs: 10_000, baseMs: 200 });
    failures++;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, wait);
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new Client({
      connectionString: databaseUrl,
      application_name: 'lango-worker-listen',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    client = c;
    let dead = false;
    const lost = (err?: Error): void => {
      if (dead) return;
      dead = true;
      if (!closed) log.warn({ err }, 'listen connection lost; reconnecting');
      c.end().catch(() => undefined);
      schedule();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      failures = 0;
      log.info({ channel }, 'listening');
      // Whatever was sent while we were not listening is looked at now.
      handlers.onReconnect();
      markReady();
    } catch (err) {
      markReady();
      lost(err as Error);
    }
  };

  void connect();
  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => undefined);
    },
  };
}
