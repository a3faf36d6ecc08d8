/**
 * MD4 (RFC 1320), needed for the MS-CHAPv2 NT password hash. Node 20 on OpenSSL 3 does not
 * provide `md4` unless the legacy provider is loaded, so it is implemented here. Not for any
 * other purpose: MD4 is broken.
 */

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

const F = (x: number, y: number, z: number): number => (x & y) | (~x & z);
const G = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
const H = (x: number, y: number, z: number): number => x ^ y ^ z;

const ROUND2 = 0x5a827999;
const ROUND3 = 0x6ed9eba1;

/** Word order of round 2 and round 3 (RFC 1320 §3.4). */
const R2_ORDER: readonly number[] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
const R3_ORDER: readonly number[] = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
const R1_SHIFT: readonly number[] = [3, 7, 11, 19];
const R2_SHIFT: readonly number[] = [3, 5, 9, 13];
const R3_SHIFT: readonly number[] = [3, 9, 11, 15];

function at(table: readonly number[], i: number): number {
  const v = table[i];
  if (v === undefined) throw new RangeError('md4 table index');
  return v;
}

/** Pad per RFC 1320 §3.1–3.2: 0x80, zeros to 56 mod 64, then the bit length little-endian (64 bits). */
function pad(message: Uint8Array): Buffer {
  const len = message.length;
  const total = (((len + 8) >> 6) + 1) << 6;
  const out = Buffer.alloc(total);
  out.set(message, 0);
  out[len] = 0x80;
  const bitLen = BigInt(len) * 8n;
  out.writeBigUInt64LE(bitLen & 0xffffffffffffffffn, total - 8);
  return out;
}

export function md4(message: Uint8Array): Buffer {
  const data = pad(message);
  const state = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  const x = new Uint32Array(16);
  for (let offset = 0; offset < data.length; offset += 64) {
    for (let i = 0; i < 16; i++) x[i] = data.readUInt32LE(offset + i * 4);
    let a = state[0] ?? 0;
    let b = state[1] ?? 0;
    let c = state[2] ?? 0;
    let d = state[3] ?? 0;
    const word = (i: number): number => x[i] ?? 0;
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + F(b, c, d) + word(i)) | 0, at(R1_SHIFT, i % 4));
      a = d;
      d = c;
      c = b;
      b = t;
    }
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + G(b, c, d) + word(at(R2_ORDER, i)) + ROUND2) | 0, at(R2_SHIFT, i % 4));
      a = d;
      d = c;
      c = b;
      b = t;
    }
    for (let i = 0; i < 16; i++) {
      const t = rotl((a + H(b, c, d) + word(at(R3_ORDER, i)) + ROUND3) | 0, at(R3_SHIFT, i % 4));
      a = d;
      d = c;
      c = b;
      b = t;
    }
    state[0] = (state[0] ?? 0) + a;
    state[1] = (state[1] ?? 0) + b;
    state[2] = (state[2] ?? 0) + c;
    state[3] = (state[3] ?? 0) + d;
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(state[i] ?? 0, i * 4);
  return out;
}
