/**
 * Subtrees built bottom-up from sorted atoms, for snapshots: snapshot.ts builds a chunk's in-range
 * blocks with it while verifying, restore.ts the top of the tree above the chunks' frontiers.
 *
 * An atom is a leaf (keyHash, valueHash, its hash) or an aligned subtree holding two or more
 * leaves whose packed node exists already (depth, path, hash). The combine rule mirrors leaf
 * compression (hashing.ts): no atoms is the empty subtree; one leaf alone is that leaf, wherever it
 * sits below; one node alone at exactly this depth is that node; anything else is an internal node
 * hashed from its two halves (a node atom counts as two or more leaves, so it never moves up).
 *
 * Every packed node the builder creates is emitted as its record (the packed.ts encoding, written
 * directly: the builder's version is every child's and leaf's version, so every age is 0) with its
 * position; a record is built from hashes computed once, here.
 */
import { HASH_BYTES, MAX_DEPTH } from './hashing.ts';
import { FIRST_CHILD_POS, K_EMPTY, K_INNER, K_LEAF, K_NODE, LAST_POS, PACK_LEVELS, writeKinds } from './packed.ts';
import { sha256PairAt } from './sha256.ts';
import { Arena } from './update.ts';

/** What a subtree of some version holds (StateTree.subtreeSummary, snapshot proofs). */
export type SubtreeSummary =
  | { readonly kind: 'empty' }
  | { readonly kind: 'leaf'; readonly keyHash: Uint8Array; readonly valueHash: Uint8Array }
  | { readonly kind: 'node'; readonly hash: Uint8Array };

/** The depth entry of a leaf atom (node atoms hold their depth, a multiple of PACK_LEVELS). */
export const LEAF_ATOM = 0xffff;

/** Atoms in keyHash order, as parallel arrays (a million leaves are not a million objects). */
export class Atoms {
  count = 0;
  /** A leaf's keyHash, a node's path (bits past its depth zero), 32 bytes each. */
  kh: Uint8Array;
  /** A leaf's valueHash (unused for a node). */
  vh: Uint8Array;
  /** The atom's hash. */
  h: Uint8Array;
  depth: Uint16Array;

  constructor(capacity: number) {
    this.kh = new Uint8Array(capacity * HASH_BYTES);
    this.vh = new Uint8Array(capacity * HASH_BYTES);
    this.h = new Uint8Array(capacity * HASH_BYTES);
    this.depth = new Uint16Array(capacity);
  }

  /** Appends an atom (copies its arrays): a leaf when `depth` is LEAF_ATOM. */
  push(depth: number, kh: Uint8Array, vh: Uint8Array | null, h: Uint8Array): void {
    const i = this.count++;
    this.depth[i] = depth;
    this.kh.set(kh.subarray(0, HASH_BYTES), i * HASH_BYTES);
    if (vh) this.vh.set(vh, i * HASH_BYTES);
    this.h.set(h, i * HASH_BYTES);
  }
}

/** A packed node record made by the builder: its position (path: any keyHash below it) and bytes. */
export interface BuiltNode {
  readonly depth: number;
  readonly path: Uint8Array;
  readonly record: Uint8Array;
}

const KIND_BYTES = (2 * (LAST_POS - 1) + 7) >> 3;
/** At most FIRST_CHILD_POS leaf or child entries, each at most age byte | keyHash | valueHash. */
const BODY_BYTES = FIRST_CHILD_POS * (1 + 2 * HASH_BYTES);

/** One packed node being laid out: the kind of each position and its entries in keyHash order. */
class RecordScratch {
  readonly kinds = new Uint8Array(LAST_POS + 1);
  readonly body = new Uint8Array(BODY_BYTES);
  len = 0;
}

export class SubtreeBuilder {
  readonly atoms: Atoms;
  /** Records of the packed nodes created so far, children before parents. */
  readonly nodes: BuiltNode[] = [];
  /** Two hash slots (left and right child) per binary depth: a subtree's hash lands in its slot. */
  readonly #hs = new Uint8Array(2 * HASH_BYTES * (MAX_DEPTH + 2));
  readonly #scratch: RecordScratch[] = [];
  /** Record bytes: thousands of small records would each be an ArrayBuffer. */
  readonly #arena = new Arena();

  constructor(atoms: Atoms) {
    this.atoms = atoms;
  }

