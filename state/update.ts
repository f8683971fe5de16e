/**
 * Builds one new version of the tree from the previous root and a sorted batch of writes.
 *
 * Two phases, so that reads are batched: `preload` walks the old tree level by level and fetches
 * every node the update will touch with one getMany per level; then a synchronous recursion splits
 * the sorted writes by the bit at each depth and rebuilds only the touched paths. It records the new
 * nodes (all keyed by this version) and the old nodes they replace (the stale list). Nothing is
 * written here.
 *
 * Leaves are not written where they are first made: a subtree that ends up with a single leaf is
 * that leaf one level up (leaf compression), so a leaf stays "pending" until its parent knows its
 * final depth, and an unchanged leaf is rewritten only if it has to move.
 *
 * A node's position is passed as any keyHash below it (node keys ignore bits past the depth), so
 * the recursion allocates no paths.
 */
import { compareBytes, equalBytes } from '../chain/bytes.ts';
import { encodeInternal, encodeLeaf, nodeKey } from './codec.ts';
import type { ChildRef, LeafNode, NodePos, TreeNode } from './codec.ts';
import { StateError } from './errors.ts';
import { bitAt, childPath, EMPTY_HASH, internalHash, leafHashOf, MAX_DEPTH } from './hashing.ts';
import type { NodeStore } from './store.ts';

/** One write after deduplication; `value` null deletes. Batches are sorted by keyHash. */
export interface Write {
  readonly keyHash: Uint8Array;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

export interface NewNode {
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
  readonly ref: ChildRef;
  readonly node: TreeNode;
}

/** An old node this version replaced or deleted (its hash lets the cache drop it). */
export interface StaleNode extends NodePos {
  readonly hash: Uint8Array;
}

/** A node that already sits at this position (unchanged, or new and final). */
interface Placed {
  readonly t: 'ref';
  readonly ref: ChildRef;
}

/** A leaf whose depth is not final yet; `at` is where it is stored now, if its content is unchanged. */
interface Pending {
  readonly t: 'leaf';
  readonly leaf: LeafNode;
  readonly hash: Uint8Array;
  readonly at: { readonly version: number; readonly depth: number } | null;
}

type Sub = Placed | Pending | null;

/**
 * Hands out views of 64 KiB chunks: thousands of small node encodings per version would otherwise
 * each get their own ArrayBuffer, which costs more in allocation and GC than the encoding itself.
 * Only the batch ops view these chunks; cached nodes never do, so chunks die with the batch.
 */
class Arena {
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

interface LoadItem {
  readonly ref: ChildRef;
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
  /** Old nodes this version replaced or deleted. */
  readonly stale: StaleNode[] = [];
  /** Nodes the preload missed and the update had to read synchronously (should stay 0). */
  syncReads = 0;
  /** Preloaded nodes by the ChildRef object that points at them (refs come from decoded parents). */
  readonly #loaded = new Map<ChildRef, TreeNode>();
  readonly #arena = new Arena();
  readonly #deletesBefore: Int32Array;

  constructor(store: NodeStore, version: number, writes: readonly Write[]) {
    this.store = store;
    this.version = version;
    this.writes = writes;
    this.#deletesBefore = new Int32Array(writes.length + 1);
    for (let i = 0; i < writes.length; i++) {
      this.#deletesBefore[i + 1] = this.#deletesBefore[i]! + (writes[i]!.value === null ? 1 : 0);
    }
  }

  /** The new root (null = empty tree); the previous root object itself if nothing changed. */
  async build(root: ChildRef | null): Promise<ChildRef | null> {
    if (this.writes.length === 0) return root;
    await this.#preload(root);
    return this.#place(this.#update(root, 0, 0, this.writes.length), 0);
  }

  // ---- phase 1: fetch every node the update reads, one getMany per level ----

