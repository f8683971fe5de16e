/**
 * Reads packed nodes and leaf records from LevelDB, packed nodes through a bounded cache of
 * decoded nodes.
 *
 * The cache is keyed by what a parent knows about a child, its (hash, version): that pair names one
 * node (a node's hash fixes its leaves and so its position, and one version writes one node per
 * position), so a hit needs no node key to be built. The Map key is a small integer mixed from hash
 * and version bits; a node knows its version and root hash, and a hit checks both. Only committed
 * nodes are cached: they are immutable, and a pruned node is never asked for again (reads of pruned
 * versions are refused), so it can simply age out. Both caches are bounded by bytes: a node's
 * array plus what V8 and the Map spend around it (NODE_OVERHEAD, measured by bench/state.bench.ts).
 */
import type { Level } from 'level';
import { LruCache } from './cache.ts';
import { decodeLeafRecord, leafKey, nodeKey, readU64, rootKey, staleKey, staleRecordKeys, writeU64 } from './codec.ts';
import type { NodeRef } from './codec.ts';
import { StateError } from './errors.ts';
import { decodePacked } from './packed.ts';
import type { PackedNode } from './packed.ts';
import type { BatchOp } from './tree.ts';

/** A node to read: the parent's reference to it and where it sits (any path through it). */
export interface NodeRead {
  readonly ref: NodeRef;
  readonly depth: number;
  readonly path: Uint8Array;
}

/** 30 bits, so V8 keeps Map keys as small integers (no boxed numbers); hits are verified anyway. */
function cacheKey(hash: Uint8Array, version: number, off = 0): number {
  const top = (hash[off]! << 24) | (hash[off + 1]! << 16) | (hash[off + 2]! << 8) | hash[off + 3]!;
  return (top ^ Math.imul(version, 0x9e3779b1)) & 0x3fff_ffff;
}

/** Bytes a cached node or leaf costs beyond its array: its objects, the ArrayBuffer's, the Map entry. */
const NODE_OVERHEAD = 300;
const LEAF_OVERHEAD = 300;
/** The share of the cache's bytes that leaf records may hold. */
const LEAF_SHARE = 8;

/** What the caches hold, in entries and in bytes as they count them. */
export interface CacheStats {
  nodes: number;
  leaves: number;
  bytes: number;
  limitBytes: number;
}

/** A cached leaf record: u64 version | keyHash | the record (u16 key length | key | value). */
const LEAF_HEAD = 8 + 32;

export class NodeStore {
  readonly db: Level<Uint8Array, Uint8Array>;
  readonly prefix: number;
  readonly #cache: LruCache<number, PackedNode>;
  /**
   * The last leaf record written or read of each keyHash (one entry per key, not per version: reads
   * are of the latest version nearly always), keyed like nodes and checked on a hit. A leaf of
   * (version, keyHash) never changes once written, so a cached one is never stale; every account
   * read (mempool admission, execution) would otherwise cost a LevelDB get.
   */
  readonly #leaves: LruCache<number, Uint8Array>;
  readonly #limit: number;

  /** `bytes` bounds both caches (leaves get 1/LEAF_SHARE of it); `maxNodes` bounds the count of each too. */
  constructor(db: Level<Uint8Array, Uint8Array>, prefix: number, bytes: number, maxNodes = Infinity) {
    this.db = db;
    this.prefix = prefix;
    this.#limit = bytes;
    const leafBytes = Math.floor(bytes / LEAF_SHARE);
    this.#cache = new LruCache<number, PackedNode>(bytes - leafBytes, (n) => n.b.byteLength + NODE_OVERHEAD, maxNodes);
    this.#leaves = new LruCache<number, Uint8Array>(leafBytes, (b) => b.byteLength + LEAF_OVERHEAD, maxNodes);
  }

