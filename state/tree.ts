/**
 * StateTree: the authenticated state, a versioned binary sparse Merkle tree over sha256(key) stored
 * in LevelDB (Jellyfish style: immutable nodes keyed by version and position, a root record per
 * version, a stale index for pruning). Storage layout: codec.ts. Hashing (hashing.ts):
 *
 *   keyHash = sha256(key); empty subtree = 32 zero bytes
 *   leaf     = sha256(0x00 || keyHash || sha256(value))
 *   internal = sha256(0x01 || leftHash || rightHash)
 *   bit i of keyHash (MSB first) picks the child at depth i; a subtree with exactly one leaf is that
 *   leaf, at the shallowest depth where its keyHash prefix is unique.
 *
 * The caller owns the database and shares it with other modules; this module only touches keys
 * starting with its prefix byte. Writing a version is split in two so that a block, its receipts
 * and its state changes land in one atomic db.batch: prepare() computes the ops without writing or
 * changing anything visible, the caller writes them, then markCommitted() advances the tree.
 *
 * Reads of a version are safe while later versions are committed; a read racing the pruning of its
 * version fails with 'version_pruned'. prepare/commit calls must not overlap each other.
 */
import type { Level } from 'level';
import { equalBytes, compareBytes, u64be } from '../chain/bytes.ts';
import { sha256 } from '../chain/hash.ts';
import { LruCache } from './cache.ts';
import {
  decodeRoot,
  encodeNodeIds,
  encodeRoot,
  idString,
  MAX_KEY_BYTES,
  metaKey,
  nodeKey,
  nodeKeyOfId,
  readU64,
  rootKey,
  splitNodeIds,
  staleKey,
  TAG_ROOT,
  tagRange,
  versionOfKey,
} from './codec.ts';
import type { ChildRef, TreeNode } from './codec.ts';
import { StateError } from './errors.ts';
import { bitAt, EMPTY_HASH, HASH_BYTES, withBit } from './hashing.ts';
import type { StateProof } from './proof.ts';
import { MissingNodeError, NodeStore } from './store.ts';
import { VersionBuilder } from './update.ts';
import type { NewNode, StaleNode, Write } from './update.ts';

export { StateError, isStateError } from './errors.ts';
export type { StateErrorCode } from './errors.ts';
export { verifyStateProof, encodeStateProof, decodeStateProof } from './proof.ts';
export type { StateProof } from './proof.ts';
export { EMPTY_HASH } from './hashing.ts';
export { MAX_KEY_BYTES } from './codec.ts';

export type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

export interface StateTreeOptions {
  /** First byte of every key this tree owns (default 0x73, 's'). */
  prefix?: number;
  /** How many versions stay readable (the latest and the ones before it); 0 or undefined keeps all. */
  keepVersions?: number;
  /** Decoded nodes kept in memory (default 100,000; 0 disables the cache). */
  cacheNodes?: number;
}

export interface PreparedVersion {
  readonly version: number;
  readonly root: Uint8Array;
  readonly ops: BatchOp[];
}

export interface StateEntry {
  keyHash: Uint8Array;
  key: Uint8Array;
  value: Uint8Array;
}

export interface KeyHashRange {
  gte?: Uint8Array;
  lt?: Uint8Array;
}

/** What markCommitted needs from a prepare, kept out of the caller's sight. */
interface Staged {
  readonly base: number; // latestVersion when prepared
  readonly rootRef: ChildRef | null;
  readonly newNodes: readonly NewNode[];
  readonly replaced: readonly StaleNode[];
  readonly oldest: number;
  readonly first: number;
}

const DEFAULT_PREFIX = 0x73;
const DEFAULT_CACHE_NODES = 100_000;
const ROOT_CACHE = 256;
const ZERO_PATH = new Uint8Array(HASH_BYTES);

export class StateTree {
  readonly #db: Level<Uint8Array, Uint8Array>;
  readonly #prefix: number;
  readonly #keep: number;
  readonly #store: NodeStore;
  readonly #roots = new LruCache<number, { ref: ChildRef | null }>(ROOT_CACHE);
  readonly #staged = new WeakMap<PreparedVersion, Staged>();
  #latest = -1;
  #latestRoot: ChildRef | null = null;
  #oldest = -1;
  #first = -1;