  async #preload(root: ChildRef | null): Promise<void> {
    const w = this.writes;
    let frontier: LoadItem[] = root ? [{ ref: root, depth: 0, path: w[0]!.keyHash, lo: 0, hi: w.length }] : [];
    while (frontier.length > 0) {
      const nodes = await this.store.readMany(frontier);
      const next: LoadItem[] = [];
      for (let i = 0; i < frontier.length; i++) {
        const it = frontier[i]!;
        const node = nodes[i]!;
        this.#loaded.set(it.ref, node);
        if (node.kind === 'leaf' || it.lo === it.hi) continue;
        const { depth, lo, hi } = it;
        const mid = this.#split(lo, hi, depth);
        // A side that loses all its leaves makes an untouched leaf on the other side move up, so
        // that leaf must be read too; only deletes can empty a side.
        const mayCollapse = this.#deletesBefore[hi]! > this.#deletesBefore[lo]!;
        if (node.left && (lo < mid || (mayCollapse && node.left.leaf))) {
          const path = lo < mid ? w[lo]!.keyHash : childPath(it.path, depth, 0);
          next.push({ ref: node.left, depth: depth + 1, path, lo, hi: mid });
        }
        if (node.right && (mid < hi || (mayCollapse && node.right.leaf))) {
          const path = mid < hi ? w[mid]!.keyHash : childPath(it.path, depth, 1);
          next.push({ ref: node.right, depth: depth + 1, path, lo: mid, hi });
        }
      }
      frontier = next;
    }
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

  #node(ref: ChildRef, depth: number, path: Uint8Array): TreeNode {
    const node = this.#loaded.get(ref);
    if (node) return node;
    this.syncReads++;
    return this.store.readSync({ ref, depth, path });
  }

  // ---- phase 2: rebuild the touched paths ----

  /** The subtree at `depth` that held `ref`, after the writes [lo, hi) (all below it). */
  #update(ref: ChildRef | null, depth: number, lo: number, hi: number): Sub {
    if (lo === hi) return ref ? { t: 'ref', ref } : null;
    const path = this.writes[lo]!.keyHash;
    if (!ref) {
      const items: Pending[] = [];
      for (let i = lo; i < hi; i++) {
        const w = this.writes[i]!;
        if (w.value !== null) items.push(this.#newLeaf(w));
      }
      return this.#fresh(depth, items, 0, items.length);
    }
    const node = this.#node(ref, depth, path);
    if (node.kind === 'leaf') return this.#updateLeaf(ref, node, depth, lo, hi);
    const mid = this.#split(lo, hi, depth);
    const left = this.#update(node.left, depth + 1, lo, mid);
    const right = this.#update(node.right, depth + 1, mid, hi);
    if (same(left, node.left) && same(right, node.right)) return { t: 'ref', ref };
    this.stale.push({ version: ref.version, depth, path, hash: ref.hash });
    return this.#join(depth, path, left, right);
  }

