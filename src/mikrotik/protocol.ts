/**
 * RouterOS API wire codec (pure: no sockets, no timers).
 *
 * A sentence is a list of words ended by a zero-length word. A word is a big-endian length
 * prefix followed by that many bytes:
 *   len < 0x80        1 byte   len
 *   len < 0x4000      2 bytes  len | 0x8000
 *   len < 0x200000    3 bytes  len | 0xC00000
 *   len < 0x10000000  4 bytes  len | 0xE0000000
 *   otherwise         5 bytes  0xF0, then len as 4 bytes
 * A first byte >= 0xF8 is reserved (control bytes) and is rejected.
 *
 * RouterOS strings are Windows-1252; this module carries its own table for that.
 * Used by the client (client.ts) and by the simulator (src/simulate/routeros-simulator.ts).
 */
import { createHash } from 'node:crypto';
import { RouterOsProtocolError } from './errors';

// ---------------------------------------------------------------------------------------------
// Windows-1252

/** Code points for bytes 0x80..0x9F. The five bytes undefined in cp1252 map to the C1 control
 *  with the same number (as the WHATWG encoding standard does), so every byte round-trips. */
const CP1252_HIGH: readonly number[] = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
  0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
  0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
];

const CP1252_REVERSE: ReadonlyMap<number, number> = new Map(
  CP1252_HIGH.map((codePoint, i) => [codePoint, 0x80 + i]),
);

/** Byte written for characters that Windows-1252 cannot represent. */
const REPLACEMENT_BYTE = 0x3f; // '?'

export function encodeWin1252(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length); // never more bytes than UTF-16 units
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? REPLACEMENT_BYTE;
    if (cp < 0x80 || (cp >= 0xa0 && cp <= 0xff)) {
      out[n++] = cp;
    } else {
      out[n++] = CP1252_REVERSE.get(cp) ?? REPLACEMENT_BYTE;
    }
  }
  return out.subarray(0, n);
}

export function decodeWin1252(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i] as number;
    text += String.fromCharCode(b >= 0x80 && b <= 0x9f ? (CP1252_HIGH[b - 0x80] as number) : b);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Lengths, words, sentences

/** Largest length the 5-byte form can carry. */
export const MAX_WORD_LENGTH = 0xffffffff;

export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_WORD_LENGTH) {
    throw new RangeError(`RouterOS word length out of range: ${length}`);
  }
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x4000) {
    const v = length | 0x8000;
    return Buffer.from([v >>> 8, v & 0xff]);
  }
  if (length < 0x200000) {
    const v = length | 0xc00000;
    return Buffer.from([v >>> 16, (v >>> 8) & 0xff, v & 0xff]);
  }
  if (length < 0x10000000) {
    const v = (length | 0xe0000000) >>> 0;
    return Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  }
  return Buffer.from([0xf0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}

/** How many bytes the length prefix has, judged from its first byte; throws on reserved bytes. */
export function lengthPrefixSize(firstByte: number): 1 | 2 | 3 | 4 | 5 {
  if (firstByte < 0x80) return 1;
  if (firstByte < 0xc0) return 2;
  if (firstByte < 0xe0) return 3;
  if (firstByte < 0xf0) return 4;
  if (firstByte < 0xf8) return 5;
  throw new RouterOsProtocolError(
    'RESERVED_LENGTH_BYTE',
    `reserved length byte 0x${firstByte.toString(16)} in RouterOS API stream`,
  );
}

/** Reads a complete length prefix (`prefix.length === lengthPrefixSize(prefix[0])`). */
export function decodeLength(prefix: Uint8Array): number {
  const b = (i: number): number => prefix[i] as number;
  switch (lengthPrefixSize(b(0))) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x3f) << 8) | b(1);
    case 3:
      return ((b(0) & 0x1f) << 16) | (b(1) << 8) | b(2);
    case 4:
      return (((b(0) & 0x0f) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
    case 5:
      return ((b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4)) >>> 0;
  }
}

