/**
 * Packed nodes: PACK_LEVELS levels of the binary tree below a depth that is a multiple of
 * PACK_LEVELS, stored as one record and held in memory as one byte array (one object per node
 * instead of dozens keeps the cache compact and the garbage collector idle).
 *
 * Slots are numbered as a heap: position 1 is the node's root (always an inner node), positions
 * 2p and 2p+1 are the children of p, and positions FIRST_CHILD_POS..LAST_POS, at relative depth
 * PACK_LEVELS, hold leaves or the roots of child packed nodes. A slot is empty, inner (rel depth <
 * PACK_LEVELS), a leaf (any rel depth >= 1) or a child node (rel depth PACK_LEVELS).
 *
 * Record (LevelDB value): 0x02 | the 2-bit kind of each position 2..LAST_POS, MSB first | in
 * depth-first (= keyHash) order, each leaf as age | keyHash | valueHash, and each child node as
 * age | hash, where age = this node's version - the leaf's or child's version as a LEB128 varint.
 * Inner and leaf hashes are not stored: decoding recomputes them and the reader checks the root
 * against the parent's reference, so records stay small.
 *
 * Memory: b[pos] kind | u16 offset of each position's entry at OFFS + 2 pos | the entries, in no
 * particular order: inner = hash; node = hash | u64 version; leaf = hash | keyHash | valueHash |
 * u64 version.
 */
import { corrupt, makeLeaf, readU64, writeU64 } from './codec.ts';
import type { Alloc, LeafRef, NodeRef } from './codec.ts';
import { bitAt, EMPTY_HASH, HASH_BYTES, MAX_DEPTH, overlaps, samePrefix, withBit } from './hashing.ts';
import { sha256PairAt } from './sha256.ts';

export const PACK_LEVELS = 4;
/** The first position at relative depth PACK_LEVELS. */
export const FIRST_CHILD_POS = 1 << PACK_LEVELS;
export const LAST_POS = 2 * FIRST_CHILD_POS - 1;

export const K_EMPTY = 0;
export const K_INNER = 1;
export const K_LEAF = 2;
export const K_NODE = 3;

const OFFS = LAST_POS + 1;
const ENTRIES = OFFS + 2 * (LAST_POS + 1);
const ENTRY_SIZE = [0, HASH_BYTES, 3 * HASH_BYTES + 8, HASH_BYTES + 8];
const RECORD_TAG = 0x02;
const KIND_BYTES = (2 * (LAST_POS - 1) + 7) >> 3;

// ---- varints: versions in records are stored as (node version - child version), mostly 1-2 bytes ----

function writeVarint(out: Uint8Array, off: number, n: number): number {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out[off++] = (n % 0x80) | 0x80;
  out[off] = n;
  return off + 1;
}

let varintEnd = 0;

/** Reads a minimal LEB128 varint of at most 8 bytes at `off`; sets varintEnd. */
function readVarint(rec: Uint8Array, off: number): number {
  let n = 0;
  for (let i = 0, scale = 1; i < 8; i++, scale *= 0x80) {
    const byte = rec[off + i];
    if (byte === undefined) throw corrupt('truncated packed node');
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw corrupt('non-minimal varint in packed node');
      varintEnd = off + i + 1;
      return n;
    }
  }
  throw corrupt('varint too long in packed node');
}

function copy(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, n: number): void {
  for (let i = 0; i < n; i++) dst[dOff + i] = src[sOff + i]!;
}

/** A packed node in memory (see the layout above); immutable once built. */
export class PackedNode {
  readonly b: Uint8Array;
  /** The version that wrote this node. */
  readonly version: number;

  constructor(b: Uint8Array, version: number) {
    this.b = b;
    this.version = version;
  }

  kind(pos: number): number {
    return this.b[pos]!;
  }

  /** Where the entry of `pos` starts: its hash; a leaf's keyHash follows at +32, valueHash at +64. */
  at(pos: number): number {
    const i = OFFS + 2 * pos;
    return (this.b[i]! << 8) | this.b[i + 1]!;
  }

  hash(pos: number): Uint8Array {
    const o = this.at(pos);
    return this.b.subarray(o, o + HASH_BYTES);
  }

