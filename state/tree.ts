/**
 * StateTree: the authenticated state, a versioned binary sparse Merkle tree over sha256(key) stored
 * in LevelDB (Jellyfish style: immutable records keyed by version and position, a root record per
 * version, a stale index for pruning). Four binary levels are stored as one packed node (packed.ts),
 * leaves as records of their own; storage layout: codec.ts. Hashing (hashing.ts):
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
import { compareBytes, equalBytes, u64be } from '../chain/bytes.ts';
import { LruCache } from './cache.ts';
import {
  decodeRestoreHeader,
  decodeRoot,
  DEFAULT_PREFIX,
  describeKey,
  encodeRoot,
  encodeStaleIds,
  metaKey,
  readU64,
  restoreHeaderKey,
  rootKey,
  staleIdKey,
  staleKey,
  TAG_NODE,
  tagRange,
} from './codec.ts';
import type { LeafRef, NodeRef, RootRef } from './codec.ts';
import { StateError } from './errors.ts';
import { bitAt, EMPTY_HASH, HASH_BYTES, MAX_DEPTH, samePrefix } from './hashing.ts';
import type { StateProof } from './proof.ts';
import { frontierOf, K_EMPTY, K_INNER, K_LEAF, K_NODE, PackedNode } from './packed.ts';
import { MissingNodeError, NodeStore } from './store.ts';
import type { CacheStats, NodeRead } from './store.ts';
import type { SubtreeSummary } from './subtree.ts';
import { collectWrites, hashKey, VersionBuilder } from './update.ts';
import type { NewLeaf, NewNode, StaleRecord } from './update.ts';

export { StateError } from './errors.ts';
export type { StateErrorCode } from './errors.ts';
export type { CacheStats } from './store.ts';
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
  /** Bytes the caches of decoded packed nodes and of leaf records may take (default 64 MiB; 0 disables them). */
  cacheBytes?: number;
  /** At most this many packed nodes (and as many leaf records) cached, within cacheBytes (default: no count limit). */
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
  readonly rootRef: RootRef | null;
  readonly newNodes: readonly NewNode[];
  readonly newLeaves: readonly NewLeaf[];
  readonly replaced: readonly StaleRecord[];
  readonly oldest: number;
  readonly first: number;
}

const DEFAULT_CACHE_BYTES = 64 << 20;
const ROOT_CACHE = 256;
const ZERO_PATH = new Uint8Array(HASH_BYTES);
/** Leaf records, and packed nodes, entries() reads with one getMany. */
const LEAF_BATCH = 1024;
const READ_AHEAD = 64;

export class StateTree {
  readonly #db: Level<Uint8Array, Uint8Array>;
  readonly #prefix: number;
  readonly #keep: number;
  readonly #store: NodeStore;
  readonly #roots = new LruCache<number, { ref: RootRef | null }>(ROOT_CACHE);
  readonly #staged = new WeakMap<PreparedVersion, Staged>();
  #latest = -1;
  #latestRoot: RootRef | null = null;
  #oldest = -1;
  #first = -1;

  private constructor(db: Level<Uint8Array, Uint8Array>, prefix: number, keep: number, cacheBytes: number, cacheNodes: number) {
    this.#db = db;
    this.#prefix = prefix;
    this.#keep = keep;
    this.#store = new NodeStore(db, prefix, cacheBytes, cacheNodes);
  }

