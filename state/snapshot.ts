/**
 * Snapshots of the state tree for state sync: a version cut into chunks, each of which verifies
 * alone against the version's root (restore.ts writes verified chunks into an empty tree).
 *
 * A chunk covers the keyHashes [lo, hi) (hi null: up to 2^256) and holds every leaf of the version
 * in that range, in keyHash order, plus a range proof. Chunks tile the keyspace: chunk 0 starts at
 * zero, chunk i+1 where chunk i ends, the last one runs to the end. Cutting is deterministic: the
 * leaves are taken in keyHash order and a chunk is cut before the next leaf once its entries'
 * encoding reaches chunkBytes (SNAPSHOT_CHUNK_BYTES in format 1), or would pass the maximum chunk.
 * The boundary before leaf `first` (after leaf `prev`) is the smallest "first's keyHash truncated
 * to n nibbles, the rest zero" (n = 1..64) above prev: short boundaries keep proofs short. So a
 * boundary b of n nibbles has leaves in [b cut to n - 1 nibbles, b) and in [b, b + 16^(64-n)),
 * which the verifier checks (one side from the entries, the other from the proof): a verified
 * chunk's range lies between two neighbouring leaves at each end, as format 1 cuts it. What a chunk
 * alone cannot show is its index (how many chunks come before it): restore.ts checks the tiling.
 *
 * Range proof: the keyspace is split into maximal blocks aligned to packed nodes: a subtree at a
 * depth that is a multiple of 4 lying inside [lo, hi) is an in-range block, one outside an
 * out-of-range block, one straddling lo or hi splits into its 16 children. The blocks depend on lo
 * and hi alone, so the proof is just one summary per out-of-range block, in keyHash order: empty,
 * one leaf (keyHash, valueHash), or two or more leaves (hash). The verifier builds the in-range
 * blocks from the entries (subtree.ts, keeping the records and hashes for restore) and combines
 * them with the summaries into the root; combining follows leaf compression (hashing.ts).
 *
 * Encoding (format 1; integers big-endian; at most MAX_CHUNK_BYTES):
 *   u8 format 1 | u64 version | u32 index | lo (32) | u8 0 (last chunk) or 1 followed by hi (32)
 *   | u32 entry count | each entry: u16 key length (1..MAX_KEY_BYTES) | key | u32 value length | value
 *   | each summary: 0x00 (empty) | 0x01 keyHash valueHash (one leaf) | 0x02 hash (two or more)
 * and nothing after the last summary the blocks call for.
 */
import { CodedError } from '../chain/errors.ts';
import { MAX_KEY_BYTES } from './codec.ts';
import { compareHashes, EMPTY_HASH, greatestBelow, HASH_BYTES, samePrefix } from './hashing.ts';
import { K_EMPTY, K_LEAF, K_NODE, PACK_LEVELS } from './packed.ts';
import { sha256At, sha256PairAt } from './sha256.ts';
import { Atoms, LEAF_ATOM, SubtreeBuilder } from './subtree.ts';
import type { BuiltNode, SubtreeSummary } from './subtree.ts';
import type { StateEntry, StateTree } from './tree.ts';

export const SNAPSHOT_FORMAT = 1;
/** Entries' encoding at which format 1 cuts a chunk. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/** The largest chunk encoding accepted (a chunk may pass SNAPSHOT_CHUNK_BYTES by its last entry). */
export const MAX_CHUNK_BYTES = 16 << 20;

