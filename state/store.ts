/**
 * Reads tree nodes from LevelDB through a bounded cache of decoded nodes.
 *
 * The cache is keyed by what a parent knows about a child, its (hash, version): that pair names one
 * node (a node's hash fixes its leaves and so its depth along a path, and one version writes one
 * node per position), so a hit needs no node key to be built. The Map key is a small integer mixed
 * from hash and version bits; the entry keeps the full pair and a hit checks it. Only committed
 * nodes are cached: they are immutable, and a pruned node is never asked for again (reads of pruned
 * versions are refused), so it can simply age out.
 */
import type { Level } from 'level';
import { equalBytes } from '../chain/bytes.ts';
import { LruCache } from './cache.ts';
import { decodeNode, nodeKey } from './codec.ts';
import type { ChildRef, TreeNode } from './codec.ts';
import { StateError } from './errors.ts';

/** A node to read: the parent's reference to it and where it sits (any path through it). */
export interface NodeRead {
  readonly ref: ChildRef;
  readonly depth: number;
  readonly path: Uint8Array;
}

interface Cached {
  readonly hash: Uint8Array;
  readonly version: number;
  readonly node: TreeNode;
}

/** 30 bits, so V8 keeps Map keys as small integers (no boxed numbers); hits are verified anyway. */
function cacheKey(hash: Uint8Array, version: number): number {
  const top = (hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!;
  return (top ^ Math.imul(version, 0x9e3779b1)) & 0x3fff_ffff;
}

export class NodeStore {
  readonly db: Level<Uint8Array, Uint8Array>;
  readonly prefix: number;
  readonly #cache: LruCache<number, Cached>;

  constructor(db: Level<Uint8Array, Uint8Array>, prefix: number, cacheNodes: number) {
    this.db = db;
    this.prefix = prefix;
    this.#cache = new LruCache<number, Cached>(cacheNodes);
  }

  /** The node if it is cached, without touching the database. */
  peek(ref: ChildRef): TreeNode | undefined {
    const c = this.#cache.get(cacheKey(ref.hash, ref.version));
    if (c === undefined || c.version !== ref.version || !equalBytes(c.hash, ref.hash)) return undefined;
    return expectKind(c.node, ref);
  }

  async read(r: NodeRead): Promise<TreeNode> {
    return this.peek(r.ref) ?? this.#admit(r, await this.db.get(this.#key(r)));
  }

  /** Synchronous read, for the rare node a batch update did not preload. */
  readSync(r: NodeRead): TreeNode {
    return this.peek(r.ref) ?? this.#admit(r, this.db.getSync(this.#key(r)));
  }

  /** Reads many nodes, with one getMany for the uncached ones; results in the order asked. */
  async readMany(reqs: readonly NodeRead[]): Promise<TreeNode[]> {
    const out: (TreeNode | undefined)[] = new Array(reqs.length);
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
    return out as TreeNode[];
  }

  /** Caches a node just committed. */
  remember(ref: ChildRef, node: TreeNode): void {
    this.#cache.set(cacheKey(ref.hash, ref.version), { hash: ref.hash, version: ref.version, node });
  }

  /** Drops a node from the cache (one the latest version no longer uses). */
  forget(ref: { readonly hash: Uint8Array; readonly version: number }): void {
    const k = cacheKey(ref.hash, ref.version);
    const c = this.#cache.get(k);
    if (c !== undefined && c.version === ref.version && equalBytes(c.hash, ref.hash)) this.#cache.delete(k);
  }

  #key(r: NodeRead): Uint8Array {
    return nodeKey(this.prefix, r.ref.version, r.depth, r.path);
  }

  #admit(r: NodeRead, bytes: Uint8Array | undefined): TreeNode {
    if (bytes === undefined) throw new MissingNodeError(this.#key(r));
    const node = expectKind(decodeNode(bytes), r.ref);
    this.remember(r.ref, node);
    return node;
  }
}

/** A node a root refers to is absent: corruption, unless the version was pruned meanwhile. */
export class MissingNodeError extends StateError {
  constructor(key: Uint8Array) {
    super('corrupt', `state database corrupt: node ${Buffer.from(key).toString('hex')} is missing`);
  }
}

function expectKind(node: TreeNode, ref: ChildRef): TreeNode {
  if ((node.kind === 'leaf') !== ref.leaf) {
    throw new StateError('corrupt', `state database corrupt: node of version ${ref.version} is not a ${ref.leaf ? 'leaf' : 'internal node'}`);
  }
  return node;
}