  /** Opens the tree stored under `opts.prefix` in `db` (opened with 'view' key and value encodings). */
  static async open(db: Level<Uint8Array, Uint8Array>, opts: StateTreeOptions = {}): Promise<StateTree> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const keep = opts.keepVersions ?? 0;
    const cacheBytes = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    const cacheNodes = opts.cacheNodes ?? Infinity;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 0xff) throw new RangeError(`prefix must be a byte, got ${prefix}`);
    if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`keepVersions must be a non-negative integer, got ${keep}`);
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) throw new RangeError(`cacheBytes must be a non-negative integer, got ${cacheBytes}`);
    if (cacheNodes !== Infinity && (!Number.isSafeInteger(cacheNodes) || cacheNodes < 0)) throw new RangeError(`cacheNodes must be a non-negative integer, got ${cacheNodes}`);
    const tree = new StateTree(db, prefix, keep, cacheBytes, cacheNodes);
    await tree.#load();
    return tree;
  }

  async #load(): Promise<void> {
    const restoring = await this.#db.get(restoreHeaderKey(this.#prefix));
    if (restoring !== undefined) {
      const what = `state database holds an unfinished snapshot restore of version ${decodeRestoreHeader(restoring).version}`;
      throw new StateError('restore_incomplete', `${what}: resume it with TreeRestore.begin and finish it before opening the tree`);
    }
    // Each version's root record is the last key it writes, so the last key is the latest root.
    const last = await this.#db.iterator({ ...tagRange(this.#prefix, TAG_NODE), reverse: true, limit: 1 }).all();
    const newest = last[0];
    if (!newest) return;
    const { kind, version } = describeKey(newest[0]);
    if (kind !== 'root') throw new StateError('corrupt', `state database corrupt: the last record of version ${version} is not its root`);
    const meta = await this.#db.get(metaKey(this.#prefix));
    const root = decodeRoot(newest[1]);
    this.#latest = version;
    this.#latestRoot = root.ref;
    this.#oldest = root.oldest;
    this.#first = meta ? readU64(meta, 0) : this.#oldest;
  }

  /** The latest committed version, -1 when nothing has been committed. */
  get latestVersion(): number {
    return this.#latest;
  }

  /** What the node and leaf caches hold now. */
  cacheStats(): CacheStats {
    return this.#store.stats;
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
    const root = await this.#rootRef(v);
    if (!root) return undefined;
    if (root.kind === 'leaf') return equalBytes(root.keyHash, keyHash) ? this.#readValue(v, root.version, keyHash) : undefined;
    let node = this.#store.peek(root) ?? (await this.#read(v, root, 0, keyHash));
    for (let depth = 0, pos = 1; ; ) {
      pos = 2 * pos + bitAt(keyHash, depth++);
      const k = node.kind(pos);
      if (k === K_INNER) continue;
      if (k === K_EMPTY) return undefined;
      if (k === K_LEAF) return node.isKey(pos, keyHash) ? this.#readValue(v, node.versionAt(pos), keyHash) : undefined;
      node = this.#store.peekChild(node, pos) ?? (await this.#read(v, node.node(pos), depth, keyHash));
      pos = 1;
    }
  }

  /** The value of `key` at `version` with a proof of it (or of its absence) against root(version). */
  async prove(key: Uint8Array, version?: number): Promise<{ value: Uint8Array | undefined; proof: StateProof }> {
    const keyHash = hashKey(key);
    const v = this.#resolve(version);
    const siblings: Uint8Array[] = [];
    const root = await this.#rootRef(v);
    if (!root) return { value: undefined, proof: { type: 'exclusion-empty', siblings } };
    const leafProof = async (ver: number, leafKeyHash: Uint8Array, leafValueHash: Uint8Array): Promise<{ value: Uint8Array | undefined; proof: StateProof }> => {
      if (equalBytes(leafKeyHash, keyHash)) return { value: await this.#readValue(v, ver, keyHash), proof: { type: 'inclusion', siblings } };
      const proof: StateProof = { type: 'exclusion-leaf', siblings, leafKeyHash: leafKeyHash.slice(), leafValueHash: leafValueHash.slice() };
      return { value: undefined, proof };
    };
    if (root.kind === 'leaf') return leafProof(root.version, root.keyHash, root.valueHash);
    let node = this.#store.peek(root) ?? (await this.#read(v, root, 0, keyHash));
    for (let depth = 0, pos = 1; ; ) {
      const bit = bitAt(keyHash, depth++);
      const sib = 2 * pos + 1 - bit;
      siblings.push(node.kind(sib) === K_EMPTY ? EMPTY_HASH.slice() : node.hash(sib).slice());
      pos = 2 * pos + bit;
      const k = node.kind(pos);
      if (k === K_INNER) continue;
      if (k === K_EMPTY) return { value: undefined, proof: { type: 'exclusion-empty', siblings } };
      if (k === K_LEAF) {
        const leaf = node.leaf(pos);
        return leafProof(leaf.version, leaf.keyHash, leaf.valueHash);
      }
      node = this.#store.peekChild(node, pos) ?? (await this.#read(v, node.node(pos), depth, keyHash));
      pos = 1;
    }
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
    const inRange = (kh: Uint8Array): boolean => !((gte && compareBytes(kh, gte) < 0) || (lt && compareBytes(kh, lt) >= 0));
    // Leaves and unread nodes, the next on top. A node is read with the unread nodes below it on
    // the stack (its siblings and cousins, read next) in one getMany, and all are laid out at once,
    // so their children lie together on top for the next read; leaves are read LEAF_BATCH at a time.
    const stack: (NodeRead | LeafRef)[] = [root.kind === 'leaf' ? root : { ref: root, depth: 0, path: ZERO_PATH }];
    const leaves: LeafRef[] = [];
    for (let it = stack.pop(); it; it = stack.pop()) {
      if (!('ref' in it)) {
        if (inRange(it.keyHash)) leaves.push(it);
        if (leaves.length === LEAF_BATCH) yield* this.#withRecords(v, leaves.splice(0));
        continue;
      }
      const at = [stack.length]; // stack indexes, from the top down; `it` was just above the top
      for (let i = stack.length - 1; i >= 0 && at.length < READ_AHEAD; i--) if ('ref' in stack[i]!) at.push(i);
      const reads = at.map((i) => (i === stack.length ? it : stack[i]) as NodeRead);
      const nodes = await this.#readMany(v, reads);
      for (let j = 0; j < at.length; j++) stack.splice(at[j]!, j === 0 ? 0 : 1, ...frontierOf(nodes[j]!, reads[j]!.depth, reads[j]!.path, gte, lt).reverse());
    }
    yield* this.#withRecords(v, leaves);
  }

  /** `leaves` (of version `v`) with their keys and values, read with one getMany. */
  async *#withRecords(v: number, leaves: readonly LeafRef[]): AsyncIterable<StateEntry> {
    let records: { key: Uint8Array; value: Uint8Array }[];
    try {
      records = await this.#store.readLeaves(leaves);
    } catch (e) {
      throw this.#vanished(v, e);
    }
    for (let i = 0; i < leaves.length; i++) yield { keyHash: leaves[i]!.keyHash.slice(), ...records[i]! };
  }

  /**
   * What the subtree at `depth` whose keyHashes start with the first `depth` bits of `path` (32
   * bytes) holds at `version`: nothing, one leaf, or two or more leaves (its stored hash). For
   * snapshot proofs: it reads packed nodes down to that depth and hashes nothing.
   */
  async subtreeSummary(version: number, depth: number, path: Uint8Array): Promise<SubtreeSummary> {
    if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH || !(path instanceof Uint8Array) || path.length !== HASH_BYTES) {
      throw new StateError('key_invalid', `subtreeSummary() takes a depth 0..${MAX_DEPTH} and a 32-byte path`);
    }
    const v = this.#resolve(version);
    const root = await this.#rootRef(v);
    const leaf = (l: { keyHash: Uint8Array; valueHash: Uint8Array }): SubtreeSummary =>
      samePrefix(l.keyHash, path, depth) ? { kind: 'leaf', keyHash: l.keyHash.slice(), valueHash: l.valueHash.slice() } : { kind: 'empty' };
    if (!root) return { kind: 'empty' };
    if (root.kind === 'leaf') return leaf(root);
    if (depth === 0) return { kind: 'node', hash: root.hash.slice() };
    let node = this.#store.peek(root) ?? (await this.#read(v, root, 0, path));
    for (let d = 0, pos = 1; ; ) {
      pos = 2 * pos + bitAt(path, d++);
      const k = node.kind(pos);
      if (k === K_EMPTY) return { kind: 'empty' };
      if (k === K_LEAF) return leaf(node.leaf(pos));
      if (d === depth) return { kind: 'node', hash: node.hash(pos).slice() };
      if (k === K_NODE) {
        node = this.#store.peekChild(node, pos) ?? (await this.#read(v, node.node(pos), d, path));
        pos = 1;
      }
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

  async #rootRef(v: number): Promise<RootRef | null> {
    if (v < 0) return null;
    if (v === this.#latest) return this.#latestRoot;
    const hit = this.#roots.get(v);
    if (hit) return hit.ref;
    const bytes = await this.#db.get(rootKey(this.#prefix, v));
    if (bytes === undefined) {
      if (v < this.#oldest) throw this.#pruned(v);
      throw new StateError('corrupt', `state database corrupt: no root record for version ${v}`);
    }
    const { ref } = decodeRoot(bytes);
    this.#roots.set(v, { ref });
    return ref;
  }

  /** Reads a packed node of version `v`; a node vanishing because `v` was just pruned says so. */
  async #read(v: number, ref: NodeRef, depth: number, path: Uint8Array): Promise<PackedNode> {
    try {
      return await this.#store.read({ ref, depth, path });
    } catch (e) {
      throw this.#vanished(v, e);
    }
  }

  async #readMany(v: number, reads: readonly NodeRead[]): Promise<PackedNode[]> {
    try {
      return await this.#store.readMany(reads);
    } catch (e) {
      throw this.#vanished(v, e);
    }
  }

  /** The key and value of a leaf of version `v` (arrays the caller may keep). */
  async #readLeaf(v: number, leafVersion: number, keyHash: Uint8Array): Promise<{ key: Uint8Array; value: Uint8Array }> {
    try {
      return await this.#store.readLeaf(leafVersion, keyHash);
    } catch (e) {
      throw this.#vanished(v, e);
    }
  }

  async #readValue(v: number, leafVersion: number, keyHash: Uint8Array): Promise<Uint8Array> {
    return (await this.#readLeaf(v, leafVersion, keyHash)).value;
  }

  #vanished(v: number, e: unknown): unknown {
    return e instanceof MissingNodeError && v < this.#oldest ? this.#pruned(v) : e;
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
    for (const n of builder.newLeaves) ops.push({ type: 'put', key: n.key, value: n.bytes });
    if (version <= oldest) {
      // keepVersions 1: what this version replaces is referenced by no kept version; delete it now.
      for (const n of builder.stale) ops.push({ type: 'del', key: staleIdKey(p, n) });
    } else if (builder.stale.length > 0) {
      ops.push({ type: 'put', key: staleKey(p, version), value: encodeStaleIds(builder.stale) });
    }
    if (oldest > oldestBefore) ops.push(...(await this.#store.pruneOps(oldestBefore, oldest, version)));
    ops.push({ type: 'put', key: rootKey(p, version), value: encodeRoot(rootRef, oldest) });
    if (base < 0) ops.push({ type: 'put', key: metaKey(p), value: u64be(version) });

    if (this.#latest !== base) {
      throw new StateError('version_out_of_order', `state version ${this.#latest} was committed while preparing ${version}`);
    }
    const prepared: PreparedVersion = { version, root: (rootRef ? rootRef.hash : EMPTY_HASH).slice(), ops };
    this.#staged.set(prepared, { base, rootRef, newNodes: builder.newNodes, newLeaves: builder.newLeaves, replaced: builder.stale, oldest, first });
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
    for (const n of s.replaced) if (n.kind === 'node') this.#store.forget(n);
    for (const n of s.newNodes) this.#store.remember(n.node);
    for (const l of s.newLeaves) this.#store.rememberLeaf(prepared.version, l.keyHash, l.bytes);
  }

  /** prepare + db.batch + markCommitted, for callers with nothing else to write atomically. */
  async commit(version: number, writes: Iterable<readonly [Uint8Array, Uint8Array | null]>): Promise<PreparedVersion> {
    const prepared = await this.prepare(version, writes);
    await this.#db.batch(prepared.ops);
    this.markCommitted(prepared);
    return prepared;
  }
}