  get stats(): CacheStats {
    return { nodes: this.#cache.size, leaves: this.#leaves.size, bytes: this.#cache.weight + this.#leaves.weight, limitBytes: this.#limit };
  }

  /** The node if it is cached, without touching the database. */
  peek(ref: NodeRef): PackedNode | undefined {
    const c = this.#cache.get(cacheKey(ref.hash, ref.version));
    return c !== undefined && c.version === ref.version && c.hashIs(1, ref.hash) ? c : undefined;
  }

  /** The child node at slot `pos` of `parent` if it is cached (no reference object needed). */
  peekChild(parent: PackedNode, pos: number): PackedNode | undefined {
    const version = parent.versionAt(pos);
    const c = this.#cache.get(cacheKey(parent.b, version, parent.at(pos)));
    return c !== undefined && c.version === version && c.hashIs(1, parent.b, parent.at(pos)) ? c : undefined;
  }

  async read(r: NodeRead): Promise<PackedNode> {
    return this.peek(r.ref) ?? this.#admit(r, await this.db.get(this.#key(r)));
  }

  /** Synchronous read, for the rare node a batch update did not preload. */
  readSync(r: NodeRead): PackedNode {
    return this.peek(r.ref) ?? this.#admit(r, this.db.getSync(this.#key(r)));
  }

  /** Reads many nodes, with one getMany for the uncached ones; results in the order asked. */
  async readMany(reqs: readonly NodeRead[]): Promise<PackedNode[]> {
    const out: (PackedNode | undefined)[] = new Array(reqs.length);
    const missing: number[] = [];
    for (let i = 0; i < reqs.length; i++) {
      const hit = this.peek(reqs[i]!.ref);
      if (hit) out[i] = hit;
      else missing.push(i);
    }
    if (missing.length > 0) {
      const values = await this.db.getMany(missing.map((i) => this.#key(reqs[i]!)));
      missing.forEach((i, j) => {
        out[i] = this.#admit(reqs[i]!, values[j]);
      });
    }
    return out as PackedNode[];
  }

  /** The key and value of the leaf (version, keyHash): views of a fresh array, the caller's to keep. */
  async readLeaf(version: number, keyHash: Uint8Array): Promise<{ key: Uint8Array; value: Uint8Array }> {
    const id = cacheKey(keyHash, 0);
    const cached = this.#leaves.get(id);
    // A copy: the record's views are the caller's to keep, and the cached bytes must not change.
    if (cached !== undefined && readU64(cached, 0) === version && sameHash(cached, 8, keyHash)) return decodeLeafRecord(cached.slice(LEAF_HEAD));
    const key = leafKey(this.prefix, version, keyHash);
    const bytes = await this.db.get(key);
    if (bytes === undefined) throw new MissingNodeError(key);
    this.rememberLeaf(version, keyHash, bytes);
    return decodeLeafRecord(bytes);
  }

  /**
   * The keys and values of many leaves with one getMany, in the order asked. Bulk reads (entries,
   * snapshots) bypass the leaf cache: they would only evict the leaves that are read again.
   */
  async readLeaves(leaves: readonly { version: number; keyHash: Uint8Array }[]): Promise<{ key: Uint8Array; value: Uint8Array }[]> {
    if (leaves.length === 0) return [];
    const keys = leaves.map((l) => leafKey(this.prefix, l.version, l.keyHash));
    const values = await this.db.getMany(keys);
    return values.map((bytes, i) => {
      if (bytes === undefined) throw new MissingNodeError(keys[i]!);
      return decodeLeafRecord(bytes);
    });
  }

  /** Caches the leaf record of (version, keyHash), just committed or read, in place of the key's last one. */
  rememberLeaf(version: number, keyHash: Uint8Array, record: Uint8Array): void {
    const e = new Uint8Array(LEAF_HEAD + record.length);
    writeU64(e, 0, version);
    e.set(keyHash, 8);
    e.set(record, LEAF_HEAD);
    this.#leaves.set(cacheKey(keyHash, 0), e);
  }

  /** Caches a node just committed (or read). */
  remember(node: PackedNode): void {
    this.#cache.set(cacheKey(node.b, node.version, node.at(1)), node);
  }

  /**
   * Drops a node from the cache (one the latest version no longer uses). A node that happens to
   * share its cache key goes too; it is read again if needed.
   */
  forget(ref: { readonly hash: Uint8Array; readonly version: number }): void {
    this.#cache.delete(cacheKey(ref.hash, ref.version));
  }

  /**
   * The deletes that raise the oldest kept version from `from` to `to` (while `version` is
   * prepared): the records stale since each version in (from, to] (a record stale since s serves
   * only versions before s), their stale lists, and the root records of [from, to).
   */
  async pruneOps(from: number, to: number, version: number): Promise<BatchOp[]> {
    const p = this.prefix;
    const ops: BatchOp[] = [];
    const staleVersions: number[] = [];
    for (let s = from + 1; s <= Math.min(to, version - 1); s++) staleVersions.push(s);
    const records = await this.db.getMany(staleVersions.map((s) => staleKey(p, s)));
    records.forEach((rec, i) => {
      if (rec === undefined) return;
      ops.push({ type: 'del', key: staleKey(p, staleVersions[i]!) });
      for (const key of staleRecordKeys(p, rec)) ops.push({ type: 'del', key });
    });
    for (let v = from; v < to; v++) ops.push({ type: 'del', key: rootKey(p, v) });
    return ops;
  }

  #key(r: NodeRead): Uint8Array {
    return nodeKey(this.prefix, r.ref.version, r.depth, r.path);
  }

  #admit(r: NodeRead, bytes: Uint8Array | undefined): PackedNode {
    if (bytes === undefined) throw new MissingNodeError(this.#key(r));
    const node = decodePacked(bytes, r.ref.version, r.depth, r.path);
    if (!node.hashIs(1, r.ref.hash)) {
      throw new StateError('corrupt', `state database corrupt: node of version ${r.ref.version} at depth ${r.depth} does not match its hash`);
    }
    this.remember(node);
    return node;
  }
}

function sameHash(a: Uint8Array, off: number, h: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[off + i] !== h[i]) return false;
  return true;
}

/** A node or leaf a root refers to is absent: corruption, unless the version was pruned meanwhile. */
export class MissingNodeError extends StateError {
  constructor(key: Uint8Array) {
    super('corrupt', `state database corrupt: record ${Buffer.from(key).toString('hex')} is missing`);
  }
}
