/**
 * TreeRestore: writes a state received as verified snapshot chunks (snapshot.ts) into an empty
 * tree, bottom-up, with no read-modify-write per key: every record of the restored version is
 * written once, exactly as a single commit of the whole state at that version would write it.
 *
 * add() writes a chunk's leaf records and the packed nodes lying inside its range (built and
 * hashed by verifyChunk), and stores the chunk's frontier: its non-empty maximal in-range blocks,
 * leaves or packed nodes. finish() builds the nodes straddling chunk boundaries from all frontiers
 * with the same builder (subtree.ts) and writes them, the root record and the tree's meta record in
 * one batch, so StateTree.open then finds the version as its only one. Chunks may arrive in any
 * order and in parallel; one that arrives twice is written once.
 *
 * Progress records, under the tree's prefix P (codec.ts), all deleted by finish():
 *   P 'r' 0x00              -> header: u8 format 1 | u64 version | root
 *   P 'r' 0x01 | u32 index  -> chunk written: u8 format 1 | lo | u8 0 (last) or 1 and hi | u32 atom
 *                              count | atoms: 0x01 keyHash valueHash hash (a leaf), or 0x02 u16
 *                              depth | path (32) | hash (a packed node)
 * A chunk's record goes in the same batch as its last leaf and node records, so a chunk counts as
 * done after a crash only if all of it is on disk. While the header exists StateTree.open refuses
 * the database ('restore_incomplete').
 *
 * A chunk verifies alone, but cannot prove its index: add() refuses one whose range does not meet
 * a neighbour's already added, finish() chunks that do not tile the keyspace. Whatever a verified
 * chunk wrote is true state of the version (a record's key fixes its bytes, whichever chunk wrote
 * it), so discard() only forgets a chunk's progress record.
 */
import type { Level } from 'level';
import { equalBytes, toHex } from '../chain/bytes.ts';
import {
  corrupt,
  decodeRestoreHeader,
  DEFAULT_PREFIX,
  encodeRoot,
  leafKey,
  makeLeaf,
  metaKey,
  nodeKey,
  restoreHeaderKey,
  rootKey,
  TAG_META,
  TAG_NODE,
  TAG_RESTORE,
  writeU64,
} from './codec.ts';
import type { RootRef } from './codec.ts';
import { HASH_BYTES } from './hashing.ts';
import { K_EMPTY, K_LEAF } from './packed.ts';
import { SnapshotError } from './snapshot.ts';
import type { FrontierAtom, VerifiedChunk } from './snapshot.ts';
import { Atoms, LEAF_ATOM, SubtreeBuilder } from './subtree.ts';
import type { BatchOp } from './tree.ts';

type Db = Level<Uint8Array, Uint8Array>;

/** Ops per db.batch: big enough to amortise a write, small enough not to stall LevelDB. */
const BATCH_OPS = 50_000;
const LEAF_KEY_BYTES = 12 + HASH_BYTES;

interface Range {
  readonly lo: Uint8Array;
  readonly hi: Uint8Array | null;
}

export class TreeRestore {
  readonly prefix: number;
  readonly version: number;
  readonly root: Uint8Array;
  readonly #db: Db;
  readonly #done = new Set<number>();
  /** The ranges of the chunks done or being written. */
  readonly #ranges = new Map<number, Range>();
  readonly #pending = new Map<number, Promise<void>>();
  #lastIndex: number | undefined;
  #finishing = false;
  #finished = false;

  private constructor(db: Db, prefix: number, version: number, root: Uint8Array) {
    this.#db = db;
    this.prefix = prefix;
    this.version = version;
    this.root = root;
  }

