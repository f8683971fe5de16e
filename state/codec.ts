/**
 * LevelDB layout of the state tree and the byte encodings of what is stored there.
 *
 * Every key starts with the caller's prefix byte P, then a tag byte:
 *   P 'm'                                -> u64 first version ever committed (written once)
 *   P 'n' | u64 version | u16 depth | path -> packed node written in that version (packed.ts)
 *   P 'n' | u64 version | 0xfffd | keyHash -> leaf written in that version: u16 key length | key | value
 *   P 'n' | u64 version | 0xfffe           -> stale record: the ids that version replaced or deleted
 *   P 'n' | u64 version | 0xffff           -> root record of that version
 *   P 'r' 0x00                           -> only while a snapshot restore runs (restore.ts): its
 *   P 'r' 0x01 | u32 index               -> header, and the chunks it has written
 * A node's path is the first `depth` bits of any keyHash below it, in ceil(depth / 8) bytes, unused
 * low bits zero; an id is a key without its first two bytes. Integers are big-endian, so everything
 * one version writes is one run of keys after every older one: LevelDB flushes it into files that
 * overlap no older file, and compactions have nothing to merge (only pruning deletes old keys). The
 * last key of the run is the root record, so the last 'n' key is the latest root.
 *
 * Nodes are keyed by position and version, never by hash, so identical content written again in a
 * later version is a different node and pruning one can never break the other. A leaf is keyed by
 * keyHash and version, not by position, so leaves that move up or down are never rewritten.
 */
import { StateError } from './errors.ts';
import { HASH_BYTES, leafHash, MAX_DEPTH } from './hashing.ts';

export const TAG_META = 0x6d; // 'm'
export const TAG_NODE = 0x6e; // 'n'
export const TAG_RESTORE = 0x72; // 'r'

/** The prefix byte of a tree opened without one ('s'). */
export const DEFAULT_PREFIX = 0x73;

/** Longest key accepted (its length is stored in two bytes; long keys belong in values). */
export const MAX_KEY_BYTES = 1024;

/** A leaf: its record's id (version, keyHash), and what it hashes to. */
export interface LeafRef {
  readonly kind: 'leaf';
  readonly hash: Uint8Array;
  readonly version: number;
  readonly keyHash: Uint8Array;
  readonly valueHash: Uint8Array;
}

/** A packed node record: the version that wrote it (its position comes from the walk) and its hash. */
export interface NodeRef {
  readonly kind: 'node';
  readonly hash: Uint8Array;
  readonly version: number;
}

/** What a root record points at. */
export type RootRef = LeafRef | NodeRef;

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

export function corrupt(what: string): StateError {
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

// The depth field of the records that are not nodes (no node is deeper than MAX_DEPTH).
const LEAF_ID = 0xfffd;
const STALE_ID = 0xfffe;
const ROOT_ID = 0xffff;

export type RecordKind = 'node' | 'leaf' | 'stale' | 'root';

/** What the key of a record under P 'n' names: its kind and the version that wrote it. */
export function describeKey(key: Uint8Array): { kind: RecordKind; version: number } {
  if (key.length < 12 || key[1] !== TAG_NODE) throw corrupt('not a state tree record key');
  const d = (key[10]! << 8) | key[11]!;
  const kind = d === ROOT_ID ? 'root' : d === STALE_ID ? 'stale' : d === LEAF_ID ? 'leaf' : 'node';
  return { kind, version: readU64(key, 2) };
}

/** A stored packed node this version replaced, or a leaf record it replaced or deleted. */
export type StaleId =
  | { readonly kind: 'node'; readonly version: number; readonly depth: number; readonly path: Uint8Array }
  | { readonly kind: 'leaf'; readonly version: number; readonly keyHash: Uint8Array };

function idBytes(id: StaleId): number {
  return id.kind === 'node' ? 10 + pathBytes(id.depth) : 10 + HASH_BYTES;
}

function writeId(buf: Uint8Array, off: number, id: StaleId): number {
  if (id.kind === 'node') return writeNodeId(buf, off, id.version, id.depth, id.path);
  writeU64(buf, off, id.version);
  buf[off + 8] = LEAF_ID >>> 8;
  buf[off + 9] = LEAF_ID & 0xff;
  buf.set(id.keyHash, off + 10);
  return off + 10 + HASH_BYTES;
}

/** Ids back to back (a stale record); each is self-delimiting through its depth field. */
export function encodeStaleIds(ids: readonly StaleId[]): Uint8Array {
  let n = 0;
  for (const x of ids) n += idBytes(x);
  const buf = new Uint8Array(n);
  let off = 0;
  for (const x of ids) off = writeId(buf, off, x);
  return buf;
}

/** The database keys of the ids in a stale record. */
export function staleRecordKeys(prefix: number, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 10 > bytes.length) throw corrupt('truncated stale record');
    const depth = (bytes[off + 8]! << 8) | bytes[off + 9]!;
    if (depth > MAX_DEPTH && depth !== LEAF_ID) throw corrupt('stale record depth out of range');
    const end = off + 10 + (depth === LEAF_ID ? HASH_BYTES : pathBytes(depth));
    if (end > bytes.length) throw corrupt('truncated stale record');
    const key = new Uint8Array(2 + end - off);
    key[0] = prefix;
    key[1] = TAG_NODE;
    key.set(bytes.subarray(off, end), 2);
    out.push(key);
    off = end;
  }
  return out;
}

export function staleIdKey(prefix: number, id: StaleId): Uint8Array {
  const buf = new Uint8Array(2 + idBytes(id));
  buf[0] = prefix;
  buf[1] = TAG_NODE;
  writeId(buf, 2, id);
  return buf;
}

