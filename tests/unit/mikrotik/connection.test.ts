/**
 * Connection and CallGuard on an in-memory stream with a FakeClock (no sockets, no waiting):
 * deadlines fire exactly when due, the idle close and the liveness probe follow the clock, and
 * timers are cleared when they are no longer needed.
 */
import { Duplex } from 'node:stream';
import { CallGuard, Connection, noopLogger } from '../../../src/mikrotik/connection';
import { RouterOsAbortError, RouterOsConnectionError, RouterOsTimeoutError } from '../../../src/mikrotik/errors';
import { encodeSentence, SentenceDecoder } from '../../../src/mikrotik/protocol';
import { FakeClock } from '../../helpers/clock';

/** The router's end of an in-memory link: the sentences written to it, and a way to answer. */
function link(): { stream: Duplex; sent: string[][]; answer(words: string[]): void } {
  const sent: string[][] = [];
  const decoder = new SentenceDecoder();
  const stream = new Duplex({
    read: () => undefined,
    write(chunk: Buffer, _encoding, callback) {
      sent.push(...decoder.push(chunk));
      callback();
    },
  });
  return { stream, sent, answer: (words) => stream.push(encodeSentence(words)) };
}

/** Lets queued stream events and promise callbacks run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function open(idleCloseMs = 0): { conn: Connection; clock: FakeClock; closed: Connection[] } & ReturnType<typeof link> {
  const l = link();
  const clock = new FakeClock();
  const closed: Connection[] = [];
  const conn = new Connection(l.stream, { clock, log: noopLogger, idleCloseMs, onClosed: (c) => closed.push(c) });
  return { ...l, conn, clock, closed };
}

const tagOf = (words: string[] | undefined): string => words?.find((w) => w.startsWith('.tag='))?.slice(5) ?? '';

describe('CallGuard', () => {
  it('stops with a timeout exactly when the deadline passes, not before', async () => {
    const clock = new FakeClock();
    const guard = new CallGuard(clock, 100, undefined, 'command');
    const reasons: Error[] = [];
    guard.whenStopped((r) => reasons.push(r));
    const raced = guard.race(new Promise<never>(() => undefined)).catch((e: unknown) => e);
    await clock.advance(99);
    expect(reasons).toEqual([]);
    await clock.advance(1);
    const err = await raced;
    expect(err).toBeInstanceOf(RouterOsTimeoutError);
    expect((err as RouterOsTimeoutError).phase).toBe('command');
    expect(reasons).toEqual([err]);
    guard.dispose();
  });

  it('stops with an abort error carrying the reason; an already aborted signal stops at once', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const guard = new CallGuard(clock, 1000, ac.signal);
    const raced = guard.race(new Promise<never>(() => undefined)).catch((e: unknown) => e);
    ac.abort(new Error('shutdown'));
    const err = await raced;
    expect(err).toBeInstanceOf(RouterOsAbortError);
    expect(((err as RouterOsAbortError).cause as Error).message).toBe('shutdown');
    guard.dispose();

    const late = new CallGuard(clock, 1000, AbortSignal.abort());
    const cb: Error[] = [];
    late.whenStopped((r) => cb.push(r)); // registered after the stop: called at once
    expect(cb[0]).toBeInstanceOf(RouterOsAbortError);
    await expect(late.race(Promise.resolve(1))).rejects.toBeInstanceOf(RouterOsAbortError);
    late.dispose();
  });

  it('lets a faster promise win, and dispose() clears its timer', async () => {
    const clock = new FakeClock();
    const guard = new CallGuard(clock, 100, undefined);
    expect(await guard.race(Promise.resolve('ok'))).toBe('ok');
    expect(clock.timers().length).toBe(1);
    guard.dispose();
    expect(clock.timers().length).toBe(0);
  });
});

describe('Connection', () => {
  it('tags commands and routes replies by tag, out of order', async () => {
    const { conn, sent, answer } = open();
    const a = conn.send(['/ppp/active/print']);
    const b = conn.send(['/system/identity/print']);
    expect(sent.map((w) => w[0])).toEqual(['/ppp/active/print', '/system/identity/print']);
    const [tagA, tagB] = sent.map(tagOf);
    expect(tagA).not.toBe(tagB);
    answer(['!re', '=name=MikroTik', `.tag=${tagB}`]);
    answer(['!done', `.tag=${tagB}`]);
    answer(['!done', `.tag=${tagA}`]);
    expect(await b.promise).toEqual({ rows: [{ name: 'MikroTik' }], done: {} });
    expect(await a.promise).toEqual({ rows: [], done: {} });
    expect(a.isAnswered()).toBe(true);
  });

  it('an abandoned command is cancelled on the router and its late replies are absorbed', async () => {
    const { conn, sent, answer, closed } = open();
    const request = conn.send(['/ppp/active/print']);
    const tag = tagOf(sent[0]);
    request.abandon(new Error('gave up'));
    await expect(request.promise).rejects.toThrow('gave up');
    expect(sent[1]?.slice(0, 2)).toEqual(['/cancel', `=tag=${tag}`]);
    answer(['!trap', '=category=2', '=message=interrupted', `.tag=${tag}`]);
    answer(['!done', `.tag=${tag}`]);
    answer(['!done', `.tag=${tagOf(sent[1])}`]);
    await turn();
    expect(conn.closed).toBe(false);
    expect(closed).toEqual([]);
  });

  it('idle close: armed when nothing is in flight, fires after idleCloseMs on the clock', async () => {
    const { conn, sent, answer, clock, closed } = open(50);
    const request = conn.send(['/system/identity/print']);
    await clock.advance(1000); // in flight: no idle timer
    expect(conn.closed).toBe(false);
    answer(['!done', `.tag=${tagOf(sent[0])}`]);
    await request.promise;
    await clock.advance(49);
    expect(conn.closed).toBe(false);
    await clock.advance(1);
    expect(conn.closed).toBe(true);
    expect(closed).toEqual([conn]);
    expect(clock.timers().length).toBe(0);
  });

  it('probe: no byte within the grace period drops the connection and rejects what is pending', async () => {
    const { conn, clock } = open();
    const pending = conn.send(['/system/identity/print']);
    const rejected = expect(pending.promise).rejects.toBeInstanceOf(RouterOsConnectionError);
    conn.expectTraffic(100);
    await clock.advance(99);
    expect(conn.closed).toBe(false);
    await clock.advance(1);
    expect(conn.closed).toBe(true);
    await rejected;
  });

  it('probe: any byte within the grace period keeps the connection', async () => {
    const { conn, sent, answer, clock } = open();
    conn.send(['/system/identity/print']);
    conn.expectTraffic(100);
    answer(['!re', '=name=x', `.tag=${tagOf(sent[0])}`]);
    await turn();
    await clock.advance(100);
    expect(conn.closed).toBe(false);
    expect(clock.timers().length).toBe(0);
  });

  it('a command on a closed connection is rejected without being written', async () => {
    const { conn, sent } = open();
    conn.fail(new RouterOsConnectionError('gone'));
    const request = conn.send(['/system/identity/print']);
    await expect(request.promise).rejects.toBeInstanceOf(RouterOsConnectionError);
    expect(sent).toEqual([]);
  });
});
