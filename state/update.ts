/**
 * Builds one new version of the tree from the previous root and a sorted batch of writes.
 *
 * Three phases. `preload` walks the old tree one packed level at a time and fetches every packed
 * node the update will touch with one getMany per level. Then a synchronous recursion over the
 * binary tree splits the sorted writes by the bit at each depth and rebuilds only the touched paths
 * as drafts (in-memory internal nodes), keeping untouched subtrees as they are. Finally `pack` cuts
 * the drafts into packed nodes of PACK_LEVELS levels, keyed by this version. It records the new
 * records and the old ones they replace (the stale list); nothing is written here.
 *
 * Leaves are referenced by (keyHash, version) rather than by position, and packed nodes carry each
 * leaf's keyHash and valueHash, so leaves that move (leaf compression puts a lone leaf at the
 * shallowest depth where its prefix is unique) are neither read nor rewritten: the update reads
 * packed nodes only.
 */
import { equalBytes } from '../chain/bytes.ts';
import { encodeLeafRecord, leafKey, makeLeaf, MAX_KEY_BYTES, nodeKey } from './codec.ts';
import type { LeafRef, NodeRef, RootRef, StaleId } from './codec.ts';
import { StateError } from './errors.ts';
import { bitAt, compareHashes, EMPTY_HASH, HASH_BYTES, MAX_DEPTH, sha256 } from './hashing.ts';
import { sha256PairAt } from './sha256.ts';
import { FIRST_CHILD_POS, K_EMPTY, K_INNER, K_LEAF, K_NODE, LAST_POS, PACK_LEVELS, PackedBuilder } from './packed.ts';
import type { PackedNode } from './packed.ts';
import type { NodeStore } from './store.ts';

/** One write after deduplication; `value` null deletes. Batches are sorted by keyHash. */
export interface Write {
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  /** sha256(value), null for a delete. */
  readonly valueHash: Uint8Array | null;
}

export interface NewNode {
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
  readonly node: PackedNode;
}

export interface NewLeaf {
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
}

/** An old packed node or leaf this version replaced or deleted (a node's hash lets the cache drop it). */
export type StaleRecord = StaleId & { readonly hash: Uint8Array };

/** An unchanged slot (inner subtree, leaf or child node) of an old packed node. */
interface Kept {
  readonly kind: 'kept';
  readonly node: PackedNode;
  readonly pos: number;
}

/** A new internal node not yet cut into packed nodes; `path` is any keyHash below it. */
interface Draft {
  readonly kind: 'draft';
  /** Its hash is at hb[ho..ho+32] (in the builder's hash slab). */
  readonly hb: Uint8Array;
  readonly ho: number;
  readonly left: Sub;
  readonly right: Sub;
  readonly path: Uint8Array;
}

/** A subtree of the new version. */
type Sub = LeafRef | Kept | Draft | null;

/**
 * Hands out views of 64 KiB chunks: thousands of small encodings per version would otherwise each
 * get their own ArrayBuffer, which costs more in allocation and GC than the encoding itself. Only
 * the batch ops view these chunks; cached nodes never do, so chunks die with the batch.
 */
export class Arena {
  #buf = new Uint8Array(0);
  #off = 0;

  readonly alloc = (n: number): Uint8Array => {
    if (this.#off + n > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(65536, n));
      this.#off = 0;
    }
    const v = this.#buf.subarray(this.#off, this.#off + n);
    this.#off += n;
    return v;
  };
}

/** Room for draft hashes: ten thousand 32-byte arrays per version would each be an object. */
class HashSlab {
  buf = new Uint8Array(0);
  #off = 0;

  /** Reserves 32 bytes at the returned offset of `this.buf`. */
  take(): number {
    if (this.#off + HASH_BYTES > this.buf.length) {
      this.buf = new Uint8Array(1024 * HASH_BYTES);
      this.#off = 0;
    }
    this.#off += HASH_BYTES;
    return this.#off - HASH_BYTES;
  }
}

/** A packed node to load: slot `pos` of `parent` (null for the root), and the writes below it. */
interface LoadItem {
  readonly parent: PackedNode | null;
  readonly pos: number;
  readonly ref: NodeRef;
  readonly depth: number;
  readonly path: Uint8Array;
  readonly lo: number;
  readonly hi: number;
}