  /** The version of the leaf or child node at `pos`. */
  versionAt(pos: number): number {
    return readU64(this.b, this.at(pos) + (this.b[pos] === K_LEAF ? 3 * HASH_BYTES : HASH_BYTES));
  }

  /** Whether the hash of `pos` is `hash` (at `off`). */
  hashIs(pos: number, hash: Uint8Array, off = 0): boolean {
    return this.#equals(this.at(pos), hash, off);
  }

  /** Whether the leaf at `pos` has this keyHash. */
  isKey(pos: number, keyHash: Uint8Array): boolean {
    return this.#equals(this.at(pos) + HASH_BYTES, keyHash);
  }

  #equals(o: number, h: Uint8Array, off = 0): boolean {
    for (let i = 0; i < HASH_BYTES; i++) if (this.b[o + i] !== h[off + i]) return false;
    return true;
  }

  /** The leaf at `pos` (its arrays view this node's memory: copy them to hand them out). */
  leaf(pos: number): LeafRef {
    const o = this.at(pos);
    const b = this.b;
    return makeLeaf(this.versionAt(pos), b.subarray(o + HASH_BYTES, o + 2 * HASH_BYTES), b.subarray(o + 2 * HASH_BYTES, o + 3 * HASH_BYTES), b.subarray(o, o + HASH_BYTES));
  }

  /** The child node at `pos` (its hash views this node's memory). */
  node(pos: number): NodeRef {
    const o = this.at(pos);
    return { kind: 'node', hash: this.b.subarray(o, o + HASH_BYTES), version: readU64(this.b, o + HASH_BYTES) };
  }
}

/** A child node to read: its reference and where it sits. */
export interface ChildRead {
  readonly ref: NodeRef;
  readonly depth: number;
  readonly path: Uint8Array;
}

/**
 * The leaves and child nodes of `node` (at depth, path) in keyHash order, those whose subtrees
 * meet [gte, lt). Leaves view the node's memory.
 */
export function frontierOf(node: PackedNode, depth: number, path: Uint8Array, gte?: Uint8Array, lt?: Uint8Array): (ChildRead | LeafRef)[] {
  const out: (ChildRead | LeafRef)[] = [];
  const walk = (pos: number, d: number, p: Uint8Array): void => {
    if (!overlaps(p, d, gte, lt)) return;
    const k = node.kind(pos);
    if (k === K_INNER) {
      walk(2 * pos, d + 1, p);
      walk(2 * pos + 1, d + 1, withBit(p, d));
    } else if (k === K_NODE) out.push({ ref: node.node(pos), depth: d, path: p });
    else if (k === K_LEAF) out.push(node.leaf(pos));
  };
  walk(1, depth, path);
  return out;
}

/** Relative depth of a position. */
export function relDepth(pos: number): number {
  return 31 - Math.clz32(pos);
}

/**
 * Lays out a new packed node in a scratch array, entries in the order the slots are set, and copies
 * it out whole at the end (one allocation per node). Slots are set parent first, left before right,
 * so leaves and child nodes arrive in keyHash order: their record entries are written as they come.
 * Reusable: start() begins the next node.
 */
export class PackedBuilder {
  readonly #b = new Uint8Array(ENTRIES + (LAST_POS - 1) * ENTRY_SIZE[K_LEAF]! + HASH_BYTES);
  #off = ENTRIES;
  /** The record's entries so far (after its tag and kinds). */
  readonly #rec = new Uint8Array(FIRST_CHILD_POS * (9 + 2 * HASH_BYTES));
  #recOff = 0;
  #version = 0;

  /** Begins a node of `version`. */
  start(version: number): this {
    this.#b.fill(0, 0, ENTRIES);
    this.#off = ENTRIES;
    this.#recOff = 0;
    this.#version = version;
    return this;
  }