export function nodeKey(prefix: number, version: number, depth: number, pathSrc: Uint8Array): Uint8Array {
  const buf = new Uint8Array(12 + pathBytes(depth));
  buf[0] = prefix;
  buf[1] = TAG_NODE;
  writeNodeId(buf, 2, version, depth, pathSrc);
  return buf;
}

export function leafKey(prefix: number, version: number, keyHash: Uint8Array): Uint8Array {
  return staleIdKey(prefix, { kind: 'leaf', version, keyHash });
}

function versionKey(prefix: number, version: number, id: number): Uint8Array {
  const buf = new Uint8Array(12);
  buf[0] = prefix;
  buf[1] = TAG_NODE;
  writeU64(buf, 2, version);
  buf[10] = id >>> 8;
  buf[11] = id & 0xff;
  return buf;
}

export function rootKey(prefix: number, version: number): Uint8Array {
  return versionKey(prefix, version, ROOT_ID);
}

export function staleKey(prefix: number, version: number): Uint8Array {
  return versionKey(prefix, version, STALE_ID);
}

export function metaKey(prefix: number): Uint8Array {
  return Uint8Array.of(prefix, TAG_META);
}

/** The header of a snapshot restore in progress (restore.ts): u8 format 1 | u64 version | root. */
export function restoreHeaderKey(prefix: number): Uint8Array {
  return Uint8Array.of(prefix, TAG_RESTORE, 0x00);
}

export function decodeRestoreHeader(bytes: Uint8Array): { version: number; root: Uint8Array } {
  if (bytes.length !== 9 + HASH_BYTES || bytes[0] !== 1) throw corrupt('bad snapshot restore header');
  return { version: readU64(bytes, 1), root: bytes.slice(9) };
}

/** [gte, lt) bounds covering every key with the given tag. */
export function tagRange(prefix: number, tag: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix, tag), lt: Uint8Array.of(prefix, tag + 1) };
}

// ---- leaves ----

/** Allocates the bytes of one encoding (an arena can hand out views of one large buffer). */
export type Alloc = (n: number) => Uint8Array;
const heapAlloc: Alloc = (n) => new Uint8Array(n);

export function makeLeaf(version: number, keyHash: Uint8Array, valueHash: Uint8Array, hash = leafHash(keyHash, valueHash)): LeafRef {
  return { kind: 'leaf', hash, version, keyHash, valueHash };
}

export function encodeLeafRecord(key: Uint8Array, value: Uint8Array, alloc: Alloc = heapAlloc): Uint8Array {
  const buf = alloc(2 + key.length + value.length);
  buf[0] = key.length >>> 8;
  buf[1] = key.length & 0xff;
  buf.set(key, 2);
  buf.set(value, 2 + key.length);
  return buf;
}

/** The key and value in a leaf record; both share memory with `bytes`. */
export function decodeLeafRecord(bytes: Uint8Array): { key: Uint8Array; value: Uint8Array } {
  if (bytes.length < 2) throw corrupt('truncated leaf');
  const keyLen = (bytes[0]! << 8) | bytes[1]!;
  if (2 + keyLen > bytes.length) throw corrupt('truncated leaf key');
  return { key: bytes.subarray(2, 2 + keyLen), value: bytes.subarray(2 + keyLen) };
}

// ---- root records ----

const ROOT_EMPTY = 0;
const ROOT_NODE = 1;
const ROOT_LEAF = 2;
const LEAF_BYTES = 8 + 2 * HASH_BYTES;
const NODE_BYTES = 8 + HASH_BYTES;

/** A root record: the version's root, and the oldest version kept once it was committed. */
export interface RootRecord {
  readonly ref: RootRef | null;
  readonly oldest: number;
}

/**
 * kind (0 empty, 1 node, 2 leaf) | u64 oldest kept version | for a node: u64 version | hash; for
 * the lone leaf: u64 version | keyHash | valueHash.
 */
export function encodeRoot(ref: RootRef | null, oldest: number): Uint8Array {
  const buf = new Uint8Array(9 + (ref === null ? 0 : ref.kind === 'node' ? NODE_BYTES : LEAF_BYTES));
  buf[0] = ref === null ? ROOT_EMPTY : ref.kind === 'node' ? ROOT_NODE : ROOT_LEAF;
  writeU64(buf, 1, oldest);
  if (ref === null) return buf;
  writeU64(buf, 9, ref.version);
  if (ref.kind === 'node') buf.set(ref.hash, 17);
  else {
    buf.set(ref.keyHash, 17);
    buf.set(ref.valueHash, 17 + HASH_BYTES);
  }
  return buf;
}

export function decodeRoot(bytes: Uint8Array): RootRecord {
  const kind = bytes[0];
  const size = 9 + (kind === ROOT_NODE ? NODE_BYTES : kind === ROOT_LEAF ? LEAF_BYTES : 0);
  if ((kind !== ROOT_EMPTY && kind !== ROOT_NODE && kind !== ROOT_LEAF) || bytes.length !== size) throw corrupt('bad root record');
  const oldest = readU64(bytes, 1);
  if (kind === ROOT_EMPTY) return { ref: null, oldest };
  const version = readU64(bytes, 9);
  if (kind === ROOT_NODE) return { ref: { kind: 'node', hash: bytes.slice(17), version }, oldest };
  return { ref: makeLeaf(version, bytes.slice(17, 17 + HASH_BYTES), bytes.slice(17 + HASH_BYTES)), oldest };
}