  /**
   * Builds atoms [a, b) (all inside the subtree at `depth`, a multiple of PACK_LEVELS, whose path
   * is that of atom a); writes its hash to out[off..off+32]; returns K_EMPTY, K_LEAF (atom a) or
   * K_NODE (an atom or a packed node just emitted).
   */
  build(a: number, b: number, depth: number, out: Uint8Array, off: number): number {
    const A = this.atoms;
    if (a === b) {
      out.fill(0, off, off + HASH_BYTES);
      return K_EMPTY;
    }
    if (b - a === 1 && (A.depth[a] === LEAF_ATOM || A.depth[a] === depth)) {
      copy(out, off, A.h, a * HASH_BYTES);
      return A.depth[a] === LEAF_ATOM ? K_LEAF : K_NODE;
    }
    if (depth % PACK_LEVELS !== 0) throw new RangeError(`subtrees are built at depths that are multiples of ${PACK_LEVELS}, not ${depth}`);
    this.#pack(a, b, depth, this.#hs, 0);
    copy(out, off, this.#hs, 0);
    return K_NODE;
  }

  /** Emits the packed node of atoms [a, b) at `depth`; its hash goes to out[off]. */
  #pack(a: number, b: number, depth: number, out: Uint8Array, off: number): void {
    const level = depth / PACK_LEVELS;
    const r = (this.#scratch[level] ??= new RecordScratch());
    r.kinds.fill(0);
    r.len = 0;
    this.#fill(r, 1, a, b, depth, out, off);
    const rec = this.#arena.alloc(1 + KIND_BYTES + r.len);
    writeKinds(r.kinds, rec);
    rec.set(r.body.subarray(0, r.len), 1 + KIND_BYTES);
    this.nodes.push({ depth, path: this.atoms.kh.subarray(a * HASH_BYTES, (a + 1) * HASH_BYTES), record: rec });
  }

  /** Lays out atoms [a, b) at position `pos` (binary depth `d`) of `r`; the hash goes to out[off]. */
  #fill(r: RecordScratch, pos: number, a: number, b: number, d: number, out: Uint8Array, off: number): void {
    const A = this.atoms;
    const n = b - a;
    if (n === 0) {
      out.fill(0, off, off + HASH_BYTES);
      return;
    }
    if (n === 1 && A.depth[a] === LEAF_ATOM) {
      r.kinds[pos] = K_LEAF;
      r.body[r.len] = 0; // age
      copy(r.body, r.len + 1, A.kh, a * HASH_BYTES);
      copy(r.body, r.len + 1 + HASH_BYTES, A.vh, a * HASH_BYTES);
      r.len += 1 + 2 * HASH_BYTES;
      copy(out, off, A.h, a * HASH_BYTES);
      return;
    }
    if (pos >= FIRST_CHILD_POS) {
      r.kinds[pos] = K_NODE;
      if (n === 1 && A.depth[a] === d) copy(out, off, A.h, a * HASH_BYTES);
      else this.#pack(a, b, d, out, off);
      r.body[r.len] = 0;
      copy(r.body, r.len + 1, out, off);
      r.len += 1 + HASH_BYTES;
      return;
    }
    if (d >= MAX_DEPTH) throw new RangeError('two atoms with the same keyHash');
    const mid = this.#split(a, b, d);
    const s = (d + 1) * 2 * HASH_BYTES;
    const hs = this.#hs;
    this.#fill(r, 2 * pos, a, mid, d + 1, hs, s);
    this.#fill(r, 2 * pos + 1, mid, b, d + 1, hs, s + HASH_BYTES);
    r.kinds[pos] = K_INNER;
    sha256PairAt(0x01, hs, s, hs, s + HASH_BYTES, out, off);
  }

  /** The first atom in [a, b) with bit `d` set (the atoms share their first d bits). */
  #split(a: number, b: number, d: number): number {
    const kh = this.atoms.kh;
    const byte = d >> 3;
    const mask = 0x80 >> (d & 7);
    while (a < b) {
      const m = (a + b) >>> 1;
      if ((kh[m * HASH_BYTES + byte]! & mask) === 0) a = m + 1;
      else b = m;
    }
    return a;
  }
}

function copy(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number): void {
  for (let i = 0; i < HASH_BYTES; i++) dst[dOff + i] = src[sOff + i]!;
}
