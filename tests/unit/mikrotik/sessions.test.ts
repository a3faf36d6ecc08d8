/**
 * Session listing and kicking against a fake commander (no sockets): the words sent, how rows
 * are read, and the "no such item" rule shared by the client and the enforcement fallback.
 */
import type { CommandOptions } from '../../../src/mikrotik/client';
import { RouterOsProtocolError, RouterOsTimeoutError, RouterOsTrapError } from '../../../src/mikrotik/errors';
import {
  formatRouterOsDuration,
  kickSessions,
  listSessions,
  parseRouterOsDuration,
  removeSessions,
  type RouterOsCommander,
} from '../../../src/mikrotik/sessions';

interface Sent {
  words: readonly string[];
  options: CommandOptions | undefined;
}

/** Answers each command with `answer(words)` and records what was sent. */
function commander(answer: (words: readonly string[]) => Record<string, string>[] | Error): RouterOsCommander & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    command: async (words, options) => {
      sent.push({ words, options });
      const result = answer(words);
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

const noSuchItem = (): RouterOsTrapError => new RouterOsTrapError('no such item', undefined, '/ip/hotspot/active/remove');

describe('listSessions', () => {
  it('asks the router to filter (?user=, ?address=, upper-case MAC) and marks the print idempotent', async () => {
    const router = commander(() => []);
    const signal = new AbortController().signal;
    await listSessions(router, 'hotspot', { user: 'alice', address: '10.5.50.10', macAddress: 'aa:bb:cc:dd:ee:01' }, { signal, timeoutMs: 500 });
    await listSessions(router, 'ppp', { user: 'bob', macAddress: '02:00:00:00:00:0a' });
    expect(router.sent.map((s) => s.words)).toEqual([
      [
        '/ip/hotspot/active/print',
        '=.proplist=.id,user,address,mac-address,uptime,bytes-in,bytes-out,session-id',
        '?user=alice',
        '?address=10.5.50.10',
        '?mac-address=AA:BB:CC:DD:EE:01',
      ],
      ['/ppp/active/print', '=.proplist=.id,name,address,caller-id,uptime,session-id', '?name=bob', '?caller-id=02:00:00:00:00:0A'],
    ]);
    expect(router.sent[0]?.options).toEqual({ signal, timeoutMs: 500, idempotent: true });
    expect(router.sent[1]?.options).toEqual({ idempotent: true });
  });

  it('reads rows into typed sessions, keeping only properties that parse', async () => {
    const router = commander((): Record<string, string>[] => [
      {
        '.id': '*1A',
        user: 'alice',
        address: '10.5.50.10',
        'mac-address': 'aa:bb:cc:dd:ee:01',
        uptime: '1h2m3s',
        'bytes-in': '1200',
        'bytes-out': '34000',
        'session-id': '80000007',
      },
      { '.id': '*2', user: 'bob', address: 'not-an-ip', 'mac-address': 'nope', uptime: 'soon', 'bytes-in': '-1', 'session-id': '' },
    ]);
    expect(await listSessions(router, 'hotspot')).toEqual([
      { id: '*1A', user: 'alice', address: '10.5.50.10', macAddress: 'AA:BB:CC:DD:EE:01', uptime: 3723, bytesIn: 1200, bytesOut: 34000, sessionId: '80000007' },
      { id: '*2', user: 'bob' },
    ]);
  });

  it('reads PPP rows: name is the user, a MAC caller-id is the MAC', async () => {
    const router = commander(() => [{ '.id': '*3', name: 'p1', 'caller-id': '00:11:22:33:44:55', 'session-id': '0x81500001' }]);
    expect(await listSessions(router, 'ppp')).toEqual([{ id: '*3', user: 'p1', macAddress: '00:11:22:33:44:55', sessionId: '0x81500001' }]);
  });

  it.each([
    ['a bad .id', { '.id': '1', user: 'x' }],
    ['no .id', { user: 'x' }],
    ['no user', { '.id': '*1' }],
  ])('a row with %s is a protocol error', async (_label, row) => {
    const err = await listSessions(commander(() => [row]), 'hotspot').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterOsProtocolError);
    expect((err as RouterOsProtocolError).reason).toBe('INVALID_ROW');
  });
});

