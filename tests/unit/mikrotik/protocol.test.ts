import {
  decodeLength,
  decodeWin1252,
  encodeLength,
  encodeSentence,
  encodeWin1252,
  encodeWord,
  lengthPrefixSize,
  loginChallengeResponse,
  parseCommand,
  parseReply,
  SentenceDecoder,
} from '../../../src/mikrotik/protocol';
import { RouterOsProtocolError } from '../../../src/mikrotik/errors';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function expectProtocolError(fn: () => unknown, reason: RouterOsProtocolError['reason']): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(RouterOsProtocolError);
  expect((caught as RouterOsProtocolError).code).toBe('ROUTEROS_PROTOCOL');
  expect((caught as RouterOsProtocolError).reason).toBe(reason);
}

describe('length prefix', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [0x7f, '7f'],
    [0x80, '8080'],
    [0x3fff, 'bfff'],
    [0x4000, 'c04000'],
    [0x1fffff, 'dfffff'],
    [0x200000, 'e0200000'],
    [0xfffffff, 'efffffff'],
    [0x10000000, 'f010000000'],
    [0xffffffff, 'f0ffffffff'],
  ])('encodes %i as %s and decodes it back', (length, expected) => {
    const prefix = encodeLength(length);
    expect(hex(prefix)).toBe(expected);
    expect(lengthPrefixSize(prefix[0] as number)).toBe(prefix.length);
    expect(decodeLength(prefix)).toBe(length);
  });

  it('rejects lengths that do not fit', () => {
    expect(() => encodeLength(-1)).toThrow(RangeError);
    expect(() => encodeLength(0x100000000)).toThrow(RangeError);
    expect(() => encodeLength(1.5)).toThrow(RangeError);
  });

  it.each([0xf8, 0xf9, 0xfc, 0xff])('rejects reserved first byte 0x%s with a typed error', (byte) => {
    expectProtocolError(() => lengthPrefixSize(byte), 'RESERVED_LENGTH_BYTE');
    expectProtocolError(() => new SentenceDecoder().push(Buffer.from([byte, 0, 0, 0, 0])), 'RESERVED_LENGTH_BYTE');
  });

  it('accepts 0xF0..0xF7 as the 5-byte form', () => {
    expect(lengthPrefixSize(0xf7)).toBe(5);
    expect(decodeLength(Buffer.from([0xf7, 0, 0, 0, 5]))).toBe(5);
  });
});

describe('words and sentences', () => {
  it('encodes a sentence with its terminating empty word', () => {
    expect(hex(encodeSentence(['/login', '=name=ab']))).toBe(
      '06' + Buffer.from('/login').toString('hex') + '08' + Buffer.from('=name=ab').toString('hex') + '00',
    );
  });

  it('refuses empty words, which would end the sentence early', () => {
    expect(() => encodeSentence(['/x', ''])).toThrow(RangeError);
  });

  it.each([0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000])('round-trips a word of %i bytes', (size) => {
    const word = 'x'.repeat(size);
    const encoded = encodeSentence([word]);
    const [sentence] = new SentenceDecoder().push(encoded);
    expect(sentence).toHaveLength(1);
    expect(sentence?.[0]?.length).toBe(size);
  });

  it('decodes a 4-byte-prefixed word of 0x200000 bytes fed in odd chunks', () => {
    const encoded = encodeSentence(['/a', 'y'.repeat(0x200000), 'z']);
    const decoder = new SentenceDecoder();
    const out: string[][] = [];
    for (let i = 0; i < encoded.length; i += 65_537) out.push(...decoder.push(encoded.subarray(i, i + 65_537)));
    expect(out).toHaveLength(1);
    expect(out[0]?.map((w) => w.length)).toEqual([2, 0x200000, 1]);
  });
});

describe('SentenceDecoder', () => {
  const stream = Buffer.concat([
    encodeSentence(['!re', '=.id=*1', '=user=alice', '.tag=7']),
    encodeSentence(['!re', '=comment=' + 'c'.repeat(200), '.tag=7']),
    encodeSentence(['!done', '.tag=7']),
  ]);

  it('decodes sentences fed one byte at a time', () => {
    const decoder = new SentenceDecoder();
    const out: string[][] = [];
    for (const byte of stream) {
      out.push(...decoder.push(Buffer.from([byte])));
    }
    expect(out).toEqual([
      ['!re', '=.id=*1', '=user=alice', '.tag=7'],
      ['!re', '=comment=' + 'c'.repeat(200), '.tag=7'],
      ['!done', '.tag=7'],
    ]);
    expect(decoder.hasPartialSentence).toBe(false);
  });

  it('gives the same result for every split point', () => {
    const whole = new SentenceDecoder().push(stream);
    for (let cut = 1; cut < stream.length; cut += 1) {
      const decoder = new SentenceDecoder();
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(out).toEqual(whole);
    }
  });

  it('reports a partial sentence', () => {
    const decoder = new SentenceDecoder();
    expect(decoder.push(stream.subarray(0, 5))).toEqual([]);
    expect(decoder.hasPartialSentence).toBe(true);
  });

  it('rejects words above the configured limit before buffering them', () => {
    const decoder = new SentenceDecoder({ maxWordLength: 1024 });
    expectProtocolError(() => decoder.push(encodeLength(1025)), 'WORD_TOO_LONG');
  });

  it('rejects sentences with too many words', () => {
    const decoder = new SentenceDecoder({ maxSentenceWords: 3 });
    expectProtocolError(() => decoder.push(encodeSentence(['!re', '=a=1', '=b=2', '=c=3'])), 'SENTENCE_TOO_LONG');
  });

  it('stays failed after a protocol error', () => {
    const decoder = new SentenceDecoder();
    expectProtocolError(() => decoder.push(Buffer.from([0xf8])), 'RESERVED_LENGTH_BYTE');
    expectProtocolError(() => decoder.push(encodeSentence(['!done'])), 'RESERVED_LENGTH_BYTE');
  });

  it('yields an empty sentence for a lone zero byte (parseReply rejects it)', () => {
    const [sentence] = new SentenceDecoder().push(Buffer.from([0]));
    expect(sentence).toEqual([]);
    expectProtocolError(() => parseReply(sentence ?? []), 'EMPTY_SENTENCE');
  });
});

