/**
 * SHA-256 in plain JavaScript for the tree's short inputs. Node's one-shot crypto.hash crosses into
 * C++ and allocates a Buffer per call; for the 65-byte node inputs hashed thousands of times per
 * version this was 2.6x slower than the rounds below in V8. Long inputs go to node:crypto, whose
 * native code wins there. Both are SHA-256 (FIPS 180-4); the tests compare them on random inputs.
 */
import { hash as nodeHash } from 'node:crypto';

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Inputs longer than this go to node:crypto. */
const JS_MAX_BYTES = 512;

// Shared state: hashing is synchronous, so one set of buffers serves every call.
const W = new Int32Array(64);
const H = new Int32Array(8);
const tail = new Uint8Array(128);

const KW = new Int32Array(64);

/** One compression of the block in W[0..15] into H. */
function compress(): void {
  for (let i = 0; i < 16; i++) KW[i] = (K[i]! + W[i]!) | 0;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    const w = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    W[i] = w;
    KW[i] = (K[i]! + w) | 0;
  }
  rounds(KW, 0);
}

/**
 * The second block of a 65-byte input is its last byte, the pad byte, zeros and the length: 256
 * possible blocks, whose expanded message (plus round constants) is computed once here.
 */
const PAIR_TAIL_KW = new Int32Array(256 * 64);
for (let last = 0; last < 256; last++) {
  W.fill(0);
  W[0] = (last << 24) | 0x80_0000;
  W[15] = 65 * 8;
  compress();
  PAIR_TAIL_KW.set(KW, last * 64);
}

/**
 * The 64 rounds over H; round i adds kw[base + i], its round constant plus message word. Unrolled
 * by eight, the working variables trading roles instead of moving down one each round (1.4x as
 * fast in V8): each round adds T1 to the variable playing h, adds that to d's, then adds T2.
 */
function rounds(kw: Int32Array, base: number): void {
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let i = base; i < base + 64; i += 8) {
    h = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + kw[i]!) | 0;
    d = (d + h) | 0;
    h = (h + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    g = (g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) + ((d & e) ^ (~d & f)) + kw[i + 1]!) | 0;
    c = (c + g) | 0;
    g = (g + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b))) | 0;
    f = (f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) + ((c & d) ^ (~c & e)) + kw[i + 2]!) | 0;
    b = (b + f) | 0;
    f = (f + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a))) | 0;
    e = (e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) + ((b & c) ^ (~b & d)) + kw[i + 3]!) | 0;
    a = (a + e) | 0;
    e = (e + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h))) | 0;
    d = (d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) + ((a & b) ^ (~a & c)) + kw[i + 4]!) | 0;
    h = (h + d) | 0;
    d = (d + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g))) | 0;
    c = (c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + ((h & a) ^ (~h & b)) + kw[i + 5]!) | 0;
    g = (g + c) | 0;
    c = (c + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f))) | 0;
    b = (b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) + ((g & h) ^ (~g & a)) + kw[i + 6]!) | 0;
    f = (f + b) | 0;
    b = (b + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e))) | 0;
    a = (a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) + ((f & g) ^ (~f & h)) + kw[i + 7]!) | 0;
    e = (e + a) | 0;
    a = (a + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d))) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

function word(x: Uint8Array, i: number): number {
  return (x[i]! << 24) | (x[i + 1]! << 16) | (x[i + 2]! << 8) | x[i + 3]!;
}

function digest(out: Uint8Array = new Uint8Array(32), off = 0): Uint8Array {
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out[off + 4 * i] = v >>> 24;
    out[off + 4 * i + 1] = v >>> 16;
    out[off + 4 * i + 2] = v >>> 8;
    out[off + 4 * i + 3] = v;
  }
  return out;
}

/** sha256(tag || a || b) for 32-byte a and b: the tree's leaf and internal node hashes. */
export function sha256Pair(tag: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  return sha256PairAt(tag, a, 0, b, 0, new Uint8Array(32), 0);
}

/** sha256(tag || a[ao..ao+32] || b[bo..bo+32]) written to out[oo..oo+32] (which may overlap a or b). */
export function sha256PairAt(tag: number, a: Uint8Array, ao: number, b: Uint8Array, bo: number, out: Uint8Array, oo: number): Uint8Array {
  H.set(IV);
  W[0] = (tag << 24) | (a[ao]! << 16) | (a[ao + 1]! << 8) | a[ao + 2]!;
  for (let i = 1; i < 8; i++) W[i] = word(a, ao + 4 * i - 1);
  W[8] = (a[ao + 31]! << 24) | (b[bo]! << 16) | (b[bo + 1]! << 8) | b[bo + 2]!;
  for (let i = 9; i < 16; i++) W[i] = word(b, bo + 4 * i - 33);
  compress();
  rounds(PAIR_TAIL_KW, b[bo + 31]! * 64);
  return digest(out, oo);
}

/** sha256 of any input, written to out[outOff..outOff+32] if `out` is given. */
export function sha256(data: Uint8Array, out?: Uint8Array, outOff = 0): Uint8Array {
  return sha256At(data, 0, data.length, out ?? new Uint8Array(32), outOff);
}

/** sha256(data[start..start+n]) written to out[outOff..outOff+32]: bulk hashing without a view per input. */
export function sha256At(data: Uint8Array, start: number, n: number, out: Uint8Array, outOff: number): Uint8Array {
  if (n > JS_MAX_BYTES) {
    const b = nodeHash('sha256', data.subarray(start, start + n), 'buffer');
    out.set(b, outOff);
    return out;
  }
  H.set(IV);
  const full = n - (n % 64);
  for (let off = 0; off < full; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = word(data, start + off + 4 * i);
    compress();
  }
  // The rest, the pad byte and the 64-bit length fill one or two more blocks.
  const rest = n - full;
  const blocks = rest < 56 ? 1 : 2;
  tail.fill(0, 0, 64 * blocks);
  for (let i = 0; i < rest; i++) tail[i] = data[start + full + i]!;
  tail[rest] = 0x80;
  const bits = n * 8;
  const end = 64 * blocks;
  tail[end - 4] = bits >>> 24;
  tail[end - 3] = bits >>> 16;
  tail[end - 2] = bits >>> 8;
  tail[end - 1] = bits;
  for (let off = 0; off < end; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = word(tail, off + 4 * i);
    compress();
  }
  return digest(out, outOff);
}