export type SnapshotErrorCode =
  | 'chunk_malformed' // the bytes are not a canonical format 1 chunk (lengths, order, range, boundaries)
  | 'chunk_wrong_height' // a chunk of another state version than asked for
  | 'chunk_wrong_index' // a chunk with another index than asked for
  | 'chunk_proof_invalid' // decodes, but its entries and proof do not make the trusted root
  | 'chunk_range_conflict' // a verified chunk whose range disagrees with a neighbour's already added
  | 'entry_too_large' // a leaf too large for any chunk (snapshotChunks)
  | 'restore_not_empty' // TreeRestore.begin on a tree holding committed versions
  | 'restore_mismatch' // a restore of another version or root is in progress, or a chunk is of one
  | 'restore_missing_chunks' // finish() before every chunk 0..last was added
  | 'restore_finished' // add() or finish() after finish()
  | 'restore_corrupt'; // the restore's progress records are undecodable or do not make the root

export class SnapshotError extends CodedError<SnapshotErrorCode> {}

export interface ChunkEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** A non-empty maximal in-range block: one leaf, or the packed node at (depth, path). */
export type FrontierAtom =
  | { readonly kind: 'leaf'; readonly keyHash: Uint8Array; readonly valueHash: Uint8Array; readonly hash: Uint8Array }
  | { readonly kind: 'node'; readonly depth: number; readonly path: Uint8Array; readonly hash: Uint8Array };

/**
 * A chunk that verified, with what restore needs so that it hashes nothing again. Plain data
 * (arrays and objects), so it can cross a worker boundary; `entries` is an accessor that makes its
 * views when first read (a structured clone reads it).
 */
export interface VerifiedChunk {
  index: number;
  version: number;
  lo: Uint8Array;
  hi: Uint8Array | null;
  last: boolean;
  /** In keyHash order; key and value view `bytes` (made on first use: restore reads `at`). */
  entries: ChunkEntry[];
  /** The root the chunk verified against. */
  root: Uint8Array;
  /** The chunk's encoding (a copy of what verifyChunk was given). */
  bytes: Uint8Array;
  /** Entry i's key is bytes[at[2i] .. at[2i] + keyLen], keyLen the u16 before it; its value the u32-length-prefixed bytes at at[2i + 1]. */
  at: Uint32Array;
  /** sha256 of entry i's key at [32 i, 32 i + 32). */
  keyHashes: Uint8Array;
  /** Records of every packed node lying inside [lo, hi): packed.ts encoding, all of `version`. */
  nodes: BuiltNode[];
  /** The in-range blocks that are not empty, in keyHash order: what restore builds the top from. */
  frontier: FrontierAtom[];
}

const ENTRY_OVERHEAD = 2 + 4;
/** Room left for the header and the longest proof (2 boundaries x 64 levels x 15 leaf summaries). */
const MAX_ENTRIES_BYTES = MAX_CHUNK_BYTES - (1 << 18);

// ---- generating ----

/** Yields the encoded chunks of `version`, in order (index 0, 1, ...). Reads the version while later versions are committed. */
export async function* snapshotChunks(tree: StateTree, version: number, opts: { chunkBytes?: number } = {}): AsyncIterable<Uint8Array> {
  const chunkBytes = opts.chunkBytes ?? SNAPSHOT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_ENTRIES_BYTES) {
    throw new RangeError(`chunkBytes must be an integer 1..${MAX_ENTRIES_BYTES}, got ${chunkBytes}`);
  }
  let index = 0;
  let lo: Uint8Array = new Uint8Array(HASH_BYTES);
  let cur: StateEntry[] = [];
  let size = 0;
  for await (const e of tree.entries(version)) {
    const bytes = ENTRY_OVERHEAD + e.key.length + e.value.length;
    if (bytes > MAX_ENTRIES_BYTES) {
      throw new SnapshotError('entry_too_large', `a ${e.value.length}-byte value does not fit in a snapshot chunk (at most ${MAX_CHUNK_BYTES} bytes)`);
    }
    if (cur.length > 0 && (size >= chunkBytes || size + bytes > MAX_ENTRIES_BYTES)) {
      const hi = boundary(cur[cur.length - 1]!.keyHash, e.keyHash);
      yield await encodeChunk(tree, version, index++, lo, hi, cur, size);
      lo = hi;
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += bytes;
  }
  yield await encodeChunk(tree, version, index, lo, null, cur, size);
}

