/**
 * State proofs and their pure verifier: needs only a trusted root, never the database.
 *
 * A proof lists the sibling hashes along the key's path from the root down (siblings[i] is the
 * other child of the node at depth i) and how the path ends: at the key's own leaf (inclusion), at
 * an empty subtree, or at another key's leaf whose keyHash shares the path (both exclusion).
 * Hashing rules are in hashing.ts.
 */
import { equalBytes } from '../chain/bytes.ts';
import { StateError } from './errors.ts';
import { bitAt, EMPTY_HASH, HASH_BYTES, internalHash, isEmptyHash, leafHash, MAX_DEPTH, samePrefix, sha256 } from './hashing.ts';

export type StateProof =
  | { readonly type: 'inclusion'; readonly siblings: readonly Uint8Array[] }
  | { readonly type: 'exclusion-empty'; readonly siblings: readonly Uint8Array[] }
  | {
      readonly type: 'exclusion-leaf';
      readonly siblings: readonly Uint8Array[];
      readonly leafKeyHash: Uint8Array;
      readonly leafValueHash: Uint8Array;
    };

const TYPE_CODES = { inclusion: 1, 'exclusion-empty': 2, 'exclusion-leaf': 3 } as const;

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

/**
 * Whether `proof` shows that `key` maps to `value` (or, with `value` undefined, is absent) in the
 * tree with root `root`. Returns false for any bad or malformed input; never throws.
 */
export function verifyStateProof(root: Uint8Array, key: Uint8Array, value: Uint8Array | undefined, proof: StateProof): boolean {
  try {
    if (!isHash(root) || !(key instanceof Uint8Array)) return false;
    if (value !== undefined && !(value instanceof Uint8Array)) return false;
    if (typeof proof !== 'object' || proof === null || !Array.isArray(proof.siblings)) return false;
    const siblings = proof.siblings;
    const depth = siblings.length;
    if (depth > MAX_DEPTH || !siblings.every(isHash)) return false;
    const keyHash = sha256(key);
    let node: Uint8Array;
    switch (proof.type) {
      case 'inclusion':
        if (value === undefined) return false;
        node = leafHash(keyHash, sha256(value));
        break;
      case 'exclusion-empty':
        if (value !== undefined) return false;
        node = EMPTY_HASH;
        break;
      case 'exclusion-leaf':
        if (value !== undefined || !isHash(proof.leafKeyHash) || !isHash(proof.leafValueHash)) return false;
        // The other leaf must sit on our key's path, and be another key.
        if (equalBytes(proof.leafKeyHash, keyHash) || !samePrefix(proof.leafKeyHash, keyHash, depth)) return false;
        node = leafHash(proof.leafKeyHash, proof.leafValueHash);
        break;
      default:
        return false;
    }
    for (let d = depth - 1; d >= 0; d--) {
      const sib = siblings[d]!;
      node = bitAt(keyHash, d) === 0 ? internalHash(node, sib) : internalHash(sib, node);
    }
    return equalBytes(node, root);
  } catch {
    return false;
  }
}

/**
 * Canonical bytes: type (1 inclusion, 2 exclusion-empty, 3 exclusion-leaf) | u16 depth |
 * bitmap of non-empty siblings (ceil(depth/8) bytes, MSB first, unused bits zero) | the non-empty
 * siblings, 32 bytes each | for type 3, the other leaf's keyHash and valueHash.
 */
export function encodeStateProof(p: StateProof): Uint8Array {
  const depth = p.siblings.length;
  if (depth > MAX_DEPTH) throw new StateError('proof_malformed', `proof has ${depth} siblings, more than ${MAX_DEPTH}`);
  const mapBytes = (depth + 7) >> 3;
  let present = 0;
  for (const s of p.siblings) {
    if (!isHash(s)) throw new StateError('proof_malformed', 'proof sibling is not a 32-byte hash');
    if (!isEmptyHash(s)) present++;
  }
  const tail = p.type === 'exclusion-leaf' ? 2 * HASH_BYTES : 0;
  const out = new Uint8Array(3 + mapBytes + present * HASH_BYTES + tail);
  out[0] = TYPE_CODES[p.type];
  out[1] = depth >>> 8;
  out[2] = depth & 0xff;
  let off = 3 + mapBytes;
  p.siblings.forEach((s, i) => {
    if (isEmptyHash(s)) return;
    out[3 + (i >> 3)] = out[3 + (i >> 3)]! | (0x80 >> (i & 7));
    out.set(s, off);
    off += HASH_BYTES;
  });
  if (p.type === 'exclusion-leaf') {
    if (!isHash(p.leafKeyHash) || !isHash(p.leafValueHash)) throw new StateError('proof_malformed', 'proof leaf hashes must be 32 bytes');
    out.set(p.leafKeyHash, off);
    out.set(p.leafValueHash, off + HASH_BYTES);
  }
  return out;
}

/** Parses canonical proof bytes; throws StateError 'proof_malformed' saying what is wrong. */
export function decodeStateProof(b: Uint8Array): StateProof {
  const bad = (what: string): StateError => new StateError('proof_malformed', `malformed state proof: ${what}`);
  if (!(b instanceof Uint8Array)) throw bad('not a byte array');
  if (b.length < 3) throw bad('shorter than its header');
  const type = b[0];
  if (type !== 1 && type !== 2 && type !== 3) throw bad(`unknown type ${type}`);
  const depth = (b[1]! << 8) | b[2]!;
  if (depth > MAX_DEPTH) throw bad(`${depth} siblings, more than ${MAX_DEPTH}`);
  const mapBytes = (depth + 7) >> 3;
  if (b.length < 3 + mapBytes) throw bad('truncated sibling bitmap');
  if (depth & 7 && (b[2 + mapBytes]! & (0xff >> (depth & 7))) !== 0) throw bad('bits set past the last sibling');
  let off = 3 + mapBytes;
  const siblings: Uint8Array[] = [];
  for (let i = 0; i < depth; i++) {
    if ((b[3 + (i >> 3)]! & (0x80 >> (i & 7))) === 0) {
      siblings.push(EMPTY_HASH.slice());
      continue;
    }
    if (off + HASH_BYTES > b.length) throw bad('truncated siblings');
    const s = b.slice(off, off + HASH_BYTES);
    if (isEmptyHash(s)) throw bad('empty sibling marked as present');
    siblings.push(s);
    off += HASH_BYTES;
  }
  const tail = type === 3 ? 2 * HASH_BYTES : 0;
  if (b.length !== off + tail) throw bad(`expected ${off + tail} bytes, got ${b.length}`);
  if (type === 1) return { type: 'inclusion', siblings };
  if (type === 2) return { type: 'exclusion-empty', siblings };
  return { type: 'exclusion-leaf', siblings, leafKeyHash: b.slice(off, off + HASH_BYTES), leafValueHash: b.slice(off + HASH_BYTES) };
}
