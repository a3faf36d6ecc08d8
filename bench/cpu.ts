/**
 * CPU time spent by FreeRADIUS and by the Postgres backends serving one database during a phase
 * (utime + stime from /proc, as the lab's cpu.sh did). Only on Linux with Postgres on this
 * machine; otherwise every sample is undefined and the report leaves the rows out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU ms of a process (all threads), or undefined if it cannot be read. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Busy and total CPU ms of the whole machine (all CPUs) from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user/nice).
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: ((total - idle) * 1000) / clockTicks(), total: (total * 1000) / clockTicks() };
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  server: number | undefined;
  backends: Map<number, number>;
  /** Backend pid -> application_name (or role when it has none). */
  clients: Map<number, string>;
  self: number | undefined;
  machine: { busy: number; total: number } | undefined;
}

export interface CpuDelta {
  /** CPU ms used by the FreeRADIUS process. */
  freeradiusMs: number | undefined;
  /** CPU ms used by the Postgres backends connected to the benchmark database. */
  postgresMs: number | undefined;
  /** postgresMs per client (application_name, or the role when a client sets none). */
  postgresByClient: Record<string, number>;
  /** CPU ms used by this Node process (the load generator). */
  clientMs: number | undefined;
  /**
   * Share of the machine's CPU time (all CPUs) used by everything else meanwhile: other
   * processes, Postgres background work, the kernel. High values mean a noisy measurement.
   */
  otherPct: number | undefined;
}

function isLocal(url: string): boolean {
  const h = new URL(url).hostname;
  return h === '127.0.0.1' || h === 'localhost' || h === '::1' || h === '[::1]' || h === '';
}

/** Samples the FreeRADIUS process and every backend of `databaseUrl`'s database. */
export class CpuMeter {
  private readonly local: boolean;
  constructor(
    private readonly admin: Client,
    private readonly database: string,
    databaseUrl: string,
  ) {
    this.local = isLocal(databaseUrl) && process.platform === 'linux';
  }

  private async backendPids(): Promise<Array<{ pid: number; client: string }>> {
    const r = await this.admin.query<{ pid: number; client: string }>(
      `SELECT pid, coalesce(nullif(application_name, ''), usename::text) AS client FROM pg_stat_activity WHERE datname = $1`,
      [this.database],
    );
    return r.rows.map((x) => ({ pid: Number(x.pid), client: x.client }));
  }

  async sample(serverPid: number): Promise<CpuSample> {
    const backends = new Map<number, number>();
    const clients = new Map<number, string>();
    if (this.local) {
      for (const { pid, client } of await this.backendPids()) {
        const ms = cpuMs(pid);
        if (ms !== undefined) backends.set(pid, ms);
        clients.set(pid, client);
      }
    }
    return { server: cpuMs(serverPid), backends, clients, self: cpuMs(process.pid), machine: machineCpuMs() };
  }

  async delta(before: CpuSample, serverPid: number): Promise<CpuDelta> {
    const after = await this.sample(serverPid);
    let pg = 0;
    const postgresByClient: Record<string, number> = {};
    for (const [pid, ms] of after.backends) {
      const d = ms - (before.backends.get(pid) ?? 0);
      pg += d;
      const client = after.clients.get(pid) ?? 'unknown';
      postgresByClient[client] = (postgresByClient[client] ?? 0) + d;
    }
    const freeradiusMs =
      before.server !== undefined && after.server !== undefined ? after.server - before.server : undefined;
    const postgresMs = this.local && after.backends.size > 0 ? pg : undefined;
    const clientMs = before.self !== undefined && after.self !== undefined ? after.self - before.self : undefined;
    let otherPct: number | undefined;
    if (
      before.machine &&
      after.machine &&
      freeradiusMs !== undefined &&
      postgresMs !== undefined &&
      clientMs !== undefined
    ) {
      const total = after.machine.total - before.machine.total;
      const busy = after.machine.busy - before.machine.busy;
      if (total > 0) otherPct = Math.max(0, ((busy - freeradiusMs - postgresMs - clientMs) / total) * 100);
    }
    return { freeradiusMs, postgresMs, postgresByClient, clientMs, otherPct };
  }
}