async function encodeChunk(tree: StateTree, version: number, index: number, lo: Uint8Array, hi: Uint8Array | null, entries: StateEntry[], size: number): Promise<Uint8Array> {
  const proof: SubtreeSummary[] = [];
  let proofBytes = 0;
  for (const { depth, path } of outOfRange(lo, hi)) {
    const s = await tree.subtreeSummary(version, depth, path);
    proof.push(s);
    proofBytes += s.kind === 'empty' ? 1 : s.kind === 'leaf' ? 1 + 2 * HASH_BYTES : 1 + HASH_BYTES;
  }
  const out = new Uint8Array(1 + 8 + 4 + HASH_BYTES + 1 + (hi ? HASH_BYTES : 0) + 4 + size + proofBytes);
  const v = new DataView(out.buffer);
  out[0] = SNAPSHOT_FORMAT;
  v.setUint32(1, Math.floor(version / 0x1_0000_0000));
  v.setUint32(5, version >>> 0);
  v.setUint32(9, index);
  out.set(lo, 13);
  let off = 45;
  out[off++] = hi ? 1 : 0;
  if (hi) {
    out.set(hi, off);
    off += HASH_BYTES;
  }
  v.setUint32(off, entries.length);
  off += 4;
  for (const { key, value } of entries) {
    v.setUint16(off, key.length);
    out.set(key, off + 2);
    off += 2 + key.length;
    v.setUint32(off, value.length);
    out.set(value, off + 4);
    off += 4 + value.length;
  }
  for (const s of proof) {
    out[off++] = s.kind === 'empty' ? 0 : s.kind === 'leaf' ? 1 : 2;
    if (s.kind === 'leaf') {
      out.set(s.keyHash, off);
      out.set(s.valueHash, off + HASH_BYTES);
      off += 2 * HASH_BYTES;
    } else if (s.kind === 'node') {
      out.set(s.hash, off);
      off += HASH_BYTES;
    }
  }
  return out;
}

/** The boundary between leaves prev and first: first truncated to the fewest nibbles that stay above prev. */
function boundary(prev: Uint8Array, first: Uint8Array): Uint8Array {
  for (let n = 1; ; n++) {
    const b = truncate(first, n);
    if (compareHashes(b, prev) > 0) return b;
  }
}

// ---- the blocks of a range ----

const IN = 0;
const OUT = 1;
const SPLIT = 2;

/** The first `n` nibbles of h, the rest zero. */
function truncate(h: Uint8Array, n: number): Uint8Array {
  const t = new Uint8Array(HASH_BYTES);
  t.set(h.subarray(0, n >> 1));
  if (n & 1) t[n >> 1] = h[n >> 1]! & 0xf0;
  return t;
}

/** How many nibbles of h count (up to its last non-zero one); 0 for zero. */
function nibbles(h: Uint8Array): number {
  for (let i = HASH_BYTES - 1; i >= 0; i--) if (h[i] !== 0) return 2 * i + ((h[i]! & 0x0f) !== 0 ? 2 : 1);
  return 0;
}

function classify(depth: number, path: Uint8Array, lo: Uint8Array, hi: Uint8Array | null): number {
  if (hi !== null && compareHashes(path, hi) >= 0) return OUT;
  const last = greatestBelow(path, depth);
  if (compareHashes(last, lo) < 0) return OUT;
  return compareHashes(path, lo) >= 0 && (hi === null || compareHashes(last, hi) < 0) ? IN : SPLIT;
}

/** The path of child j (0..15) of the block at `depth` (a multiple of 4). */
function childPath(path: Uint8Array, depth: number, j: number): Uint8Array {
  const p = path.slice();
  p[depth >> 3] = p[depth >> 3]! | ((depth & 7) === 0 ? j << 4 : j);
  return p;
}