describe('win1252', () => {
  it('round-trips ASCII and Latin-1 letters', () => {
    const text = 'José Müller ñ ©';
    const bytes = encodeWin1252(text);
    expect(bytes.length).toBe(text.length);
    expect(bytes[3]).toBe(0xe9);
    expect(decodeWin1252(bytes)).toBe(text);
  });

  it('maps the 0x80..0x9F block to its cp1252 characters', () => {
    expect(hex(encodeWin1252('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ'))).toBe(
      '8082838485868788898a8b8c8e9192939495969798999a9b9c9e9f',
    );
    expect(decodeWin1252(Buffer.from([0x80, 0x99, 0x9f]))).toBe('€™Ÿ');
  });

  it('round-trips every byte, including the five undefined ones', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(hex(encodeWin1252(decodeWin1252(all)))).toBe(hex(all));
  });

  it('writes ? for characters outside cp1252', () => {
    expect(encodeWin1252('a✓b😀c').toString('latin1')).toBe('a?b?c');
  });

  it('is used for words on the wire', () => {
    expect(hex(encodeWord('=name=é'))).toBe('07' + Buffer.from('=name=').toString('hex') + 'e9');
    const [sentence] = new SentenceDecoder().push(encodeSentence(['!re', '=name=€uro']));
    expect(sentence).toEqual(['!re', '=name=€uro']);
  });
});

describe('parseReply', () => {
  it('parses attributes and the tag; values may contain =', () => {
    const reply = parseReply(['!re', '=.id=*1A', '=comment=a=b', '=empty=', '.tag=12']);
    expect(reply.type).toBe('!re');
    expect(reply.tag).toBe('12');
    expect({ ...reply.attrs }).toEqual({ '.id': '*1A', comment: 'a=b', empty: '' });
  });

  it.each(['!re', '!done', '!trap', '!fatal', '!empty'])('accepts %s', (type) => {
    expect(parseReply([type]).type).toBe(type);
  });

  it('rejects unknown reply words', () => {
    expectProtocolError(() => parseReply(['!bogus']), 'UNKNOWN_REPLY');
    expectProtocolError(() => parseReply(['=message=x']), 'UNKNOWN_REPLY');
  });

  it('rejects malformed attribute words and duplicate tags', () => {
    expectProtocolError(() => parseReply(['!re', '=novalue']), 'MALFORMED_WORD');
    expectProtocolError(() => parseReply(['!re', '==x']), 'MALFORMED_WORD');
    expectProtocolError(() => parseReply(['!re', 'bare']), 'MALFORMED_WORD');
    expectProtocolError(() => parseReply(['!done', '.tag=1', '.tag=2']), 'MALFORMED_WORD');
  });

  it('keeps the bare reason word of !fatal as message', () => {
    expect(parseReply(['!fatal', 'session terminated on request']).attrs.message).toBe(
      'session terminated on request',
    );
  });

  it('does not let attribute names touch the prototype', () => {
    const reply = parseReply(['!re', '=__proto__=x', '=constructor=y']);
    expect(reply.attrs.__proto__).toBe('x');
    expect(Object.getPrototypeOf(reply.attrs)).toBeNull();
  });

  it('ignores other API attribute words', () => {
    expect({ ...parseReply(['!re', '.section=1', '=a=1']).attrs }).toEqual({ a: '1' });
  });
});

describe('parseCommand (the router side)', () => {
  it('splits path, attributes, ordered queries and the tag', () => {
    expect(parseCommand(['/ip/hotspot/active/print', '=.proplist=user,address', '?user=a', '?user=c', '?#|', '.tag=7'])).toEqual({
      command: '/ip/hotspot/active/print',
      attrs: { '.proplist': 'user,address' },
      queries: ['user=a', 'user=c', '#|'],
      tag: '7',
    });
  });

  it('keeps values with "=" in them, takes a bare =key as empty, and ignores an empty sentence', () => {
    const cmd = parseCommand(['/login', '=name=a=b', '=flag']);
    expect({ ...cmd?.attrs }).toEqual({ name: 'a=b', flag: '' });
    expect(cmd?.tag).toBeUndefined();
    expect(parseCommand([])).toBeUndefined();
  });

  it('does not let attribute names touch the prototype', () => {
    const cmd = parseCommand(['/x', '=__proto__=1']);
    expect(Object.getPrototypeOf(cmd?.attrs)).toBeNull();
  });
});

describe('loginChallengeResponse', () => {
  // md5(0x00 + password in Windows-1252 + challenge), computed independently with Python's hashlib
  it.each([
    ['S3cret-€', 'fd2079ac0a7a676d77c3f886584848d7'],
    ['', '4fc766996a2175c8d712275fb6a3cb31'],
  ])('password %j', (password, digest) => {
    expect(loginChallengeResponse(password, '00112233445566778899aabbccddeeff')).toBe(digest);
  });
});
