/**
 * Hashing of the state tree, domain separated so that a leaf can never be read as an internal node:
 *
 *   keyHash        = sha256(key)
 *   empty subtree  = 32 zero bytes
 *   leaf           = sha256(0x00 || keyHash || sha256(value))
 *   internal       = sha256(0x01 || leftHash || rightHash)
 *
 * Bit i of a keyHash (most significant bit of byte 0 first) chooses the child at depth i: 0 = left,
 * 1 = right. A subtree holding exactly one leaf is that leaf, placed at the shallowest depth where its
 * keyHash prefix is unique (leaf compression), so a tree of n random keys is about log2(n) deep.
 * The root therefore depends only on the set of (key, value) pairs.
 */
import { sha256Pair } from './sha256.ts';

export const HASH_BYTES = 32;
/** keyHashes have 256 bits, so no node sits deeper than this. */
export const MAX_DEPTH = 256;
export const EMPTY_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

export { sha256 } from './sha256.ts';

export function leafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return sha256Pair(0x00, keyHash, valueHash);
}

export function internalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Pair(0x01, left, right);
}

/** Orders 32-byte hashes as unsigned big-endian numbers (without a call into C++ per pair). */
export function compareHashes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < HASH_BYTES; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Bit `i` of `h`, most significant bit of byte 0 first. */
export function bitAt(h: Uint8Array, i: number): number {
  return ((h[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
}

/**
 * A copy of `path` with bit `depth` set: the path of a right child. Paths are never mutated, so a
 * left child shares its parent's path (bits past a node's depth are zero).
 */
export function withBit(path: Uint8Array, depth: number): Uint8Array {
  const p = path.slice();
  p[depth >> 3] = (p[depth >> 3] ?? 0) | (0x80 >> (depth & 7));
  return p;
}

/** Whether `a` (from `aOff`) and `b` agree on their first `bits` bits. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number, aOff = 0): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[aOff + i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((a[aOff + whole] ?? 0) ^ (b[whole] ?? 0)) & mask) === 0;
}

export function isEmptyHash(h: Uint8Array): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/** Whether the subtree at (path, depth) holds any keyHash in [gte, lt). */
export function overlaps(path: Uint8Array, depth: number, gte: Uint8Array | undefined, lt: Uint8Array | undefined): boolean {
  if (lt && compareHashes(path, lt) >= 0) return false; // path (zeros past depth) is the subtree's least keyHash
  return !(gte && compareHashes(greatestBelow(path, depth), gte) < 0);
}

/** The greatest keyHash in the subtree at (path, depth): path with every bit past depth set. */
export function greatestBelow(path: Uint8Array, depth: number): Uint8Array {
  const max = path.slice();
  if (depth & 7) max[depth >> 3] = max[depth >> 3]! | (0xff >> (depth & 7));
  max.fill(0xff, (depth + 7) >> 3);
  return max;
}