/** The out-of-range blocks of [lo, hi), in keyHash order. */
function outOfRange(lo: Uint8Array, hi: Uint8Array | null): { depth: number; path: Uint8Array }[] {
  const out: { depth: number; path: Uint8Array }[] = [];
  const walk = (depth: number, path: Uint8Array): void => {
    const c = classify(depth, path, lo, hi);
    if (c === OUT) out.push({ depth, path });
    else if (c === SPLIT) for (let j = 0; j < 16; j++) walk(depth + PACK_LEVELS, childPath(path, depth, j));
  };
  walk(0, new Uint8Array(HASH_BYTES));
  return out;
}

// ---- verifying ----

function malformed(what: string): SnapshotError {
  return new SnapshotError('chunk_malformed', `snapshot chunk malformed: ${what}`);
}

/** Bounds-checked big-endian reads over a chunk. */
class Reader {
  readonly b: Uint8Array;
  off = 0;

  constructor(b: Uint8Array) {
    this.b = b;
  }

  get left(): number {
    return this.b.length - this.off;
  }

  #need(n: number, what: string): number {
    if (n > this.left) throw malformed(`truncated: ${what} needs ${n} bytes at offset ${this.off}, ${this.left} left`);
    const at = this.off;
    this.off += n;
    return at;
  }

  u8(what: string): number {
    return this.b[this.#need(1, what)]!;
  }

  u16(what: string): number {
    const o = this.#need(2, what);
    return (this.b[o]! << 8) | this.b[o + 1]!;
  }

  u32(what: string): number {
    const o = this.#need(4, what);
    return ((this.b[o]! << 24) | (this.b[o + 1]! << 16) | (this.b[o + 2]! << 8) | this.b[o + 3]!) >>> 0;
  }

  view(n: number, what: string): Uint8Array {
    const o = this.#need(n, what);
    return this.b.subarray(o, o + n);
  }

  /** Skips n bytes; returns where they start. */
  skip(n: number, what: string): number {
    return this.#need(n, what);
  }
}

interface Sum {
  readonly k: number;
  readonly h: Uint8Array;
}

const EMPTY_SUM: Sum = { k: K_EMPTY, h: EMPTY_HASH };

/** One binary level up: empty + empty is empty, a lone leaf moves up, anything else is internal. */
function join(l: Sum, r: Sum): Sum {
  if (l.k === K_EMPTY && r.k !== K_NODE) return r;
  if (r.k === K_EMPTY && l.k === K_LEAF) return l;
  return { k: K_NODE, h: sha256PairAt(0x01, l.h, 0, r.h, 0, new Uint8Array(HASH_BYTES), 0) };
}

/**
 * Verifies one chunk alone against the trusted root of `expect.version`; throws SnapshotError.
 * Works on a copy: what was verified is what the result holds, whatever happens to `chunk` later.
 */