  /** Writes landing on a position that holds one leaf: merge them with it. */
  #updateLeaf(ref: ChildRef, leaf: LeafNode, depth: number, lo: number, hi: number): Sub {
    const existing: Pending = { t: 'leaf', leaf, hash: ref.hash, at: { version: ref.version, depth } };
    const items: Pending[] = [];
    let existingSeen = false;
    let changed = false;
    for (let i = lo; i < hi; i++) {
      const w = this.writes[i]!;
      const c = compareBytes(w.keyHash, leaf.keyHash);
      if (c > 0 && !existingSeen) {
        items.push(existing);
        existingSeen = true;
      }
      if (c === 0) {
        existingSeen = true;
        if (w.value !== null && equalBytes(w.value, leaf.value)) {
          items.push(existing);
        } else {
          changed = true;
          this.stale.push({ version: ref.version, depth, path: leaf.keyHash, hash: ref.hash });
          if (w.value !== null) items.push(this.#newLeaf(w));
        }
      } else if (w.value !== null) {
        changed = true;
        items.push(this.#newLeaf(w));
      }
    }
    if (!existingSeen) items.push(existing);
    if (!changed) return { t: 'ref', ref };
    return this.#fresh(depth, items, 0, items.length);
  }

  /** A subtree built from pending leaves (sorted, sharing the first `depth` bits) alone. */
  #fresh(depth: number, items: readonly Pending[], lo: number, hi: number): Sub {
    if (lo === hi) return null;
    if (hi - lo === 1) return items[lo]!;
    if (depth >= MAX_DEPTH) throw new StateError('corrupt', 'two different leaves with the same keyHash');
    let mid = lo;
    while (mid < hi && bitAt(items[mid]!.leaf.keyHash, depth) === 0) mid++;
    const left = this.#place(this.#fresh(depth + 1, items, lo, mid), depth + 1);
    const right = this.#place(this.#fresh(depth + 1, items, mid, hi), depth + 1);
    return { t: 'ref', ref: this.#writeInternal(depth, items[lo]!.leaf.keyHash, left, right) };
  }

  /** The subtree at (depth, path) from its two new halves, compressing a lone leaf upward. */
  #join(depth: number, path: Uint8Array, left: Sub, right: Sub): Sub {
    if (!left && !right) return null;
    if (!left && isLeaf(right)) return this.#asPending(right!, depth + 1, () => childPath(path, depth, 1));
    if (!right && isLeaf(left)) return this.#asPending(left!, depth + 1, () => childPath(path, depth, 0));
    const l = this.#place(left, depth + 1);
    const r = this.#place(right, depth + 1);
    return { t: 'ref', ref: this.#writeInternal(depth, path, l, r) };
  }

  #asPending(sub: Placed | Pending, depth: number, path: () => Uint8Array): Pending {
    if (sub.t === 'leaf') return sub;
    const node = this.#node(sub.ref, depth, path()) as LeafNode;
    return { t: 'leaf', leaf: node, hash: sub.ref.hash, at: { version: sub.ref.version, depth } };
  }

  /** Fixes a subtree at `depth`: writes a pending leaf there unless it is already stored there. */
  #place(sub: Sub, depth: number): ChildRef | null {
    if (!sub) return null;
    if (sub.t === 'ref') return sub.ref;
    if (sub.at) {
      if (sub.at.depth === depth) return { hash: sub.hash, version: sub.at.version, leaf: true };
      this.stale.push({ version: sub.at.version, depth: sub.at.depth, path: sub.leaf.keyHash, hash: sub.hash });
    }
    const { keyHash, key, value } = sub.leaf;
    const bytes = encodeLeaf(keyHash, key, value, this.#arena.alloc);
    // The node to cache gets copies: it must not alias the caller's arrays nor keep the arena alive.
    const node: LeafNode = { kind: 'leaf', keyHash, key: key.slice(), value: value.slice() };
    const ref: ChildRef = { hash: sub.hash, version: this.version, leaf: true };
    this.newNodes.push({ key: nodeKey(this.store.prefix, this.version, depth, keyHash), bytes, ref, node });
    return ref;
  }

  #writeInternal(depth: number, path: Uint8Array, left: ChildRef | null, right: ChildRef | null): ChildRef {
    const hash = internalHash(left ? left.hash : EMPTY_HASH, right ? right.hash : EMPTY_HASH);
    const bytes = encodeInternal(left, right, this.#arena.alloc);
    const ref: ChildRef = { hash, version: this.version, leaf: false };
    this.newNodes.push({ key: nodeKey(this.store.prefix, this.version, depth, path), bytes, ref, node: { kind: 'internal', left, right } });
    return ref;
  }

  #newLeaf(w: Write): Pending {
    const value = w.value!;
    return { t: 'leaf', leaf: { kind: 'leaf', keyHash: w.keyHash, key: w.key, value }, hash: leafHashOf(w.keyHash, value), at: null };
  }
}

function same(sub: Sub, ref: ChildRef | null): boolean {
  return ref === null ? sub === null : sub !== null && sub.t === 'ref' && sub.ref === ref;
}

function isLeaf(sub: Sub): boolean {
  return sub !== null && (sub.t === 'leaf' || sub.ref.leaf);
}