export function encodeWord(word: string | Uint8Array): Buffer {
  const bytes = typeof word === 'string' ? encodeWin1252(word) : Buffer.from(word);
  return Buffer.concat([encodeLength(bytes.length), bytes]);
}

/** Encodes words plus the terminating zero-length word. */
export function encodeSentence(words: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const word of words) {
    if (word.length === 0) {
      // an empty word would end the sentence early and desynchronise the stream
      throw new RangeError('RouterOS API words must not be empty');
    }
    parts.push(encodeWord(word));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Incremental decoder

export interface SentenceDecoderOptions {
  /** Longest word accepted; longer ones are a protocol error (default 16 MiB). */
  maxWordLength?: number;
  /** Most words in one sentence (default 10 000). */
  maxSentenceWords?: number;
  /**
   * Called with the first word of each sentence as soon as that word is complete, so a stream
   * that is not RouterOS API at all fails early instead of waiting for a sentence end that
   * never comes. Throw a RouterOsProtocolError to reject it (see `assertReplyWord`).
   */
  checkFirstWord?: (word: string) => void;
}

/**
 * Feeds on TCP chunks of any size (down to single bytes) and returns the sentences completed
 * by each chunk. After it has thrown, the stream is out of sync: discard the decoder (and the
 * connection).
 */
export class SentenceDecoder {
  private readonly maxWordLength: number;
  private readonly maxSentenceWords: number;
  private readonly checkFirstWord: ((word: string) => void) | undefined;
  /** Bytes of a length prefix collected so far. */
  private prefix: number[] = [];
  private prefixSize = 0;
  /** Body of the word being read, or null while reading a prefix. */
  private word: Buffer | null = null;
  private wordFilled = 0;
  private words: string[] = [];
  private failed: RouterOsProtocolError | null = null;

  constructor(options: SentenceDecoderOptions = {}) {
    this.maxWordLength = options.maxWordLength ?? 16 * 1024 * 1024;
    this.maxSentenceWords = options.maxSentenceWords ?? 10_000;
    this.checkFirstWord = options.checkFirstWord;
  }

  /** True while part of a sentence has been received but not its end. */
  get hasPartialSentence(): boolean {
    return this.prefix.length > 0 || this.word !== null || this.words.length > 0;
  }

  push(chunk: Uint8Array): string[][] {
    if (this.failed) throw this.failed;
    try {
      return this.consume(chunk);
    } catch (err) {
      if (err instanceof RouterOsProtocolError) this.failed = err;
      throw err;
    }
  }

  private consume(chunk: Uint8Array): string[][] {
    const sentences: string[][] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.word === null) {
        const byte = chunk[i++] as number;
        if (this.prefix.length === 0) this.prefixSize = lengthPrefixSize(byte);
        this.prefix.push(byte);
        if (this.prefix.length < this.prefixSize) continue;
        const length = decodeLength(Uint8Array.from(this.prefix));
        this.prefix = [];
        if (length === 0) {
          sentences.push(this.words);
          this.words = [];
          continue;
        }
        if (length > this.maxWordLength) {
          throw new RouterOsProtocolError('WORD_TOO_LONG', `RouterOS API word of ${length} bytes exceeds limit`);
        }
        if (this.words.length >= this.maxSentenceWords) {
          throw new RouterOsProtocolError('SENTENCE_TOO_LONG', 'RouterOS API sentence has too many words');
        }
        this.word = Buffer.allocUnsafe(length);
        this.wordFilled = 0;
        continue;
      }
      const take = Math.min(this.word.length - this.wordFilled, chunk.length - i);
      this.word.set(chunk.subarray(i, i + take), this.wordFilled);
      this.wordFilled += take;
      i += take;
      if (this.wordFilled === this.word.length) {
        const word = decodeWin1252(this.word);
        this.word = null;
        if (this.words.length === 0) this.checkFirstWord?.(word);
        this.words.push(word);
      }
    }
    return sentences;
  }
}

// ---------------------------------------------------------------------------------------------
// Replies

export const REPLY_TYPES = ['!re', '!done', '!trap', '!fatal', '!empty'] as const;
export type ReplyType = (typeof REPLY_TYPES)[number];

