/**
 * The supervisor with fake processes and jest's fake clock: what it restarts, what it logs,
 * the delays it chooses (read from its log, not measured), and that stop() ends it.
 */
import { createLogger } from '../../../src/logger';
import type { ExitStatus } from '../../../src/process/child';
import { supervise, type Supervisable } from '../../../src/process/supervisor';

interface Fake extends Supervisable {
  die(status: ExitStatus): void;
  stopped: boolean;
}

let nextPid = 100;
function fakeProcess(): Fake {
  let exit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (exit = r));
  const fake: Fake = {
    pid: nextPid++,
    exited,
    stopped: false,
    output: () => ['line 1', 'line 2', 'last words'],
    die: (status) => exit(status),
    stop: async () => {
      fake.stopped = true;
      exit({ code: 0, signal: null });
    },
  };
  return fake;
}

function captureLogs() {
  const entries: Array<Record<string, any>> = [];
  const logger = createLogger('info', { write: (line: string) => void entries.push(JSON.parse(line)) });
  return { logger, entries };
}

/** A start() whose outcomes are scripted: a fake process, or an error. */
function scriptedStart(plan: Array<'ok' | Error>) {
  const started: Fake[] = [];
  const start = jest.fn(async () => {
    const step = plan.shift() ?? 'ok';
    if (step instanceof Error) throw step;
    const p = fakeProcess();
    started.push(p);
    return p;
  });
  return { start, started };
}

const settle = () => jest.advanceTimersByTimeAsync(0);

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
});
afterEach(() => {
  jest.useRealTimers();
});

it('restarts a process that died, and logs its signal and last output lines', async () => {
  const { logger, entries } = captureLogs();
  const { start, started } = scriptedStart(['ok', 'ok']);
  const sup = await supervise({ name: 'FreeRADIUS', start, logger, random: () => 0.5 });
  const first = started[0]!;
  expect(sup.current()).toBe(first);

  first.die({ code: null, signal: 'SIGKILL' });
  await settle();
  expect(sup.current()).toBeUndefined();
  const exit = entries.find((e) => e.msg === 'supervised process exited unexpectedly; restarting')!;
  expect(exit).toMatchObject({
    process: 'FreeRADIUS',
    pid: first.pid,
    signal: 'SIGKILL',
    code: null,
    exit: 'signal SIGKILL',
    restartInMs: 1000,
  });
  expect(exit.lastLines).toEqual(['line 1', 'line 2', 'last words']);
  expect(exit.level).toBe(50);

  await jest.advanceTimersByTimeAsync(1000);
  expect(start).toHaveBeenCalledTimes(2);
  expect(sup.current()).toBe(started[1]);
  expect(sup.restarts).toBe(1);
  expect(entries.some((e) => e.msg === 'supervised process restarted' && e.pid === started[1]!.pid)).toBe(true);
  await sup.stop();
});

it('backs off exponentially up to the cap while restarts fail, then starts over after a healthy run', async () => {
  const { logger, entries } = captureLogs();
  const failing = Array.from({ length: 8 }, () => new Error('port in use'));
  const { start, started } = scriptedStart(['ok', ...failing, 'ok', 'ok']);
  const sup = await supervise({
    name: 'pg',
    start,
    logger,
    initialDelayMs: 100,
    maxDelayMs: 1000,
    healthyAfterMs: 5000,
    random: () => 0.5,
  });

  started[0]!.die({ code: 1, signal: null });
  await settle();
  // 1 exit + 8 failed attempts, each logging the delay before the next attempt.
  for (let i = 0; i < 8; i++) await jest.advanceTimersByTimeAsync(1000);
  const delays = entries.filter((e) => e.restartInMs !== undefined).map((e) => e.restartInMs);
  expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000]);
  expect(
    entries.filter((e) => e.msg === 'supervised process failed to restart').every((e) => e.err === 'port in use'),
  ).toBe(true);

  await jest.advanceTimersByTimeAsync(1000);
  const second = started[1]!;
  expect(sup.current()).toBe(second);

  // A run longer than healthyAfterMs: the next restart waits the initial delay again.
  await jest.advanceTimersByTimeAsync(5000);
  second.die({ code: 2, signal: null });
  await settle();
  expect(entries.at(-1)).toMatchObject({
    msg: 'supervised process exited unexpectedly; restarting',
    code: 2,
    restartInMs: 100,
  });
  await jest.advanceTimersByTimeAsync(100);
  expect(sup.current()).toBe(started[2]);
  await sup.stop();
});