  /** Claims the entry of `pos`; returns its offset. */
  #set(pos: number, kind: number): number {
    const b = this.#b;
    const off = this.#off;
    b[pos] = kind;
    b[OFFS + 2 * pos] = off >>> 8;
    b[OFFS + 2 * pos + 1] = off & 0xff;
    this.#off = off + ENTRY_SIZE[kind]!;
    return off;
  }

  /** Appends a record entry: age, then `n` bytes of src from sOff. */
  #record(version: number, src: Uint8Array, sOff: number, n: number): void {
    const off = writeVarint(this.#rec, this.#recOff, this.#version - version);
    copy(this.#rec, off, src, sOff, n);
    this.#recOff = off + n;
  }

  /** An inner node whose hash is at hash[off..off+32]. */
  inner(pos: number, hash: Uint8Array, off: number): void {
    copy(this.#b, this.#set(pos, K_INNER), hash, off, HASH_BYTES);
  }

  leaf(pos: number, leaf: LeafRef): void {
    const off = this.#set(pos, K_LEAF);
    copy(this.#b, off, leaf.hash, 0, HASH_BYTES);
    copy(this.#b, off + HASH_BYTES, leaf.keyHash, 0, HASH_BYTES);
    copy(this.#b, off + 2 * HASH_BYTES, leaf.valueHash, 0, HASH_BYTES);
    writeU64(this.#b, off + 3 * HASH_BYTES, leaf.version);
    this.#record(leaf.version, this.#b, off + HASH_BYTES, 2 * HASH_BYTES);
  }

  node(pos: number, ref: NodeRef): void {
    const off = this.#set(pos, K_NODE);
    copy(this.#b, off, ref.hash, 0, HASH_BYTES);
    writeU64(this.#b, off + HASH_BYTES, ref.version);
    this.#record(ref.version, ref.hash, 0, HASH_BYTES);
  }

  /** Copies slot `from` of `node` and everything below it to `pos` (a leaf may move; the rest stays). */
  copy(pos: number, node: PackedNode, from: number): void {
    const k = node.kind(from);
    if (k === K_EMPTY) return;
    const src = node.at(from);
    copy(this.#b, this.#set(pos, k), node.b, src, ENTRY_SIZE[k]!);
    if (k === K_LEAF) this.#record(node.versionAt(from), node.b, src + HASH_BYTES, 2 * HASH_BYTES);
    else if (k === K_NODE) this.#record(node.versionAt(from), node.b, src, HASH_BYTES);
    else {
      this.copy(2 * pos, node, 2 * from);
      this.copy(2 * pos + 1, node, 2 * from + 1);
    }
  }

  /** The node laid out, and its record (packed.ts encoding) in memory from `alloc`. */
  finish(alloc: Alloc): { node: PackedNode; record: Uint8Array } {
    const node = new PackedNode(this.#b.slice(0, this.#off), this.#version);
    const record = alloc(1 + KIND_BYTES + this.#recOff);
    writeKinds(this.#b, record);
    record.set(this.#rec.subarray(0, this.#recOff), 1 + KIND_BYTES);
    return { node, record };
  }
}

/** The record's tag and the 2-bit kinds of positions 2..LAST_POS (kinds[pos]), MSB first. */
export function writeKinds(kinds: Uint8Array, out: Uint8Array): void {
  out[0] = RECORD_TAG;
  out.fill(0, 1, 1 + KIND_BYTES);
  for (let pos = 2; pos <= LAST_POS; pos++) {
    const bit = 2 * (pos - 2);
    out[1 + (bit >> 3)] = out[1 + (bit >> 3)]! | (kinds[pos]! << (6 - (bit & 7)));
  }
}

// ---- records ----

/** Decodes the record of the packed node at (depth, any path through it), checking its shape. */
export function decodePacked(rec: Uint8Array, version: number, depth: number, path: Uint8Array): PackedNode {
  if (rec.length < 1 + KIND_BYTES || rec[0] !== RECORD_TAG) throw corrupt('unknown node tag');
  if (depth % PACK_LEVELS !== 0 || depth >= MAX_DEPTH) throw corrupt(`packed node at depth ${depth}`);
  if ((rec[KIND_BYTES]! & ((1 << (8 * KIND_BYTES - 2 * (LAST_POS - 1))) - 1)) !== 0) throw corrupt('packed node padding');
  const kinds = new Uint8Array(OFFS);
  kinds[1] = K_INNER;
  let size = ENTRIES + HASH_BYTES;
  for (let pos = 2; pos <= LAST_POS; pos++) {
    const bit = 2 * (pos - 2);
    const k = (rec[1 + (bit >> 3)]! >> (6 - (bit & 7))) & 3;
    if (k === K_EMPTY) continue;
    if (kinds[pos >> 1] !== K_INNER) throw corrupt('packed node slot below a leaf or an empty slot');
    if (k === (pos < FIRST_CHILD_POS ? K_NODE : K_INNER)) throw corrupt('packed node slot of the wrong kind for its depth');
    kinds[pos] = k;
    size += ENTRY_SIZE[k]!;
  }
  const b = new Uint8Array(size);
  let off = ENTRIES;
  for (let pos = 1; pos <= LAST_POS; pos++) {
    if (kinds[pos] === K_EMPTY) continue;
    b[pos] = kinds[pos]!;
    b[OFFS + 2 * pos] = off >>> 8;
    b[OFFS + 2 * pos + 1] = off & 0xff;
    off += ENTRY_SIZE[kinds[pos]!]!;
  }
  const n = new PackedNode(b, version);
  if (readEntries(n, 1, depth, path, rec, 1 + KIND_BYTES) !== rec.length) throw corrupt('packed node length');
  // Children sit at higher positions than their parents: hash from the bottom up.
  const weight = new Uint8Array(OFFS);
  for (let pos = LAST_POS; pos >= 1; pos--) {
    const k = kinds[pos]!;
    if (k !== K_INNER) {
      weight[pos] = k === K_LEAF ? 1 : k === K_NODE ? 2 : 0;
      continue;
    }
    // Leaf compression: an internal node always holds two or more leaves below it.
    if (weight[2 * pos]! + weight[2 * pos + 1]! < 2) throw corrupt('internal node with fewer than two leaves');
    weight[pos] = 2;
    const l = kinds[2 * pos] !== K_EMPTY;
    const r = kinds[2 * pos + 1] !== K_EMPTY;
    sha256PairAt(0x01, l ? b : EMPTY_HASH, l ? n.at(2 * pos) : 0, r ? b : EMPTY_HASH, r ? n.at(2 * pos + 1) : 0, b, n.at(pos));
  }
  return n;
}

/** Fills the leaf and node entries below `pos` from the record at `off`; returns the end offset. */
function readEntries(n: PackedNode, pos: number, depth: number, path: Uint8Array, rec: Uint8Array, off: number): number {
  const k = n.kind(pos);
  if (k === K_INNER) return readEntries(n, 2 * pos + 1, depth, path, rec, readEntries(n, 2 * pos, depth, path, rec, off));
  if (k === K_EMPTY) return off;
  const o = n.at(pos);
  const b = n.b;
  const age = readVarint(rec, off);
  if (age > n.version) throw corrupt('packed node refers to a version before 0');
  off = varintEnd;
  if (k === K_NODE) {
    if (off + HASH_BYTES > rec.length) throw corrupt('truncated packed node');
    writeU64(b, o + HASH_BYTES, n.version - age);
    copy(b, o, rec, off, HASH_BYTES);
    return off + HASH_BYTES;
  }
  if (off + 2 * HASH_BYTES > rec.length) throw corrupt('truncated packed node');
  writeU64(b, o + 3 * HASH_BYTES, n.version - age);
  copy(b, o + HASH_BYTES, rec, off, 2 * HASH_BYTES);
  const keyHash = b.subarray(o + HASH_BYTES, o + 2 * HASH_BYTES);
  if (!samePrefix(keyHash, path, depth)) throw corrupt('leaf outside its node');
  const rel = relDepth(pos);
  for (let i = 0; i < rel; i++) {
    if (bitAt(keyHash, depth + i) !== ((pos >> (rel - 1 - i)) & 1)) throw corrupt('leaf at the wrong position');
  }
  sha256PairAt(0x00, b, o + HASH_BYTES, b, o + 2 * HASH_BYTES, b, o);
  return off + 2 * HASH_BYTES;
}
