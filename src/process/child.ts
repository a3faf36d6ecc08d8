/**
 * A server process Lango runs beside itself (FreeRADIUS, the embedded PostgreSQL): spawned in
 * its own process group, its stdout and stderr kept as a bounded ring of redacted lines, a
 * marker line to wait for, and a stop that escalates to SIGKILL.
 *
 * Own process group (detached): Ctrl-C in a terminal reaches only Lango, which then stops its
 * children in order, instead of every child getting SIGINT at once and exiting (which the
 * supervisor would take for a crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const RING_SIZE = 1000;
const ERROR_TAIL = 40;

/** Connection strings and passwords that a child may print are never kept. */
export class OutputRing {
  private readonly lines: string[] = [];
  private readonly partial = new Map<NodeJS.ReadableStream, string>();

  constructor(
    private readonly secrets: readonly string[],
    private readonly onLine: (line: string) => void,
  ) {}

  redact(line: string): string {
    let out = line;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out
      .replace(/password\s*=\s*'(?:[^'\\]|\\.)*'/gi, "password='[redacted]'")
      .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1[redacted]@');
  }

  attach(stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const text = (this.partial.get(stream) ?? '') + chunk;
      const parts = text.split(/\r?\n/);
      this.partial.set(stream, parts.pop() ?? '');
      for (const p of parts) this.push(p);
    });
    stream.on('end', () => {
      const rest = this.partial.get(stream);
      if (rest) this.push(rest);
      this.partial.delete(stream);
    });
  }

  private push(raw: string): void {
    const line = this.redact(raw);
    this.lines.push(line);
    if (this.lines.length > RING_SIZE) this.lines.splice(0, this.lines.length - RING_SIZE);
    this.onLine(line);
  }

  all(): string[] {
    return [...this.lines];
  }

  tail(n = ERROR_TAIL): string[] {
    return this.lines.slice(-n);
  }
}

/** Children still running: killed if this Node process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface Spawned {
  child: ChildProcess;
  ring: OutputRing;
  /** Resolves with the exit status once the process has exited and its output is read (never rejects). */
  exited: Promise<ExitStatus>;
  /** Resolves when spawned, rejects with the spawn error (ENOENT, EACCES...). */
  spawned: Promise<void>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (root starting PostgreSQL as the postgres user). */
  uid?: number;
  gid?: number;
  /** Literal strings to redact from the kept output. */
  secrets?: readonly string[];
  onLine?: (line: string) => void;
}

export function spawnChild(binary: string, args: readonly string[], opts: SpawnOptions): Spawned {
  const ring = new OutputRing(opts.secrets ?? [], opts.onLine ?? (() => undefined));
  const child = spawn(binary, args, {
    env: opts.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  ring.attach(child.stdout);
  ring.attach(child.stderr);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  spawned.catch(() => undefined);
  const exited = new Promise<ExitStatus>((resolve) => {
    // 'close' waits for stdout/stderr to drain, so the ring holds the last words; 'error'
    // without 'spawn' never emits 'exit' but does emit 'close'.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  track(child);
  return { child, ring, exited, spawned };
}

/** Why waitForLine gave up: time ran out, the process exited, or it never started. */
export type WaitFailure =
  { kind: 'timeout' } | { kind: 'exit'; status: ExitStatus } | { kind: 'spawn'; error: NodeJS.ErrnoException };

export class WaitForLineError extends Error {
  constructor(readonly failure: WaitFailure) {
    super(
      failure.kind === 'timeout'
        ? 'timed out'
        : failure.kind === 'exit'
          ? describeExit(failure.status)
          : failure.error.message,
    );
    this.name = 'WaitForLineError';
  }
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

/** Wait until `marker` appears in the output; rejects with WaitForLineError otherwise. */
export function waitForLine(s: Spawned, marker: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (failure?: WaitFailure): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.child.stdout?.off('data', onData);
      s.child.stderr?.off('data', onData);
      if (failure) reject(new WaitForLineError(failure));
      else resolve();
    };
    // Chunks may split the marker; keep a short overlap.
    let carry = '';
    const onData = (chunk: string | Buffer): void => {
      const text = carry + chunk.toString();
      if (text.includes(marker)) finish();
      carry = text.slice(-marker.length);
    };
    s.child.stdout?.on('data', onData);
    s.child.stderr?.on('data', onData);
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    s.spawned.catch((error: NodeJS.ErrnoException) => finish({ kind: 'spawn', error }));
    void s.exited.then((status) => {
      // A last chunk with the marker may arrive together with the exit.
      if (s.ring.all().some((l) => l.includes(marker))) finish();
      else finish({ kind: 'exit', status });
    });
  });
}

/** Send `signal`, wait for the exit, SIGKILL after `killAfterMs`. */
export async function terminate(s: Spawned, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    await s.exited;
    return;
  }
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  try {
    await s.exited;
  } finally {
    clearTimeout(killer);
  }
}