  private constructor(db: Level<Uint8Array, Uint8Array>, prefix: number, keep: number, cacheNodes: number) {
    this.#db = db;
    this.#prefix = prefix;
    this.#keep = keep;
    this.#store = new NodeStore(db, prefix, cacheNodes);
  }

  /** Opens the tree stored under `opts.prefix` in `db` (opened with 'view' key and value encodings). */
  static async open(db: Level<Uint8Array, Uint8Array>, opts: StateTreeOptions = {}): Promise<StateTree> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const keep = opts.keepVersions ?? 0;
    const cacheNodes = opts.cacheNodes ?? DEFAULT_CACHE_NODES;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 0xff) throw new RangeError(`prefix must be a byte, got ${prefix}`);
    if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`keepVersions must be a non-negative integer, got ${keep}`);
    if (!Number.isSafeInteger(cacheNodes) || cacheNodes < 0) throw new RangeError(`cacheNodes must be a non-negative integer, got ${cacheNodes}`);
    const tree = new StateTree(db, prefix, keep, cacheNodes);
    await tree.#load();
    return tree;
  }

  async #load(): Promise<void> {
    const range = tagRange(this.#prefix, TAG_ROOT);
    const last = await this.#db.iterator({ ...range, reverse: true, limit: 1 }).all();
    const newest = last[0];
    if (!newest) return;
    const firstKey = (await this.#db.keys({ ...range, limit: 1 }).all())[0]!;
    const meta = await this.#db.get(metaKey(this.#prefix));
    this.#latest = versionOfKey(newest[0]);
    this.#latestRoot = decodeRoot(newest[1]);
    this.#oldest = versionOfKey(firstKey);
    this.#first = meta ? readU64(meta, 0) : this.#oldest;
  }

  /** The latest committed version, -1 when nothing has been committed. */
  get latestVersion(): number {
    return this.#latest;
  }

  /** The oldest version still readable, -1 when nothing has been committed. */
  get oldestVersion(): number {
    return this.#oldest;
  }

  // ---- reading ----

  /** Root hash of `version` (default latest; the empty-tree root before the first commit). */
  async root(version?: number): Promise<Uint8Array> {
    const v = this.#resolve(version);
    const ref = await this.#rootRef(v);
    return (ref ? ref.hash : EMPTY_HASH).slice();
  }

  /** The value of `key` at `version` (default latest), undefined if absent. */
  async get(key: Uint8Array, version?: number): Promise<Uint8Array | undefined> {
    const keyHash = hashKey(key);
    const v = this.#resolve(version);
    let ref = await this.#rootRef(v);
    for (let depth = 0; ref; depth++) {
      const node = await this.#read(v, ref, depth, keyHash);
      if (node.kind === 'leaf') return equalBytes(node.keyHash, keyHash) ? node.value.slice() : undefined;
      ref = bitAt(keyHash, depth) === 0 ? node.left : node.right;
    }
    return undefined;
  }

  /** The value of `key` at `version` with a proof of it (or of its absence) against root(version). */
  async prove(key: Uint8Array, version?: number): Promise<{ value: Uint8Array | undefined; proof: StateProof }> {
    const keyHash = hashKey(key);
    const v = this.#resolve(version);
    const siblings: Uint8Array[] = [];
    let ref = await this.#rootRef(v);
    for (let depth = 0; ref; depth++) {
      const node = await this.#read(v, ref, depth, keyHash);
      if (node.kind === 'leaf') {
        if (equalBytes(node.keyHash, keyHash)) return { value: node.value.slice(), proof: { type: 'inclusion', siblings } };
        const proof: StateProof = {
          type: 'exclusion-leaf',
          siblings,
          leafKeyHash: node.keyHash.slice(),
          leafValueHash: sha256(node.value),
        };
        return { value: undefined, proof };
      }
      const right = bitAt(keyHash, depth) === 1;
      const sibling = right ? node.left : node.right;
      siblings.push((sibling ? sibling.hash : EMPTY_HASH).slice());
      ref = right ? node.right : node.left;
    }
    return { value: undefined, proof: { type: 'exclusion-empty', siblings } };
  }

  /**
   * The leaves of `version` (default latest) in keyHash order, restricted to gte <= keyHash < lt
   * (32-byte bounds) if given. Subtrees outside the range are skipped without being read.
   */
  async *entries(version?: number, range: KeyHashRange = {}): AsyncIterable<StateEntry> {
    const { gte, lt } = range;
    for (const b of [gte, lt]) {
      if (b !== undefined && !(b instanceof Uint8Array && b.length === HASH_BYTES)) {
        throw new StateError('key_invalid', 'entries() bounds must be 32-byte keyHashes');
      }
    }
    const v = this.#resolve(version);
    const root = await this.#rootRef(v);
    if (!root) return;
    const stack: { ref: ChildRef; depth: number; path: Uint8Array }[] = [{ ref: root, depth: 0, path: ZERO_PATH }];
    for (let it = stack.pop(); it; it = stack.pop()) {
      if (!overlaps(it.path, it.depth, gte, lt)) continue;
      const node = await this.#read(v, it.ref, it.depth, it.path);
      if (node.kind === 'leaf') {
        if ((gte && compareBytes(node.keyHash, gte) < 0) || (lt && compareBytes(node.keyHash, lt) >= 0)) continue;
        yield { keyHash: node.keyHash.slice(), key: node.key.slice(), value: node.value.slice() };
        continue;
      }
      if (node.right) stack.push({ ref: node.right, depth: it.depth + 1, path: withBit(it.path, it.depth) });
      if (node.left) stack.push({ ref: node.left, depth: it.depth + 1, path: it.path });
    }
  }

  /** A readable version number, or -1 for "latest" before anything was committed. */
  #resolve(version: number | undefined): number {
    if (version === undefined) return this.#latest;
    if (!Number.isSafeInteger(version) || version < 0 || this.#latest < 0 || version > this.#latest || version < this.#first) {
      const known = this.#latest < 0 ? 'nothing is committed yet' : `committed versions are ${this.#first}..${this.#latest}`;
      throw new StateError('version_unknown', `state version ${version} is unknown: ${known}`);
    }
    if (version < this.#oldest) throw this.#pruned(version);
    return version;
  }

  #pruned(version: number): StateError {
    return new StateError(
      'version_pruned',
      `state version ${version} was pruned: versions ${this.#oldest}..${this.#latest} are kept (keepVersions ${this.#keep})`,
    );
  }

  async #rootRef(v: number): Promise<ChildRef | null> {
    if (v < 0) return null;
    if (v === this.#latest) return this.#latestRoot;
    const hit = this.#roots.get(v);
    if (hit) return hit.ref;
    const bytes = await this.#db.get(rootKey(this.#prefix, v));
    if (bytes === undefined) {
      if (v < this.#oldest) throw this.#pruned(v);
      throw new StateError('corrupt', `state database corrupt: no root record for version ${v}`);
    }
    const ref = decodeRoot(bytes);
    this.#roots.set(v, { ref });
    return ref;
  }

  /** Reads a node of version `v`; a node vanishing because `v` was just pruned says so. */
  async #read(v: number, ref: ChildRef, depth: number, path: Uint8Array): Promise<TreeNode> {
    const hit = this.#store.peek(ref);
    if (hit) return hit;
    try {
      return await this.#store.read({ ref, depth, path });
    } catch (e) {
      if (e instanceof MissingNodeError && v < this.#oldest) throw this.#pruned(v);
      throw e;
    }
  }

  // ---- writing ----

  /**
   * Computes version `version` (latestVersion + 1, or any non-negative integer for the first) from
   * the latest version plus `writes` (null deletes; a later write of the same key wins). Returns
   * the new root and the ops to write, pruning included; writes and changes nothing itself.
   */
  async prepare(version: number, writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Promise<PreparedVersion> {
    const base = this.#latest;
    if (!Number.isSafeInteger(version) || version < 0 || (base >= 0 && version !== base + 1)) {
      const want = base >= 0 ? `${base + 1}` : 'a non-negative integer';
      throw new StateError('version_out_of_order', `cannot prepare state version ${version}: expected ${want}`);
    }
    const sorted = collectWrites(writes);
    const builder = new VersionBuilder(this.#store, version, sorted);
    const rootRef = await builder.build(this.#latestRoot);

    const p = this.#prefix;
    const ops: BatchOp[] = [];
    const first = base >= 0 ? this.#first : version;
    const oldestBefore = base >= 0 ? this.#oldest : version;
    const oldest = this.#keep > 0 ? Math.max(oldestBefore, version - this.#keep + 1) : oldestBefore;

    for (const n of builder.newNodes) ops.push({ type: 'put', key: n.key, value: n.bytes });
    if (version <= oldest) {
      // keepVersions 1: what this version replaces is referenced by no kept version; delete it now.
      for (const n of builder.stale) ops.push({ type: 'del', key: nodeKey(p, n.version, n.depth, n.path) });
    } else if (builder.stale.length > 0) {
      ops.push({ type: 'put', key: staleKey(p, version), value: encodeNodeIds(builder.stale) });
    }
    if (oldest > oldestBefore) {
      // A node stale since version s is referenced by versions before s only.
      const staleVersions: number[] = [];
      for (let s = oldestBefore + 1; s <= Math.min(oldest, version - 1); s++) staleVersions.push(s);
      const records = await this.#db.getMany(staleVersions.map((s) => staleKey(p, s)));
      records.forEach((rec, i) => {
        if (rec === undefined) return;
        ops.push({ type: 'del', key: staleKey(p, staleVersions[i]!) });
        for (const id of splitNodeIds(rec)) ops.push({ type: 'del', key: nodeKeyOfId(p, id) });
      });
      for (let v = oldestBefore; v < oldest; v++) ops.push({ type: 'del', key: rootKey(p, v) });
    }
    ops.push({ type: 'put', key: rootKey(p, version), value: encodeRoot(rootRef) });
    if (base < 0) ops.push({ type: 'put', key: metaKey(p), value: u64be(version) });

    if (this.#latest !== base) {
      throw new StateError('version_out_of_order', `state version ${this.#latest} was committed while preparing ${version}`);
    }
    const prepared: PreparedVersion = { version, root: (rootRef ? rootRef.hash : EMPTY_HASH).slice(), ops };
    this.#staged.set(prepared, { base, rootRef, newNodes: builder.newNodes, replaced: builder.stale, oldest, first });
    return prepared;
  }

  /** Advances the tree after the caller's db.batch with `prepared.ops` succeeded. */
  markCommitted(prepared: PreparedVersion): void {
    const s = this.#staged.get(prepared);
    if (!s) throw new TypeError('markCommitted() takes a PreparedVersion returned by prepare() of this tree');
    if (s.base !== this.#latest) {
      throw new StateError('version_out_of_order', `state version ${prepared.version} was prepared on ${s.base}, but the latest is ${this.#latest}`);
    }
    this.#staged.delete(prepared);
    for (let v = this.#oldest; v >= 0 && v < s.oldest; v++) this.#roots.delete(v);
    if (this.#latest >= 0) this.#roots.set(this.#latest, { ref: this.#latestRoot });
    this.#latest = prepared.version;
    this.#latestRoot = s.rootRef;
    this.#oldest = s.oldest;
    this.#first = s.first;
    // The replaced nodes serve only older versions now; make room for the latest one's.
    for (const n of s.replaced) this.#store.forget(n);
    for (const n of s.newNodes) this.#store.remember(n.ref, n.node);
  }

  /** prepare + db.batch + markCommitted, for callers with nothing else to write atomically. */
  async commit(version: number, writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Promise<PreparedVersion> {
    const prepared = await this.prepare(version, writes);
    await this.#db.batch(prepared.ops);
    this.markCommitted(prepared);
    return prepared;
  }
}

function hashKey(key: Uint8Array): Uint8Array {
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
function collectWrites(writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Write[] {
  const byHash = new Map<string, Write>();
  for (const w of writes) {
    const [key, value] = w;
    const keyHash = hashKey(key);
    if (value !== null && !(value instanceof Uint8Array)) throw new TypeError('state value must be a Uint8Array, or null to delete');
    byHash.set(idString(keyHash), { keyHash, key, value });
  }
  return [...byHash.values()].sort((a, b) => compareBytes(a.keyHash, b.keyHash));
}

/** Whether the subtree at (path, depth) holds any keyHash in [gte, lt). */
function overlaps(path: Uint8Array, depth: number, gte: Uint8Array | undefined, lt: Uint8Array | undefined): boolean {
  if (lt && compareBytes(path, lt) >= 0) return false; // path (zeros past depth) is the subtree's least keyHash
  if (gte) {
    const max = path.slice(); // and path with ones past depth its greatest
    if (depth & 7) max[depth >> 3] = max[depth >> 3]! | (0xff >> (depth & 7));
    max.fill(0xff, (depth + 7) >> 3);
    if (compareBytes(max, gte) < 0) return false;
  }
  return true;
}