export class VersionBuilder {
  readonly store: NodeStore;
  readonly version: number;
  readonly writes: readonly Write[];
  readonly newNodes: NewNode[] = [];
  readonly newLeaves: NewLeaf[] = [];
  /** Old records this version replaced or deleted. */
  readonly stale: StaleRecord[] = [];
  /** Nodes the preload missed and the update had to read synchronously (should stay 0). */
  syncReads = 0;
  /** Preloaded child nodes of each preloaded node, by position; the root's under null. */
  readonly #loaded = new Map<PackedNode | null, PackedNode[]>();
  readonly #arena = new Arena();
  readonly #hashes = new HashSlab();
  /** One node builder per packed level: cutting a node may cut the nodes below it first. */
  readonly #builders: PackedBuilder[] = [];

  constructor(store: NodeStore, version: number, writes: readonly Write[]) {
    this.store = store;
    this.version = version;
    this.writes = writes;
  }

  /** The new root (null = empty tree); the previous root object itself if nothing changed. */
  async build(root: RootRef | null): Promise<RootRef | null> {
    const n = this.writes.length;
    if (n === 0) return root;
    let sub: Sub | undefined;
    if (root === null) sub = this.#fresh(0, this.#newLeaves(0, n), 0);
    else if (root.kind === 'leaf') sub = this.#updateLeaf(root, 0, 0, n);
    else {
      await this.#preload(root);
      sub = this.#updateNode(null, 1, root, 0, 0, n);
    }
    if (sub === undefined) return root;
    if (sub === null || sub.kind === 'leaf') return sub;
    if (sub.kind === 'kept') return sub.node.leaf(sub.pos); // a lone survivor moved up to the root
    return this.#pack(sub, 0);
  }

  // ---- phase 1: fetch every packed node the update reads, one getMany per packed level ----