export function verifyChunk(chunk: Uint8Array, expect: { root: Uint8Array; version: number; index: number }): VerifiedChunk {
  if (!(expect.root instanceof Uint8Array) || expect.root.length !== HASH_BYTES) throw new TypeError('verifyChunk() needs a 32-byte root');
  if (!(chunk instanceof Uint8Array)) throw malformed('not a byte array');
  if (chunk.length > MAX_CHUNK_BYTES) throw malformed(`${chunk.length} bytes, more than ${MAX_CHUNK_BYTES}`);
  const bytes = chunk.slice();
  const r = new Reader(bytes);
  const format = r.u8('format');
  if (format !== SNAPSHOT_FORMAT) throw malformed(`format ${format}, expected ${SNAPSHOT_FORMAT}`);
  const vHi = r.u32('version');
  const version = vHi * 0x1_0000_0000 + r.u32('version');
  if (vHi > 0x1f_ffff || version !== expect.version) {
    throw new SnapshotError('chunk_wrong_height', `snapshot chunk is of state version ${vHi > 0x1f_ffff ? 'beyond 2^53' : version}, expected ${expect.version}`);
  }
  const index = r.u32('index');
  if (index !== expect.index) throw new SnapshotError('chunk_wrong_index', `snapshot chunk has index ${index}, expected ${expect.index}`);
  const lo = r.view(HASH_BYTES, 'lo').slice();
  const flag = r.u8('hi flag');
  if (flag > 1) throw malformed(`hi flag ${flag}`);
  const hi = flag === 1 ? r.view(HASH_BYTES, 'hi').slice() : null;
  const loBits = PACK_LEVELS * nibbles(lo);
  if ((index === 0) !== (loBits === 0)) {
    throw new SnapshotError('chunk_wrong_index', `snapshot chunk ${index} ${index === 0 ? 'must start at keyHash 0' : 'starts at keyHash 0, as only chunk 0 does'}`);
  }
  if (hi !== null && compareHashes(lo, hi) >= 0) throw malformed('lo is not below hi');

  const count = r.u32('entry count');
  if (count > r.left / (ENTRY_OVERHEAD + 1)) throw malformed(`${count} entries cannot fit in ${r.left} bytes`);
  const atoms = new Atoms(count);
  const { kh, vh, h } = atoms;
  const at = new Uint32Array(2 * count);
  for (let i = 0, o = 0; i < count; i++, o += HASH_BYTES) {
    const keyLen = r.u16('key length');
    if (keyLen < 1 || keyLen > MAX_KEY_BYTES) throw malformed(`entry ${i} has a ${keyLen}-byte key (keys are 1..${MAX_KEY_BYTES} bytes)`);
    const key = (at[2 * i] = r.skip(keyLen, 'key'));
    const valueLen = r.u32('value length');
    const value = (at[2 * i + 1] = r.skip(valueLen, 'value'));
    sha256At(bytes, key, keyLen, kh, o);
    if (i > 0 && compareAt(kh, o - HASH_BYTES, kh, o) >= 0) throw malformed(`entry ${i} does not follow entry ${i - 1} in keyHash order`);
    sha256At(bytes, value, valueLen, vh, o);
    sha256PairAt(0x00, kh, o, vh, o, h, o);
    atoms.depth[i] = LEAF_ATOM;
  }
  atoms.count = count;
  if (count > 0 && compareAt(kh, 0, lo, 0) < 0) throw malformed('entry 0 lies below lo');
  if (count > 0 && hi !== null && compareAt(kh, (count - 1) * HASH_BYTES, hi, 0) >= 0) throw malformed(`entry ${count - 1} lies at or above hi`);

  // The blocks, left to right: proof summaries for those outside, built from the entries inside.
  const builder = new SubtreeBuilder(atoms);
  const frontier: FrontierAtom[] = [];
  const hiBits = hi === null ? 0 : PACK_LEVELS * nibbles(hi);
  let next = 0;
  let leafBeforeLo = false;
  let leafAtHi = false;
  const block = (depth: number, path: Uint8Array, inRange: boolean): Sum => {
    if (inRange) {
      let end = next;
      while (end < count && samePrefix(kh, path, depth, end * HASH_BYTES)) end++;
      const out = new Uint8Array(HASH_BYTES);
      const k = builder.build(next, end, depth, out, 0);
      if (k === K_LEAF) frontier.push({ kind: 'leaf', keyHash: kh.subarray(next * HASH_BYTES, (next + 1) * HASH_BYTES), valueHash: vh.subarray(next * HASH_BYTES, (next + 1) * HASH_BYTES), hash: out });
      else if (k === K_NODE) frontier.push({ kind: 'node', depth, path, hash: out });
      next = end;
      return k === K_EMPTY ? EMPTY_SUM : { k, h: out };
    }
    const s = summary(r, depth, path);
    if (depth === loBits && samePrefix(path, lo, depth - PACK_LEVELS) && compareHashes(path, lo) < 0) leafBeforeLo ||= s.k !== K_EMPTY;
    if (depth === hiBits && hi !== null && compareHashes(path, hi) === 0) leafAtHi = s.k !== K_EMPTY;
    return s;
  };
  const walk = (depth: number, path: Uint8Array): Sum => {
    const c = classify(depth, path, lo, hi);
    if (c !== SPLIT) return block(depth, path, c === IN);
    const kids: Sum[] = [];
    for (let j = 0; j < 16; j++) kids.push(walk(depth + PACK_LEVELS, childPath(path, depth, j)));
    for (let w = 8; w >= 1; w >>= 1) for (let i = 0; i < w; i++) kids[i] = join(kids[2 * i]!, kids[2 * i + 1]!);
    return kids[0]!;
  };
  const root = walk(0, new Uint8Array(HASH_BYTES));
  if (r.left > 0) throw malformed(`${r.left} bytes after the proof`);
  if (next !== count) throw malformed('entries outside the in-range blocks');
  if (compareHashes(root.h, expect.root) !== 0) {
    throw new SnapshotError('chunk_proof_invalid', `snapshot chunk ${index} does not prove its entries against the root of state version ${version}`);
  }
  // Boundaries where format 1 cuts: the last nibble counts, and leaves lie just on both sides.
  if (loBits > 0 && !(count > 0 && samePrefix(kh, lo, loBits) && leafBeforeLo)) throw malformed('lo is not a boundary where format 1 cuts');
  if (hi !== null && !(count > 0 && compareAt(kh, (count - 1) * HASH_BYTES, truncate(hi, hiBits / PACK_LEVELS - 1), 0) >= 0 && leafAtHi)) {
    throw malformed('hi is not a boundary where format 1 cuts');
  }
  let entries: ChunkEntry[] | undefined;
  return {
    index, version, lo, hi, last: hi === null, root: expect.root.slice(), bytes, at, keyHashes: kh, nodes: builder.nodes, frontier,
    // Views made on demand: twelve thousand pairs of them per chunk cost more than its hashing.
    get entries(): ChunkEntry[] {
      return (entries ??= entriesAt(bytes, at));
    },
  };
}

