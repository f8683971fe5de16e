/**
 * LevelDB layout of the state tree and the byte encodings of what is stored there.
 *
 * Every key starts with the caller's prefix byte P, then a tag byte:
 *   P 'm'                          -> u64 first version ever committed (written once)
 *   P 'n' | nodeId                 -> node (immutable once written)
 *   P 'r' | u64 version            -> root record of that version
 *   P 's' | u64 staleSinceVersion  -> concatenated nodeIds that version replaced or deleted
 * nodeId = u64 version the node was written in | u16 depth | the first `depth` bits of the path,
 * in ceil(depth / 8) bytes, unused low bits zero. Integers are big-endian so LevelDB orders by
 * version. Nodes are keyed by position and version, never by hash, so identical content written
 * again in a later version is a different node and pruning one can never break the other.
 */
import { StateError } from './errors.ts';
import { HASH_BYTES, MAX_DEPTH } from './hashing.ts';

export const TAG_META = 0x6d; // 'm'
export const TAG_NODE = 0x6e; // 'n'
export const TAG_ROOT = 0x72; // 'r'
export const TAG_STALE = 0x73; // 's'

/** Longest key accepted (its length is stored in two bytes; long keys belong in values). */
export const MAX_KEY_BYTES = 1024;

/** Where a child lives and what it hashes to; `leaf` tells the reader which node kind to expect. */
export interface ChildRef {
  readonly hash: Uint8Array;
  readonly version: number;
  readonly leaf: boolean;
}

export interface InternalNode {
  readonly kind: 'internal';
  readonly left: ChildRef | null;
  readonly right: ChildRef | null;
}

export interface LeafNode {
  readonly kind: 'leaf';
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export type TreeNode = InternalNode | LeafNode;

// ---- integers (no BigInt: these run thousands of times per block) ----

export function writeU64(buf: Uint8Array, off: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

export function readU64(buf: Uint8Array, off: number): number {
  if (off + 8 > buf.length) throw corrupt('truncated integer');
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  if (hi > 0x1f_ffff) throw corrupt('version beyond safe integer');
  return hi * 0x1_0000_0000 + lo;
}

function corrupt(what: string): StateError {
  return new StateError('corrupt', `state database corrupt: ${what}`);
}

// ---- keys ----

export function pathBytes(depth: number): number {
  return (depth + 7) >> 3;
}

/** Writes nodeId(version, depth, first `depth` bits of pathSrc) at `off`; returns the end offset. */
function writeNodeId(buf: Uint8Array, off: number, version: number, depth: number, pathSrc: Uint8Array): number {
  writeU64(buf, off, version);
  buf[off + 8] = depth >>> 8;
  buf[off + 9] = depth & 0xff;
  const n = pathBytes(depth);
  for (let i = 0; i < n; i++) buf[off + 10 + i] = pathSrc[i] ?? 0;
  const rest = depth & 7;
  if (rest !== 0) buf[off + 9 + n] = buf[off + 9 + n]! & ((0xff << (8 - rest)) & 0xff);
  return off + 10 + n;
}

/** Where a node sits: the version it was written in, its depth, and a path through it. */
export interface NodePos {
  readonly version: number;
  readonly depth: number;
  readonly path: Uint8Array;
}

/** nodeIds of `nodes` back to back (a stale record). */
export function encodeNodeIds(nodes: readonly NodePos[]): Uint8Array {
  let n = 0;
  for (const x of nodes) n += 10 + pathBytes(x.depth);
  const buf = new Uint8Array(n);
  let off = 0;
  for (const x of nodes) off = writeNodeId(buf, off, x.version, x.depth, x.path);
  return buf;
}

export function nodeKey(prefix: number, version: number, depth: number, pathSrc: Uint8Array): Uint8Array {
  const buf = new Uint8Array(12 + pathBytes(depth));
  buf[0] = prefix;
  buf[1] = TAG_NODE;
  writeNodeId(buf, 2, version, depth, pathSrc);
  return buf;
}

export function nodeKeyOfId(prefix: number, id: Uint8Array): Uint8Array {
  const buf = new Uint8Array(2 + id.length);
  buf[0] = prefix;
  buf[1] = TAG_NODE;
  buf.set(id, 2);
  return buf;
}

function versionKey(prefix: number, tag: number, version: number): Uint8Array {
  const buf = new Uint8Array(10);
  buf[0] = prefix;
  buf[1] = tag;
  writeU64(buf, 2, version);
  return buf;
}

export function rootKey(prefix: number, version: number): Uint8Array {
  return versionKey(prefix, TAG_ROOT, version);
}

export function staleKey(prefix: number, version: number): Uint8Array {
  return versionKey(prefix, TAG_STALE, version);
}

export function metaKey(prefix: number): Uint8Array {
  return Uint8Array.of(prefix, TAG_META);
}

/** [gte, lt) bounds covering every key with the given tag. */
export function tagRange(prefix: number, tag: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix, tag), lt: Uint8Array.of(prefix, tag + 1) };
}

/** The version in a root or stale key. */
export function versionOfKey(key: Uint8Array): number {
  if (key.length !== 10) throw corrupt('bad version key length');
  return readU64(key, 2);
}