  async #preload(root: NodeRef): Promise<void> {
    const all = this.writes.length;
    let frontier: LoadItem[] = [{ parent: null, pos: 1, ref: root, depth: 0, path: this.writes[0]!.keyHash, lo: 0, hi: all }];
    const cached = this.store.peek(root);
    if (cached) {
      this.#setLoaded(null, 1, cached);
      frontier = [];
      this.#children(cached, 1, 0, 0, all, frontier);
    }
    while (frontier.length > 0) {
      const nodes = await this.store.readMany(frontier);
      const next: LoadItem[] = [];
      for (let i = 0; i < frontier.length; i++) {
        const it = frontier[i]!;
        this.#setLoaded(it.parent, it.pos, nodes[i]!);
        this.#children(nodes[i]!, 1, it.depth, it.lo, it.hi, next);
      }
      frontier = next;
    }
  }

  #setLoaded(parent: PackedNode | null, pos: number, node: PackedNode): void {
    let children = this.#loaded.get(parent);
    if (!children) this.#loaded.set(parent, (children = new Array<PackedNode>(LAST_POS + 1)));
    children[pos] = node;
  }

  /** Walks the cached child nodes below slot `pos` of `node` that writes [lo, hi) reach; queues the rest. */
  #children(node: PackedNode, pos: number, depth: number, lo: number, hi: number, out: LoadItem[]): void {
    if (lo === hi) return;
    const k = node.kind(pos);
    if (k === K_NODE) {
      const child = this.store.peekChild(node, pos);
      if (!child) {
        out.push({ parent: node, pos, ref: node.node(pos), depth, path: this.writes[lo]!.keyHash, lo, hi });
        return;
      }
      this.#setLoaded(node, pos, child);
      this.#children(child, 1, depth, lo, hi, out);
    }
    if (k !== K_INNER) return;
    const mid = this.#split(lo, hi, depth);
    this.#children(node, 2 * pos, depth + 1, lo, mid, out);
    this.#children(node, 2 * pos + 1, depth + 1, mid, hi, out);
  }

  /** First index in [lo, hi) whose keyHash has bit `depth` set (the writes there share a prefix). */
  #split(lo: number, hi: number, depth: number): number {
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (bitAt(this.writes[m]!.keyHash, depth) === 0) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  // ---- phase 2: rebuild the touched paths as drafts ----

  /**
   * The packed node at slot `pos` of `parent` (null: the root node `root`) after writes [lo, hi);
   * undefined if unchanged.
   */
  #updateNode(parent: PackedNode | null, pos: number, root: NodeRef | null, depth: number, lo: number, hi: number): Sub | undefined {
    const path = this.writes[lo]!.keyHash;
    let node = this.#loaded.get(parent)?.[pos];
    if (!node) {
      this.syncReads++;
      node = this.store.readSync({ ref: root ?? parent!.node(pos), depth, path });
    }
    const sub = this.#update(node, 1, depth, lo, hi);
    if (sub !== undefined) this.stale.push({ kind: 'node', version: node.version, depth, path, hash: node.hash(1) });
    return sub;
  }

  /**
   * Slot `pos` of `node` (at `depth`) after the writes [lo, hi) (all below it): undefined if
   * unchanged, null if now empty.
   */
  #update(node: PackedNode, pos: number, depth: number, lo: number, hi: number): Sub | undefined {
    if (lo === hi) return undefined;
    const k = node.kind(pos);
    if (k === K_INNER) {
      const mid = this.#split(lo, hi, depth);
      const left = this.#update(node, 2 * pos, depth + 1, lo, mid);
      const right = this.#update(node, 2 * pos + 1, depth + 1, mid, hi);
      if (left === undefined && right === undefined) return undefined;
      const l = left === undefined ? kept(node, 2 * pos) : left;
      const r = right === undefined ? kept(node, 2 * pos + 1) : right;
      return this.#join(this.writes[lo]!.keyHash, l, r);
    }
    if (k === K_NODE) return this.#updateNode(node, pos, null, depth, lo, hi);
    if (k === K_LEAF) return this.#updateLeaf(node.leaf(pos), depth, lo, hi);
    const items = this.#newLeaves(lo, hi);
    return items.length === 0 ? undefined : this.#fresh(depth, items, 0, items.length);
  }

  /** Writes landing on a position that holds one leaf: merge them with it; undefined if unchanged. */
  #updateLeaf(leaf: LeafRef, depth: number, lo: number, hi: number): Sub | undefined {
    const items: LeafRef[] = [];
    let existingSeen = false;
    let changed = false;
    for (let i = lo; i < hi; i++) {
      const w = this.writes[i]!;
      const c = compareHashes(w.keyHash, leaf.keyHash);
      if (c > 0 && !existingSeen) {
        items.push(leaf);
        existingSeen = true;
      }
      if (c === 0) {
        existingSeen = true;
        if (w.valueHash !== null && equalBytes(w.valueHash, leaf.valueHash)) {
          items.push(leaf);
        } else {
          changed = true;
          this.stale.push({ kind: 'leaf', version: leaf.version, keyHash: leaf.keyHash, hash: leaf.hash });
          if (w.valueHash !== null) items.push(this.#newLeaf(w));
        }
      } else if (w.valueHash !== null) {
        changed = true;
        items.push(this.#newLeaf(w));
      }
    }
    if (!existingSeen) items.push(leaf);
    return changed ? this.#fresh(depth, items, 0, items.length) : undefined;
  }

  /** A subtree built from leaves (sorted, sharing the first `depth` bits) alone. */
  #fresh(depth: number, items: readonly LeafRef[], lo: number, hi = items.length): Sub {
    if (lo === hi) return null;
    if (hi - lo === 1) return items[lo]!;
    if (depth >= MAX_DEPTH) throw new StateError('corrupt', 'two different leaves with the same keyHash');
    let mid = lo;
    while (mid < hi && bitAt(items[mid]!.keyHash, depth) === 0) mid++;
    const left = this.#fresh(depth + 1, items, lo, mid);
    const right = this.#fresh(depth + 1, items, mid, hi);
    return this.#draft(items[lo]!.keyHash, left, right);
  }

  /** The subtree from its two new halves; a lone leaf moves up (leaf compression). */
  #join(path: Uint8Array, left: Sub, right: Sub): Sub {
    if (left === null && (right === null || isLeaf(right))) return right;
    if (right === null && isLeaf(left)) return left;
    return this.#draft(path, left, right);
  }

  #draft(path: Uint8Array, left: Sub, right: Sub): Draft {
    const ho = this.#hashes.take();
    const hb = this.#hashes.buf;
    sha256PairAt(0x01, hashBuf(left), hashOff(left), hashBuf(right), hashOff(right), hb, ho);
    return { kind: 'draft', hb, ho, left, right, path };
  }

  #newLeaves(lo: number, hi: number): LeafRef[] {
    const items: LeafRef[] = [];
    for (let i = lo; i < hi; i++) {
      const w = this.writes[i]!;
      if (w.valueHash !== null) items.push(this.#newLeaf(w));
    }
    return items;
  }

  #newLeaf(w: Write): LeafRef {
    const bytes = encodeLeafRecord(w.key, w.value!, this.#arena.alloc);
    this.newLeaves.push({ keyHash: w.keyHash, key: leafKey(this.store.prefix, this.version, w.keyHash), bytes });
    return makeLeaf(this.version, w.keyHash, w.valueHash!);
  }

  // ---- phase 3: cut the drafts into packed nodes ----

  /** Writes the packed node rooted at draft `d` (at `depth`, a multiple of PACK_LEVELS), and those below. */
  #pack(d: Draft, depth: number): NodeRef {
    const level = depth / PACK_LEVELS;
    const b = (this.#builders[level] ??= new PackedBuilder()).start(this.version);
    this.#fill(b, 1, d, depth);
    const { node, record: bytes } = b.finish(this.#arena.alloc);
    this.newNodes.push({ key: nodeKey(this.store.prefix, this.version, depth, d.path), bytes, node });
    return { kind: 'node', hash: node.hash(1), version: this.version };
  }

  /** Puts `s` at slot `pos` (at `depth`) of the packed node being built. */
  #fill(b: PackedBuilder, pos: number, s: Sub, depth: number): void {
    if (s === null) return;
    if (s.kind === 'leaf') b.leaf(pos, s);
    else if (s.kind === 'kept') b.copy(pos, s.node, s.pos);
    else if (pos >= FIRST_CHILD_POS) b.node(pos, this.#pack(s, depth));
    else {
      b.inner(pos, s.hb, s.ho);
      this.#fill(b, 2 * pos, s.left, depth + 1);
      this.#fill(b, 2 * pos + 1, s.right, depth + 1);
    }
  }
}

