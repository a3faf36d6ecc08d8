/**
 * Process heartbeats (table process_heartbeats, function lango_heartbeat): `lango worker` beats
 * while its loops run, `lango radius` while FreeRADIUS answers its status probe. /readyz reads
 * the newest beat of each kind and is not ready, saying why, when it is older than the allowed
 * age. Times are the database's (one clock for every machine).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { NotReady } from '../lib/errors';

export type HeartbeatKind = 'worker' | 'radius';

/** This process's instance name: host, pid and a random suffix (a restarted pid is a new one). */
export function heartbeatInstance(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export async function beat(db: Knex, kind: HeartbeatKind, instance: string): Promise<void> {
  await db.raw('SELECT lango_heartbeat(?, ?)', [kind, instance]);
}

/** A stopping process removes its row: no heartbeat at all is then the honest answer. */
export async function forgetHeartbeat(db: Knex, kind: HeartbeatKind, instance: string): Promise<void> {
  await db('process_heartbeats').where({ kind, instance }).del();
}

/** Throws NotReady (its message is shown by /readyz) when no process of `kind` beat within maxAgeSeconds. */
export async function checkHeartbeat(db: Knex, kind: HeartbeatKind, maxAgeSeconds: number): Promise<void> {
  const r = await db.raw(
    `SELECT max(beat_at) AS last, extract(epoch FROM now() - max(beat_at))::float8 AS age FROM process_heartbeats WHERE kind = ?`,
    [kind],
  );
  const { last, age } = r.rows[0] as { last: Date | null; age: number | null };
  if (last === null || age === null) throw new NotReady(`no ${kind} heartbeat: is lango ${kind} running?`);
  if (age > maxAgeSeconds)
    throw new NotReady(
      `${kind} heartbeat is stale: last at ${last.toISOString()}, ${Math.round(age)} s ago (allowed ${maxAgeSeconds} s)`,
    );
}