it('a process that dies again soon after a restart waits longer', async () => {
  const { logger, entries } = captureLogs();
  const { start, started } = scriptedStart([]);
  const sup = await supervise({
    name: 'x',
    start,
    logger,
    initialDelayMs: 100,
    maxDelayMs: 1000,
    healthyAfterMs: 5000,
    random: () => 0.5,
  });
  started[0]!.die({ code: 1, signal: null });
  await jest.advanceTimersByTimeAsync(100);
  started[1]!.die({ code: 1, signal: null });
  await settle();
  expect(entries.filter((e) => e.restartInMs !== undefined).map((e) => e.restartInMs)).toEqual([100, 200]);
  await sup.stop();
});

it('cleans up after a dead process (its handle is stopped) before starting the next', async () => {
  const { logger } = captureLogs();
  const { start, started } = scriptedStart([]);
  const sup = await supervise({ name: 'x', start, logger, random: () => 0.5 });
  started[0]!.die({ code: null, signal: 'SIGSEGV' });
  await settle();
  expect(started[0]!.stopped).toBe(true);
  await sup.stop();
});

it('stop() stops the running process and nothing is restarted afterwards', async () => {
  const { logger, entries } = captureLogs();
  const { start, started } = scriptedStart([]);
  const sup = await supervise({ name: 'x', start, logger });
  await Promise.all([sup.stop(), sup.stop()]);
  expect(started[0]!.stopped).toBe(true);
  expect(sup.current()).toBeUndefined();
  await jest.advanceTimersByTimeAsync(120_000);
  expect(start).toHaveBeenCalledTimes(1);
  expect(entries.some((e) => /unexpectedly/.test(e.msg))).toBe(false);
});

it('stop() while a restart is pending cancels it', async () => {
  const { logger } = captureLogs();
  const { start, started } = scriptedStart([]);
  const sup = await supervise({ name: 'x', start, logger });
  started[0]!.die({ code: 1, signal: null });
  await settle();
  await sup.stop();
  await jest.advanceTimersByTimeAsync(120_000);
  expect(start).toHaveBeenCalledTimes(1);
});

it('stop() during a restart waits for it and stops the new process', async () => {
  const { logger } = captureLogs();
  let release!: () => void;
  const late = fakeProcess();
  const start = jest
    .fn<Promise<Fake>, []>()
    .mockResolvedValueOnce(fakeProcess())
    .mockImplementationOnce(() => new Promise<Fake>((r) => (release = () => r(late))));
  const sup = await supervise({ name: 'x', start, logger, random: () => 0.5 });
  const first = sup.current() as Fake;
  first.die({ code: 1, signal: null });
  await jest.advanceTimersByTimeAsync(1000);
  expect(start).toHaveBeenCalledTimes(2);
  const stopped = sup.stop();
  release();
  await stopped;
  expect(late.stopped).toBe(true);
  expect(sup.current()).toBeUndefined();
});

it('a failing first start rejects (the caller reports it; nothing is retried)', async () => {
  const { logger } = captureLogs();
  const start = jest.fn(async (): Promise<Fake> => {
    throw new Error('bad configuration');
  });
  await expect(supervise({ name: 'x', start, logger })).rejects.toThrow('bad configuration');
  await jest.advanceTimersByTimeAsync(120_000);
  expect(start).toHaveBeenCalledTimes(1);
});
