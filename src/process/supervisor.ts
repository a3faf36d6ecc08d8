/**
 * Keeps a server process running: when it exits without being asked to, it is started again
 * after a capped exponential backoff (src/radius/backoff.ts, with its ±10 % jitter), and the
 * count starts over once a run has stayed up for `healthyAfterMs`. Every exit is logged with its
 * exit code or signal and the process's last output lines; every failed restart with its error.
 *
 * The first start is the caller's: if it fails, supervise() rejects (a wrong configuration
 * should stop `lango up` with its error, not loop). Later failures are retried for ever, so a
 * dependency that comes back (a port freed, a disk emptied) brings the process back too.
 */
import type { Logger } from 'pino';
import { backoffSchedule } from '../radius/backoff';
import { describeExit, type ExitStatus } from './child';

export interface Supervisable {
  readonly pid: number;
  /** Resolves when the process has exited, for whatever reason (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Recent output lines, for the log of an unexpected exit. */
  output(): readonly string[];
  stop(): Promise<void>;
}

export interface SupervisorOptions<T extends Supervisable> {
  /** For the logs: "FreeRADIUS", "embedded PostgreSQL". */
  name: string;
  /** Starts the process; resolves once it serves. */
  start(): Promise<T>;
  logger: Logger;
  /** First restart delay. Default 1000 ms. */
  initialDelayMs?: number;
  /** Cap of the delay. Default 30000 ms. */
  maxDelayMs?: number;
  /** A run this long resets the backoff. Default 60000 ms. */
  healthyAfterMs?: number;
  /** Output lines logged with an unexpected exit. Default 20. */
  tailLines?: number;
  /** [0, 1) jitter source (tests pass () => 0.5). */
  random?: () => number;
}

export interface Supervisor<T extends Supervisable> {
  /** The running process; undefined between an exit and the next successful start. */
  current(): T | undefined;
  /** Successful restarts so far. */
  readonly restarts: number;
  /** Ends supervision: no restart after this; stops the running process. Idempotent. */
  stop(): Promise<void>;
}

/** Enough steps to reach any sane cap from any sane initial delay (2^12). */
const SCHEDULE_STEPS = 12;

export async function supervise<T extends Supervisable>(opts: SupervisorOptions<T>): Promise<Supervisor<T>> {
  const log = opts.logger.child({ module: 'supervisor', process: opts.name });
  const tailLines = opts.tailLines ?? 20;
  const healthyAfterMs = opts.healthyAfterMs ?? 60_000;
  const delays = backoffSchedule({
    irt: (opts.initialDelayMs ?? 1000) / 1000,
    mrt: (opts.maxDelayMs ?? 30_000) / 1000,
    mrc: SCHEDULE_STEPS,
    mrd: 0,
    ...(opts.random ? { random: opts.random } : {}),
  });
  const delayFor = (failures: number): number => delays[Math.min(failures, delays.length - 1)] as number;

  let current: T | undefined = await opts.start();
  let restarts = 0;
  let failures = 0;
  let stopping: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let starting: Promise<unknown> | undefined;

  const restartLater = (delayMs: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      const attempt = opts.start();
      starting = attempt.then(
        async (next) => {
          if (stopping) {
            await next.stop();
            return;
          }
          current = next;
          restarts++;
          log.info({ pid: next.pid, restarts }, 'supervised process restarted');
          watch(next);
        },
        (err: unknown) => {
          if (stopping) return;
          const wait = delayFor(failures++);
          log.error(
            { err: (err as Error)?.message ?? String(err), restartInMs: wait, failures },
            'supervised process failed to restart',
          );
          restartLater(wait);
        },
      );
    }, delayMs);
  };

  const watch = (proc: T): void => {
    const startedAt = Date.now();
    void proc.exited.then((status) => {
      if (stopping || current !== proc) return;
      current = undefined;
      if (Date.now() - startedAt >= healthyAfterMs) failures = 0;
      const wait = delayFor(failures++);
      log.error(
        {
          pid: proc.pid,
          exit: describeExit(status),
          code: status.code,
          signal: status.signal,
          lastLines: proc.output().slice(-tailLines),
          restartInMs: wait,
          failures,
        },
        'supervised process exited unexpectedly; restarting',
      );
      // What the handle owns besides the process (a runtime directory) goes with it.
      void proc.stop().catch((err: unknown) => log.warn({ err: (err as Error)?.message }, 'cleanup after exit failed'));
      restartLater(wait);
    });
  };

  watch(current);
  return {
    current: () => current,
    get restarts() {
      return restarts;
    },
    stop: () => {
      stopping ??= (async () => {
        if (timer) clearTimeout(timer);
        await starting?.catch(() => undefined);
        const proc = current;
        current = undefined;
        await proc?.stop();
      })();
      return stopping;
    },
  };
}