/** A stale record is nodeIds back to back; each is self-delimiting through its depth. */
export function splitNodeIds(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 10 > bytes.length) throw corrupt('truncated stale record');
    const depth = (bytes[off + 8]! << 8) | bytes[off + 9]!;
    if (depth > MAX_DEPTH) throw corrupt('stale record depth out of range');
    const end = off + 10 + pathBytes(depth);
    if (end > bytes.length) throw corrupt('truncated stale record');
    out.push(bytes.subarray(off, end));
    off = end;
  }
  return out;
}

// ---- latin1 identity strings (Map keys for caches); for short arrays such as keys ----

export function idString(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

// ---- nodes ----

const NODE_LEAF = 0x00;
const NODE_INTERNAL = 0x01;
const L_PRESENT = 1;
const L_LEAF = 2;
const R_PRESENT = 4;
const R_LEAF = 8;

/** Allocates the bytes of one encoded node (an arena can hand out views of one large buffer). */
export type Alloc = (n: number) => Uint8Array;
const heapAlloc: Alloc = (n) => new Uint8Array(n);

export function encodeInternal(left: ChildRef | null, right: ChildRef | null, alloc: Alloc = heapAlloc): Uint8Array {
  const buf = alloc(2 + (left ? 40 : 0) + (right ? 40 : 0));
  buf[0] = NODE_INTERNAL;
  let flags = 0;
  let off = 2;
  if (left) {
    flags |= L_PRESENT | (left.leaf ? L_LEAF : 0);
    buf.set(left.hash, off);
    writeU64(buf, off + HASH_BYTES, left.version);
    off += 40;
  }
  if (right) {
    flags |= R_PRESENT | (right.leaf ? R_LEAF : 0);
    buf.set(right.hash, off);
    writeU64(buf, off + HASH_BYTES, right.version);
  }
  buf[1] = flags;
  return buf;
}

export function encodeLeaf(keyHash: Uint8Array, key: Uint8Array, value: Uint8Array, alloc: Alloc = heapAlloc): Uint8Array {
  const buf = alloc(1 + HASH_BYTES + 2 + key.length + value.length);
  buf[0] = NODE_LEAF;
  buf.set(keyHash, 1);
  buf[33] = key.length >>> 8;
  buf[34] = key.length & 0xff;
  buf.set(key, 35);
  buf.set(value, 35 + key.length);
  return buf;
}

/** Decodes a stored node; the returned node shares memory with `bytes`. */
export function decodeNode(bytes: Uint8Array): TreeNode {
  if (bytes[0] === NODE_LEAF) {
    if (bytes.length < 35) throw corrupt('truncated leaf');
    const keyLen = (bytes[33]! << 8) | bytes[34]!;
    if (35 + keyLen > bytes.length) throw corrupt('truncated leaf key');
    return {
      kind: 'leaf',
      keyHash: bytes.subarray(1, 33),
      key: bytes.subarray(35, 35 + keyLen),
      value: bytes.subarray(35 + keyLen),
    };
  }
  if (bytes[0] !== NODE_INTERNAL || bytes.length < 2) throw corrupt('unknown node tag');
  const flags = bytes[1]!;
  if (flags & ~0x0f) throw corrupt('unknown internal node flags');
  let off = 2;
  const child = (present: number, leaf: number): ChildRef | null => {
    if (!(flags & present)) {
      if (flags & leaf) throw corrupt('leaf flag on an empty child');
      return null;
    }
    if (off + 40 > bytes.length) throw corrupt('truncated internal node');
    const ref = { hash: bytes.subarray(off, off + HASH_BYTES), version: readU64(bytes, off + HASH_BYTES), leaf: (flags & leaf) !== 0 };
    off += 40;
    return ref;
  };
  const left = child(L_PRESENT, L_LEAF);
  const right = child(R_PRESENT, R_LEAF);
  if (off !== bytes.length) throw corrupt('internal node length');
  // Leaf compression: an internal node always holds two or more leaves below it.
  if (!(left && right) && !(left && !left.leaf) && !(right && !right.leaf)) throw corrupt('internal node with one leaf');
  return { kind: 'internal', left, right };
}

// ---- root records ----

const ROOT_EMPTY = 0;
const ROOT_INTERNAL = 1;
const ROOT_LEAF = 2;

/** A root record points at the node at depth 0 (possibly written in an older version), or says empty. */
export function encodeRoot(ref: ChildRef | null): Uint8Array {
  if (!ref) return Uint8Array.of(ROOT_EMPTY);
  const buf = new Uint8Array(1 + 40);
  buf[0] = ref.leaf ? ROOT_LEAF : ROOT_INTERNAL;
  buf.set(ref.hash, 1);
  writeU64(buf, 1 + HASH_BYTES, ref.version);
  return buf;
}

export function decodeRoot(bytes: Uint8Array): ChildRef | null {
  if (bytes.length === 1 && bytes[0] === ROOT_EMPTY) return null;
  if (bytes.length !== 41 || (bytes[0] !== ROOT_INTERNAL && bytes[0] !== ROOT_LEAF)) throw corrupt('bad root record');
  return { hash: bytes.slice(1, 33), version: readU64(bytes, 33), leaf: bytes[0] === ROOT_LEAF };
}