function kept(node: PackedNode, pos: number): Kept | null {
  return node.kind(pos) === K_EMPTY ? null : { kind: 'kept', node, pos };
}

function isLeaf(s: Sub): boolean {
  return s !== null && (s.kind === 'leaf' || (s.kind === 'kept' && s.node.kind(s.pos) === K_LEAF));
}

/** Where the hash of `s` is: hashBuf(s)[hashOff(s)..+32]; the empty hash for null. */
function hashBuf(s: Sub): Uint8Array {
  return s === null ? EMPTY_HASH : s.kind === 'kept' ? s.node.b : s.kind === 'draft' ? s.hb : s.hash;
}

function hashOff(s: Sub): number {
  return s === null ? 0 : s.kind === 'kept' ? s.node.at(s.pos) : s.kind === 'draft' ? s.ho : 0;
}

export function hashKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new StateError('key_invalid', 'state key must be a Uint8Array');
  if (key.length === 0 || key.length > MAX_KEY_BYTES) {
    throw new StateError('key_invalid', `state key must be 1..${MAX_KEY_BYTES} bytes, got ${key.length}`);
  }
  return sha256(key);
}

/**
 * Deduplicates (the later write of a key wins) and sorts by keyHash. The caller's arrays are used
 * only during prepare: ops and cached nodes get their own copies.
 */
export function collectWrites(writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Write[] {
  const all: { keyHash: Uint8Array; key: Uint8Array; value: Uint8Array | null }[] = [];
  for (const [key, value] of writes) {
    const keyHash = hashKey(key);
    if (value !== null && !(value instanceof Uint8Array)) throw new TypeError('state value must be a Uint8Array, or null to delete');
    all.push({ keyHash, key, value });
  }
  all.sort((a, b) => compareHashes(a.keyHash, b.keyHash)); // stable: writes of one key stay in order
  const out: Write[] = [];
  for (let i = 0; i < all.length; i++) {
    const w = all[i]!;
    const next = all[i + 1];
    if (next && compareHashes(next.keyHash, w.keyHash) === 0) continue; // the later write wins
    // Hashed after deduplication: an overwritten write's value is never hashed.
    out.push({ keyHash: w.keyHash, key: w.key, value: w.value, valueHash: w.value === null ? null : sha256(w.value) });
  }
  return out;
}