export interface ReplySentence {
  type: ReplyType;
  tag?: string;
  /** `=key=value` words. For `!fatal`, the reason text is put in `attrs.message`. */
  attrs: Record<string, string>;
}

function isReplyType(word: string): word is ReplyType {
  return (REPLY_TYPES as readonly string[]).includes(word);
}

/** Throws UNKNOWN_REPLY unless `word` is one of the reply words. */
export function assertReplyWord(word: string): asserts word is ReplyType {
  if (!isReplyType(word)) {
    throw new RouterOsProtocolError('UNKNOWN_REPLY', `unknown RouterOS reply word ${JSON.stringify(word.slice(0, 40))}`);
  }
}

/**
 * Validates one sentence from the router. Unknown reply words, malformed attribute words and
 * duplicate tags are protocol errors. API attribute words other than `.tag` (`.section=` and
 * the like) are ignored.
 */
export function parseReply(words: readonly string[]): ReplySentence {
  const [first, ...rest] = words;
  if (first === undefined) {
    throw new RouterOsProtocolError('EMPTY_SENTENCE', 'empty sentence from RouterOS');
  }
  assertReplyWord(first);
  const reply: ReplySentence = { type: first, attrs: Object.create(null) as Record<string, string> };
  const plain: string[] = [];
  for (const word of rest) {
    if (word.startsWith('=')) {
      const eq = word.indexOf('=', 1);
      if (eq <= 1) {
        throw new RouterOsProtocolError('MALFORMED_WORD', 'malformed attribute word from RouterOS');
      }
      reply.attrs[word.slice(1, eq)] = word.slice(eq + 1);
    } else if (word.startsWith('.tag=')) {
      if (reply.tag !== undefined) {
        throw new RouterOsProtocolError('MALFORMED_WORD', 'duplicate .tag in RouterOS reply');
      }
      reply.tag = word.slice(5);
    } else if (word.startsWith('.') && word.includes('=')) {
      // other API attribute words: not used by this client
    } else if (first === '!fatal') {
      plain.push(word); // `!fatal` carries its reason as a bare word
    } else {
      throw new RouterOsProtocolError('MALFORMED_WORD', `unexpected word in RouterOS ${first} reply`);
    }
  }
  if (plain.length > 0 && reply.attrs.message === undefined) reply.attrs.message = plain.join(' ');
  return reply;
}

/** Query word `?key=value`. */
export function queryWord(key: string, value: string): string {
  return `?${key}=${value}`;
}

/** Pre-6.43 `/login` challenge answer: hex md5(0x00, password in Windows-1252, challenge bytes). */
export function loginChallengeResponse(password: string, challengeHex: string): string {
  return createHash('md5')
    .update(Buffer.from([0]))
    .update(encodeWin1252(password))
    .update(Buffer.from(challengeHex, 'hex'))
    .digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Commands (the router's side of the conversation: the simulator, scripted test devices)

export interface CommandSentence {
  /** The command path, e.g. `/ip/hotspot/active/print`. */
  command: string;
  /** `=key=value` words (`=key` alone gives an empty value). */
  attrs: Record<string, string>;
  /** `?` query words without the `?`, in order (their order is their meaning). */
  queries: string[];
  tag: string | undefined;
}

/** Splits a command sentence; undefined for an empty sentence (which RouterOS ignores). */
export function parseCommand(words: readonly string[]): CommandSentence | undefined {
  const [command, ...rest] = words;
  if (command === undefined) return undefined;
  const sentence: CommandSentence = { command, attrs: Object.create(null) as Record<string, string>, queries: [], tag: undefined };
  for (const word of rest) {
    if (word.startsWith('.tag=')) sentence.tag = word.slice(5);
    else if (word.startsWith('?')) sentence.queries.push(word.slice(1));
    else if (word.startsWith('=')) {
      const eq = word.indexOf('=', 1);
      if (eq > 0) sentence.attrs[word.slice(1, eq)] = word.slice(eq + 1);
      else sentence.attrs[word.slice(1)] = '';
    }
  }
  return sentence;
}