  /**
   * Starts restoring `version` with root `root` into the empty tree under `prefix` of `db`, or
   * resumes the restore of that same version and root in progress there (`done` then holds the
   * chunks already written). Refuses a tree holding committed versions, or another restore.
   */
  static async begin(db: Db, opts: { prefix?: number; version: number; root: Uint8Array }): Promise<TreeRestore> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const { version, root } = opts;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 0xff) throw new RangeError(`prefix must be a byte, got ${prefix}`);
    if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`version must be a non-negative integer, got ${version}`);
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) throw new TypeError('root must be 32 bytes');
    const restore = new TreeRestore(db, prefix, version, root.slice());
    const header = await db.get(restoreHeaderKey(prefix));
    if (header !== undefined) {
      const h = decodeRestoreHeader(header);
      if (h.version !== version || !equalBytes(h.root, root)) {
        throw new SnapshotError('restore_mismatch', `a restore of state version ${h.version} (root ${toHex(h.root)}) is in progress in this database, not of version ${version} (root ${toHex(root)}): finish it, or TreeRestore.abandon it`);
      }
      for await (const [key, value] of db.iterator(chunkRange(prefix))) {
        const index = readU32(key, 3);
        const range = decodeProgress(value, false).range;
        restore.#ranges.set(index, range);
        restore.#done.add(index);
        if (range.hi === null) restore.#lastIndex = index;
      }
      return restore;
    }
    const used = await db.keys({ gte: Uint8Array.of(prefix, TAG_META), lt: Uint8Array.of(prefix, TAG_NODE + 1), limit: 1 }).all();
    if (used.length > 0) {
      throw new SnapshotError('restore_not_empty', `the state tree under prefix 0x${prefix.toString(16)} already holds committed versions: a snapshot restores into an empty tree only`);
    }
    const h = new Uint8Array(9 + HASH_BYTES);
    h[0] = 1;
    writeU64(h, 1, version);
    h.set(root, 9);
    await db.put(restoreHeaderKey(prefix), h);
    return restore;
  }

  /**
   * Deletes a restore in progress under `prefix` (its header, progress and every record it wrote),
   * for a node that gives up on that snapshot. Does nothing when no restore is in progress, so a
   * committed tree is never touched.
   */
  static async abandon(db: Db, opts: { prefix?: number } = {}): Promise<void> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    if ((await db.get(restoreHeaderKey(prefix))) === undefined) return;
    await db.clear({ gte: Uint8Array.of(prefix, TAG_NODE), lt: Uint8Array.of(prefix, TAG_NODE + 1) });
    await db.clear(chunkRange(prefix));
    await db.del(restoreHeaderKey(prefix)); // last: until here, a crash leaves a restore to abandon again
  }

  /** Indexes of the chunks durably written (after a crash and begin() again too). */
  get done(): ReadonlySet<number> {
    return this.#done;
  }

  /**
   * Writes a chunk verified against this restore's version and root. Chunks may come in any order
   * and concurrently; adding an index again is a no-op. Refuses ('chunk_range_conflict') a chunk
   * whose range does not meet a neighbour's already added: one of the two came under a wrong
   * index (every verified chunk is true state, but only the right ones tile the keyspace).
   */
  async add(chunk: VerifiedChunk): Promise<void> {
    if (this.#finished) throw new SnapshotError('restore_finished', 'this restore has finished; open the tree');
    if (this.#finishing) throw new SnapshotError('restore_finished', 'this restore is finishing: add chunks before finish()');
    if (chunk.version !== this.version || !equalBytes(chunk.root, this.root)) {
      throw new SnapshotError('restore_mismatch', `chunk ${chunk.index} was verified against state version ${chunk.version}, root ${toHex(chunk.root)}; this restore is of version ${this.version}, root ${toHex(this.root)}`);
    }
    const i = chunk.index;
    const known = this.#ranges.get(i);
    if (known) {
      if (!sameRange(known, chunk)) throw conflict(`chunk ${i} was already added with another range`);
      await this.#pending.get(i);
      return;
    }
    const prev = this.#ranges.get(i - 1);
    const next = this.#ranges.get(i + 1);
    if (prev && (prev.hi === null || !equalBytes(prev.hi, chunk.lo))) throw conflict(`chunk ${i} does not start where chunk ${i - 1} ends`);
    if (next && (chunk.hi === null || !equalBytes(chunk.hi, next.lo))) throw conflict(`chunk ${i} does not end where chunk ${i + 1} starts`);
    if (this.#lastIndex !== undefined && i > this.#lastIndex) throw conflict(`chunk ${i} comes after the last chunk, ${this.#lastIndex}`);
    if (chunk.last) for (const j of this.#ranges.keys()) if (j > i) throw conflict(`chunk ${i} says it is the last, but chunk ${j} was added`);
    this.#ranges.set(i, { lo: chunk.lo, hi: chunk.hi });
    if (chunk.last) this.#lastIndex = i;
    const write = this.#write(chunk);
    this.#pending.set(i, write);
    try {
      await write;
      this.#done.add(i);
    } catch (e) {
      this.#forget(i);
      throw e;
    } finally {
      this.#pending.delete(i);
    }
  }

  /** Forgets chunk `index` (its records stay: they are true state, rewritten by the right chunk). */
  async discard(index: number): Promise<void> {
    await this.#pending.get(index)?.catch(() => undefined);
    await this.#db.del(chunkKey(this.prefix, index));
    this.#forget(index);
  }

  #forget(index: number): void {
    this.#done.delete(index);
    this.#ranges.delete(index);
    if (this.#lastIndex === index) this.#lastIndex = undefined;
  }

  async #write(c: VerifiedChunk): Promise<void> {
    const p = this.prefix;
    const v = this.version;
    const { bytes, at, keyHashes } = c;
    const n = at.length / 2;
    let batch = this.#db.batch();
    for (const node of c.nodes) batch.put(nodeKey(p, v, node.depth, node.path), node.record);
    // Leaf keys and records, each kind in one buffer: LevelDB copies them into the batch anyway.
    const template = leafKey(p, v, new Uint8Array(HASH_BYTES)).subarray(0, LEAF_KEY_BYTES - HASH_BYTES);
    const keys = new Uint8Array(n * LEAF_KEY_BYTES);
    const records = new Uint8Array(bytes.length); // a record is no longer than its entry in the chunk
    for (let i = 0, ro = 0; i < n; i++) {
      const ko = i * LEAF_KEY_BYTES;
      keys.set(template, ko);
      for (let j = 0, kh = i * HASH_BYTES, o = ko + template.length; j < HASH_BYTES; j++) keys[o + j] = keyHashes[kh + j]!;
      // The record: the entry's u16 key length and key as the chunk has them, then its value.
      const k = at[2 * i]!;
      const val = at[2 * i + 1]!;
      const keyEnd = k + ((bytes[k - 2]! << 8) | bytes[k - 1]!);
      const valueEnd = val + (((bytes[val - 4]! << 24) | (bytes[val - 3]! << 16) | (bytes[val - 2]! << 8) | bytes[val - 1]!) >>> 0);
      const start = ro;
      for (let j = k - 2; j < keyEnd; j++) records[ro++] = bytes[j]!;
      for (let j = val; j < valueEnd; j++) records[ro++] = bytes[j]!;
      batch.put(keys.subarray(ko, ko + LEAF_KEY_BYTES), records.subarray(start, ro));
      if (batch.length >= BATCH_OPS) {
        await batch.write();
        batch = this.#db.batch();
      }
    }
    batch.put(chunkKey(p, c.index), encodeProgress(c));
    await batch.write();
  }

  /**
   * Writes the nodes above the chunks, the root record of the version and the tree's meta record,
   * with `extraOps` (the caller's own records), in one batch, and ends the restore. Needs every
   * chunk from 0 to the last, tiling the keyspace.
   */
  async finish(extraOps: BatchOp[] = []): Promise<void> {
    if (this.#finished || this.#finishing) throw new SnapshotError('restore_finished', 'this restore has finished already');
    this.#finishing = true;
    try {
      await this.#finish(extraOps);
      this.#finished = true;
    } finally {
      this.#finishing = false;
    }
  }

  async #finish(extraOps: BatchOp[]): Promise<void> {
    await Promise.allSettled([...this.#pending.values()]);
    const p = this.prefix;
    const chunks = (await this.#db.iterator(chunkRange(p)).all()).map(([key, value]) => ({ key, index: readU32(key, 3), ...decodeProgress(value, true) }));
    const lastAt = chunks.findIndex((c) => c.range.hi === null);
    const present = new Set(chunks.map((c) => c.index));
    const upTo = lastAt < 0 ? (chunks.length > 0 ? chunks[chunks.length - 1]!.index : -1) : chunks[lastAt]!.index;
    const missing: number[] = [];
    for (let i = 0; i <= upTo && missing.length < 20; i++) if (!present.has(i)) missing.push(i);
    if (missing.length > 0 || lastAt < 0) {
      const what = [missing.length > 0 ? `chunks ${missing.join(', ')}${missing.length === 20 ? ', ...' : ''}` : '', lastAt < 0 ? `the last chunk (after ${upTo})` : ''];
      throw new SnapshotError('restore_missing_chunks', `cannot finish the restore of state version ${this.version}: missing ${what.filter(Boolean).join(' and ')}`);
    }
    if (chunks.length !== upTo + 1) throw conflict(`chunks after the last one (${upTo}) were added`);
    let atomCount = 0;
    for (let i = 0; i < chunks.length; i++) {
      const lo = chunks[i]!.range.lo;
      const expected = i === 0 ? new Uint8Array(HASH_BYTES) : chunks[i - 1]!.range.hi;
      if (!expected || !equalBytes(lo, expected)) throw conflict(`chunk ${i} does not start where chunk ${i - 1} ends`);
      atomCount += chunks[i]!.atoms.length;
    }
    const atoms = new Atoms(atomCount);
    for (const c of chunks) {
      for (const a of c.atoms) atoms.push(a.kind === 'leaf' ? LEAF_ATOM : a.depth, a.kind === 'leaf' ? a.keyHash : a.path, a.kind === 'leaf' ? a.valueHash : null, a.hash);
    }
    const builder = new SubtreeBuilder(atoms);
    const hash = new Uint8Array(HASH_BYTES);
    const kind = builder.build(0, atoms.count, 0, hash, 0);
    if (!equalBytes(hash, this.root)) {
      throw new SnapshotError('restore_corrupt', `the restored chunks make root ${toHex(hash)}, not the trusted ${toHex(this.root)}: the progress records are damaged`);
    }
    const v = this.version;
    const ref: RootRef | null = kind === K_EMPTY ? null : kind === K_LEAF ? makeLeaf(v, atoms.kh.slice(0, HASH_BYTES), atoms.vh.slice(0, HASH_BYTES), hash) : { kind: 'node', hash, version: v };
    const ops: BatchOp[] = builder.nodes.map((n) => ({ type: 'put', key: nodeKey(p, v, n.depth, n.path), value: n.record }));
    ops.push({ type: 'put', key: rootKey(p, v), value: encodeRoot(ref, v) });
    const meta = new Uint8Array(8);
    writeU64(meta, 0, v);
    ops.push({ type: 'put', key: metaKey(p), value: meta });
    for (const c of chunks) ops.push({ type: 'del', key: c.key });
    ops.push({ type: 'del', key: restoreHeaderKey(p) }, ...extraOps);
    await this.#db.batch(ops);
  }
}

/** The restore in progress under `prefix` of `db`, if any: its version, root and chunks written. */
export async function restoreInProgress(db: Db, prefix = DEFAULT_PREFIX): Promise<{ version: number; root: Uint8Array; done: number } | undefined> {
  const header = await db.get(restoreHeaderKey(prefix));
  if (header === undefined) return undefined;
  const { version, root } = decodeRestoreHeader(header);
  const done = (await db.keys(chunkRange(prefix)).all()).length;
  return { version, root, done };
}

function conflict(what: string): SnapshotError {
  return new SnapshotError('chunk_range_conflict', `${what}: one of them came under a wrong index (discard it and fetch it again)`);
}

function sameRange(a: Range, b: Range): boolean {
  return equalBytes(a.lo, b.lo) && (a.hi === null ? b.hi === null : b.hi !== null && equalBytes(a.hi, b.hi));
}

function chunkKey(prefix: number, index: number): Uint8Array {
  return Uint8Array.of(prefix, TAG_RESTORE, 0x01, index >>> 24, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff);
}

function chunkRange(prefix: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix, TAG_RESTORE, 0x01), lt: Uint8Array.of(prefix, TAG_RESTORE, 0x02) };
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

const LEAF_ATOM_BYTES = 1 + 3 * HASH_BYTES;
const NODE_ATOM_BYTES = 1 + 2 + 2 * HASH_BYTES;

function encodeProgress(c: VerifiedChunk): Uint8Array {
  let size = 1 + HASH_BYTES + 1 + (c.hi ? HASH_BYTES : 0) + 4;
  for (const a of c.frontier) size += a.kind === 'leaf' ? LEAF_ATOM_BYTES : NODE_ATOM_BYTES;
  const out = new Uint8Array(size);
  out[0] = 1;
  out.set(c.lo, 1);
  let off = 1 + HASH_BYTES;
  out[off++] = c.hi ? 1 : 0;
  if (c.hi) {
    out.set(c.hi, off);
    off += HASH_BYTES;
  }
  new DataView(out.buffer).setUint32(off, c.frontier.length);
  off += 4;
  for (const a of c.frontier) {
    if (a.kind === 'leaf') {
      out[off] = 1;
      out.set(a.keyHash, off + 1);
      out.set(a.valueHash, off + 1 + HASH_BYTES);
      out.set(a.hash, off + 1 + 2 * HASH_BYTES);
      off += LEAF_ATOM_BYTES;
    } else {
      out[off] = 2;
      out[off + 1] = a.depth >>> 8;
      out[off + 2] = a.depth & 0xff;
      out.set(a.path.subarray(0, HASH_BYTES), off + 3);
      out.set(a.hash, off + 3 + HASH_BYTES);
      off += NODE_ATOM_BYTES;
    }
  }
  return out;
}

/** A chunk's progress record: its range, and its frontier when `atoms` is asked for. */
function decodeProgress(b: Uint8Array, withAtoms: boolean): { range: Range; atoms: FrontierAtom[] } {
  const bad = (): never => {
    throw corrupt('bad snapshot restore progress record');
  };
  if (b.length < 2 + HASH_BYTES + 4 || b[0] !== 1 || b[1 + HASH_BYTES]! > 1) bad();
  const lo = b.slice(1, 1 + HASH_BYTES);
  let off = 2 + HASH_BYTES;
  let hi: Uint8Array | null = null;
  if (b[1 + HASH_BYTES] === 1) {
    if (b.length < off + HASH_BYTES + 4) bad();
    hi = b.slice(off, off + HASH_BYTES);
    off += HASH_BYTES;
  }
  const atoms: FrontierAtom[] = [];
  if (!withAtoms) return { range: { lo, hi }, atoms };
  const count = readU32(b, off);
  off += 4;
  for (let i = 0; i < count; i++) {
    const kind = b[off];
    if (kind === 1 && off + LEAF_ATOM_BYTES <= b.length) {
      const x = off + 1;
      atoms.push({ kind: 'leaf', keyHash: b.subarray(x, x + HASH_BYTES), valueHash: b.subarray(x + HASH_BYTES, x + 2 * HASH_BYTES), hash: b.subarray(x + 2 * HASH_BYTES, x + 3 * HASH_BYTES) });
      off += LEAF_ATOM_BYTES;
    } else if (kind === 2 && off + NODE_ATOM_BYTES <= b.length) {
      const x = off + 3;
      atoms.push({ kind: 'node', depth: (b[off + 1]! << 8) | b[off + 2]!, path: b.subarray(x, x + HASH_BYTES), hash: b.subarray(x + HASH_BYTES, x + 2 * HASH_BYTES) });
      off += NODE_ATOM_BYTES;
    } else bad();
  }
  if (off !== b.length) bad();
  return { range: { lo, hi }, atoms };
}