/** The entries whose keys and values `at` locates in `bytes` (see VerifiedChunk). */
export function entriesAt(bytes: Uint8Array, at: Uint32Array): ChunkEntry[] {
  const out: ChunkEntry[] = new Array(at.length / 2);
  for (let i = 0; i < out.length; i++) {
    const k = at[2 * i]!;
    const v = at[2 * i + 1]!;
    const keyLen = (bytes[k - 2]! << 8) | bytes[k - 1]!;
    const valueLen = ((bytes[v - 4]! << 24) | (bytes[v - 3]! << 16) | (bytes[v - 2]! << 8) | bytes[v - 1]!) >>> 0;
    out[i] = { key: bytes.subarray(k, k + keyLen), value: bytes.subarray(v, v + valueLen) };
  }
  return out;
}

/** The proof's summary of the out-of-range block at (depth, path). */
function summary(r: Reader, depth: number, path: Uint8Array): Sum {
  const tag = r.u8('proof summary');
  if (tag === 0) return EMPTY_SUM;
  if (tag === 2) return { k: K_NODE, h: r.view(HASH_BYTES, 'node summary') };
  if (tag !== 1) throw malformed(`proof summary tag ${tag}`);
  const leaf = r.view(2 * HASH_BYTES, 'leaf summary');
  if (!samePrefix(leaf, path, depth)) throw new SnapshotError('chunk_proof_invalid', `snapshot chunk proof has a leaf outside its block at depth ${depth}`);
  return { k: K_LEAF, h: sha256PairAt(0x00, leaf, 0, leaf, HASH_BYTES, new Uint8Array(HASH_BYTES), 0) };
}

function compareAt(a: Uint8Array, ao: number, b: Uint8Array, bo: number): number {
  for (let i = 0; i < HASH_BYTES; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return 0;
}
