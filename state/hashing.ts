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
import { sha256 } from '../chain/hash.ts';

export const HASH_BYTES = 32;
/** keyHashes have 256 bits, so no node sits deeper than this. */
export const MAX_DEPTH = 256;
export const EMPTY_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

// One scratch buffer for hash inputs: sha256 is synchronous, and this runs ~10 times per write.
const scratch = new Uint8Array(1 + 2 * HASH_BYTES);

export function leafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  scratch[0] = 0x00;
  scratch.set(keyHash, 1);
  scratch.set(valueHash, 1 + HASH_BYTES);
  return sha256(scratch);
}

export function internalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch[0] = 0x01;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_BYTES);
  return sha256(scratch);
}

export function leafHashOf(keyHash: Uint8Array, value: Uint8Array): Uint8Array {
  return leafHash(keyHash, sha256(value));
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

/**
 * A path for the child on side `bit` of a node at `depth`, given any path through that node (bits
 * past a node's depth are ignored by node keys): the same array when it already goes that way.
 */
export function childPath(path: Uint8Array, depth: number, bit: number): Uint8Array {
  if (bitAt(path, depth) === bit) return path;
  const p = path.slice();
  p[depth >> 3] = (p[depth >> 3] ?? 0) ^ (0x80 >> (depth & 7));
  return p;
}

/** Whether `a` and `b` agree on their first `bits` bits. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((a[whole] ?? 0) ^ (b[whole] ?? 0)) & mask) === 0;
}

export function isEmptyHash(h: Uint8Array): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}