describe('removeSessions', () => {
  it('removes each by .id (idempotent) and counts the confirmed ones', async () => {
    const router = commander(() => []);
    expect(await removeSessions(router, 'ppp', [{ id: '*1' }, { id: '*2' }])).toBe(2);
    expect(router.sent.map((s) => s.words)).toEqual([
      ['/ppp/active/remove', '=.id=*1'],
      ['/ppp/active/remove', '=.id=*2'],
    ]);
    expect(router.sent.every((s) => s.options?.idempotent === true)).toBe(true);
  });

  it('"no such item" (gone meanwhile) is not counted and is no error', async () => {
    const router = commander((words) => (words[1] === '=.id=*2' ? noSuchItem() : []));
    expect(await removeSessions(router, 'hotspot', [{ id: '*1' }, { id: '*2' }, { id: '*3' }])).toBe(2);
  });

  it('any other failure is thrown after every remove was tried', async () => {
    const timeout = new RouterOsTimeoutError('command', 100);
    const router = commander((words) => (words[1] === '=.id=*1' ? timeout : words[1] === '=.id=*2' ? noSuchItem() : []));
    await expect(removeSessions(router, 'hotspot', [{ id: '*1' }, { id: '*2' }, { id: '*3' }])).rejects.toBe(timeout);
    expect(router.sent).toHaveLength(3);
  });

  it('nothing to remove sends nothing', async () => {
    const router = commander(() => []);
    expect(await removeSessions(router, 'hotspot', [])).toBe(0);
    expect(router.sent).toEqual([]);
  });
});

describe('kickSessions', () => {
  const rows: Record<string, string>[] = [
    { '.id': '*1', user: 'alice', address: '10.5.50.10', 'session-id': 's1' },
    { '.id': '*2', user: 'alice', address: '10.5.50.12', 'session-id': 's2' },
    { '.id': '*3', user: 'bob', address: '10.5.50.10' },
  ];

  it('checks every criterion again on the rows (in case the router ignored a query word)', async () => {
    const router = commander((words) => (words[0]?.endsWith('/print') ? rows : []));
    expect(await kickSessions(router, { kind: 'hotspot', user: 'alice', address: '10.5.50.12' })).toEqual({ removed: 1, matched: 1 });
    expect(router.sent.at(-1)?.words).toEqual(['/ip/hotspot/active/remove', '=.id=*2']);
  });

  it('matches a session id only against rows that report one', async () => {
    const router = commander((words) => (words[0]?.endsWith('/print') ? rows : []));
    expect(await kickSessions(router, { kind: 'hotspot', sessionId: 's1' })).toEqual({ removed: 1, matched: 1 });
    expect(await kickSessions(router, { kind: 'hotspot', address: '10.5.50.10' })).toEqual({ removed: 2, matched: 2 });
    expect(await kickSessions(router, { kind: 'hotspot', sessionId: 'none' })).toEqual({ removed: 0, matched: 0 });
  });

  it.each([
    ['no criterion', { kind: 'hotspot' as const }],
    ['an empty user', { kind: 'hotspot' as const, user: '' }],
    ['an empty session id', { kind: 'ppp' as const, sessionId: '' }],
  ])('refuses %s before sending anything', async (_label, criteria) => {
    const router = commander(() => rows);
    await expect(kickSessions(router, criteria)).rejects.toThrow(TypeError);
    expect(router.sent).toEqual([]);
  });
});

describe('parseRouterOsDuration', () => {
  it.each([
    ['0s', 0],
    ['45s', 45],
    ['1h2m3s', 3723],
    ['1w2d3h4m5s', 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5],
    ['1s500ms', 1],
    ['01:02:03', 3723],
    ['2d 01:00:00', 2 * 86_400 + 3_600],
    ['2d01:00:00', 2 * 86_400 + 3_600],
  ])('%s -> %i', (text, seconds) => {
    expect(parseRouterOsDuration(text)).toBe(seconds);
  });

  it.each(['', 'soon', '1x', '-1s', '1h 2m'])('rejects %j', (text) => {
    expect(parseRouterOsDuration(text)).toBeUndefined();
  });
});

describe('formatRouterOsDuration', () => {
  it.each([
    [0, '0s'],
    [59.9, '59s'],
    [60, '1m'],
    [3723, '1h2m3s'],
    [604_800 + 86_400 + 5, '1w1d5s'],
    [-5, '0s'],
  ])('%d -> %s', (seconds, text) => {
    expect(formatRouterOsDuration(seconds)).toBe(text);
  });

  it('round-trips through parseRouterOsDuration', () => {
    for (const seconds of [0, 1, 59, 61, 3599, 86_399, 700_000, 10_000_000]) {
      expect(parseRouterOsDuration(formatRouterOsDuration(seconds))).toBe(seconds);
    }
  });
});
