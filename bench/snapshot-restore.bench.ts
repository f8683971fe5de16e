/**
 * Snapshot restore against raw LevelDB in the same run. A state of `--keys` keys (default 1M;
 * 20-60 byte keys like accounts and storage slots, 8-64 byte values) is written to a source tree
 * and cut into format 1 chunks (1 MiB); then, each into a fresh database:
 *   (a) raw: the same (key, value) pairs put with chained db.batch() writes, one per chunk's entries
 *       (also with arrays of ops, and with arrays of 1,000 ops as bench/state.bench.ts measures);
 *   (b) restore: every chunk verified (verifyChunk) and written (TreeRestore.add; the next chunk is
 *       verified while the previous one is written, as a node fetching from peers would), then
 *       finish(), and the restored root checked;
 * (a) and (b) three times each, alternated, medians compared (the machine may be shared); and
 * apart: verify alone, and write alone (add + finish of chunks verified beforehand). The
 * issue's goal: restore >= 0.5x raw. Also the floor: the very records restore writes, put raw (2.7x
 * the bytes of the pairs: leaf records carry the key, packed nodes every leaf's keyHash and
 * valueHash). The same at 100k keys.
 *
 * Committing a million keys takes about a minute, so the source is written bottom-up from the
 * sorted leaves with the builder restore uses (writeTree); test/state-snapshot.test.ts checks that
 * it writes the very records a commit writes.
 * Run: npx node bench/snapshot-restore.bench.ts [--keys N]
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { median, report } from './harness.ts';
import { encodeLeafRecord, encodeRoot, leafKey, makeLeaf, metaKey, nodeKey, rootKey } from '../state/codec.ts';
import type { RootRef } from '../state/codec.ts';
import { K_EMPTY, K_LEAF } from '../state/packed.ts';
import { restoreInProgress, TreeRestore } from '../state/restore.ts';
import { sha256, sha256PairAt } from '../state/sha256.ts';
import { snapshotChunks, verifyChunk } from '../state/snapshot.ts';
import type { VerifiedChunk } from '../state/snapshot.ts';
import { Atoms, LEAF_ATOM, SubtreeBuilder } from '../state/subtree.ts';
import { StateTree } from '../state/tree.ts';
import type { BatchOp } from '../state/tree.ts';

type Db = Level<Uint8Array, Uint8Array>;

const BENCH = 'snapshot-restore';
const VERSION = 1000;
const MiB = 1 << 20;

/**
 * Writes a fresh tree (default prefix) holding `pairs` (distinct keys) as its only version
 * `version`, bottom-up from the leaves sorted by keyHash; returns the root.
 */
export async function writeTree(db: Db, pairs: readonly (readonly [Uint8Array, Uint8Array])[], version: number): Promise<Uint8Array> {
  const n = pairs.length;
  const kh = new Uint8Array(32 * n);
  const top = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    sha256(pairs[i]![0], kh, 32 * i);
    top[i] = ((kh[32 * i]! << 24) | (kh[32 * i + 1]! << 16) | (kh[32 * i + 2]! << 8) | kh[32 * i + 3]!) >>> 0;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => top[a]! - top[b]! || Buffer.compare(kh.subarray(32 * a, 32 * a + 32), kh.subarray(32 * b, 32 * b + 32)));
  const atoms = new Atoms(n);
  const vh = new Uint8Array(32);
  const h = new Uint8Array(32);
  const ops: BatchOp[] = [];
  const flush = async (): Promise<void> => {
    await db.batch(ops.splice(0));
  };
  for (const i of order) {
    const [key, value] = pairs[i]!;
    sha256(value, vh, 0);
    sha256PairAt(0x00, kh, 32 * i, vh, 0, h, 0);
    atoms.push(LEAF_ATOM, kh.subarray(32 * i, 32 * i + 32), vh, h);
    ops.push({ type: 'put', key: leafKey(0x73, version, kh.subarray(32 * i, 32 * i + 32)), value: encodeLeafRecord(key, value) });
    if (ops.length >= 50_000) await flush();
  }
  const root = new Uint8Array(32);
  const builder = new SubtreeBuilder(atoms);
  const kind = builder.build(0, n, 0, root, 0);
  for (const node of builder.nodes) {
    ops.push({ type: 'put', key: nodeKey(0x73, version, node.depth, node.path), value: node.record });
    if (ops.length >= 50_000) await flush();
  }
  const ref: RootRef | null = kind === K_EMPTY ? null : kind === K_LEAF ? makeLeaf(version, atoms.kh.slice(0, 32), atoms.vh.slice(0, 32), root) : { kind: 'node', hash: root, version };
  ops.push({ type: 'put', key: rootKey(0x73, version), value: encodeRoot(ref, version) });
  const meta = new Uint8Array(8);
  new DataView(meta.buffer).setUint32(4, version);
  ops.push({ type: 'put', key: metaKey(0x73), value: meta });
  await flush();
  return root;
}

/** A batch of puts packed in one buffer: key i is buf[at[2i]..at[2i+1]], its value up to at[2i+2]. */
interface Packed {
  readonly buf: Uint8Array;
  readonly at: Uint32Array;
}

/** The batches TreeRestore.add writes for `chunks`, captured by a stand-in database, packed (millions of small arrays would keep the collector busy during the timing). */
async function restoreBatches(chunks: readonly VerifiedChunk[], root: Uint8Array): Promise<Packed[]> {
  const batches: Packed[] = [];
  const chained = (): unknown => {
    const ops: Uint8Array[] = [];
    const write = async (): Promise<void> => {
      const at = new Uint32Array(ops.length + 1);
      for (let i = 0; i < ops.length; i++) at[i + 1] = at[i]! + ops[i]!.length;
      const buf = new Uint8Array(at[ops.length]!);
      ops.forEach((x, i) => buf.set(x, at[i]!));
      batches.push({ buf, at });
    };
    return { put: (k: Uint8Array, v: Uint8Array) => ops.push(k, v), get length() { return ops.length / 2; }, write };
  };
  const stand = { get: async () => undefined, put: async () => undefined, keys: () => ({ all: async () => [] }), batch: chained };
  const r = await TreeRestore.begin(stand as unknown as Db, { version: VERSION, root });
  for (const c of chunks) await r.add(c); // finish() adds the top: a few hundred records, left out
  return batches;
}

const dirs: string[] = [];
async function freshDb(name: string): Promise<Db> {
  const dir = await mkdtemp(join(tmpdir(), `hallmark-bench-${name}-`));
  dirs.push(dir);
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
}

function randomPairs(n: number): [Uint8Array, Uint8Array][] {
  const keys = randomBytes(60 * n);
  const values = randomBytes(64 * n);
  const out: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < n; i++) {
    out.push([new Uint8Array(keys.buffer, keys.byteOffset + 60 * i, 20 + randomInt(41)), new Uint8Array(values.buffer, values.byteOffset + 64 * i, 8 + randomInt(57))]);
  }
  return out;
}

/** Time of `f` on a fresh database, closed (and its compactions finished) before the next. */
async function timed(name: string, f: (db: Db) => Promise<void>): Promise<number> {
  const db = await freshDb(name);
  const t0 = performance.now();
  await f(db);
  const ms = performance.now() - t0;
  await db.close();
  return ms;
}

/** (a) raw: the pairs of every chunk, one chained batch per chunk (cheaper per op than an array of ops). */
async function putRaw(db: Db, verified: readonly VerifiedChunk[]): Promise<void> {
  for (const c of verified) {
    const batch = db.batch();
    for (const e of c.entries) batch.put(e.key, e.value);
    await batch.write();
  }
}

/** (b) restore: the next chunk verified while the previous one is written. */
async function restore(db: Db, chunks: readonly Uint8Array[], root: Uint8Array): Promise<void> {
  const r = await TreeRestore.begin(db, { version: VERSION, root });
  let writing: Promise<void> = Promise.resolve();
  for (let i = 0; i < chunks.length; i++) {
    const c = verifyChunk(chunks[i]!, { root, version: VERSION, index: i });
    await writing;
    writing = r.add(c);
  }
  await writing;
  await r.finish();
  if ((await restoreInProgress(db)) !== undefined) throw new Error('the restore did not finish');
  if (Buffer.compare(await (await StateTree.open(db)).root(), root) !== 0) throw new Error('the restored root differs from the source');
}

async function run(keys: number, rounds: number): Promise<void> {
  const label = keys >= 1_000_000 ? `${keys / 1_000_000}M keys` : `${keys / 1000}k keys`;
  const source = await freshDb('src');
  let t0 = performance.now();
  const root = await writeTree(source, randomPairs(keys), VERSION);
  const buildMs = performance.now() - t0;
  const tree = await StateTree.open(source);
  t0 = performance.now();
  const chunks: Uint8Array[] = [];
  for await (const c of snapshotChunks(tree, VERSION)) chunks.push(c);
  const cutMs = performance.now() - t0;
  await source.close();
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  report({ bench: BENCH, name: `snapshot cut, ${label}`, value: (keys * 1000) / cutMs, unit: 'keys/s', chunks: chunks.length, chunkMiB: Number((bytes / MiB).toFixed(1)), sourceBuildS: Number((buildMs / 1000).toFixed(1)) });

  t0 = performance.now();
  const verified: VerifiedChunk[] = chunks.map((c, index) => verifyChunk(c, { root, version: VERSION, index }));
  const verifyMs = performance.now() - t0;
  const entries = verified.reduce((n, c) => n + c.entries.length, 0);
  if (entries !== keys) throw new Error(`the chunks hold ${entries} entries, not ${keys}`);
  const rawBytes = verified.reduce((n, c) => c.entries.reduce((m, e) => m + e.key.length + e.value.length, n), 0);

  // The goal's two figures, alternated so that a busy moment of the machine hits both.
  const rawMs: number[] = [];
  const restoreMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    rawMs.push(await timed('raw', (db) => putRaw(db, verified)));
    restoreMs.push(await timed('restore', (db) => restore(db, chunks, root)));
  }
  const rawArrayMs = await timed('raw-array', async (db) => {
    for (const c of verified) await db.batch(c.entries.map((e) => ({ type: 'put' as const, key: e.key, value: e.value })));
  });
  const raw1000Ms = await timed('raw-1000', async (db) => {
    const pairs = verified.flatMap((c) => c.entries);
    for (let i = 0; i < pairs.length; i += 1000) await db.batch(pairs.slice(i, i + 1000).map((e) => ({ type: 'put' as const, key: e.key, value: e.value })));
  });
  const writeMs = await timed('write', async (db) => {
    const r = await TreeRestore.begin(db, { version: VERSION, root });
    for (const c of verified) await r.add(c);
    await r.finish();
  });
  // The floor: the very records restore writes (captured), put raw in the same batches.
  const captured = await restoreBatches(verified, root);
  verified.length = 0;
  const floorBytes = captured.reduce((n, { buf }) => n + buf.length, 0);
  const floorMs = await timed('floor', async (db) => {
    for (const { buf, at } of captured) {
      const batch = db.batch();
      for (let i = 0; i + 2 < at.length; i += 2) batch.put(buf.subarray(at[i]!, at[i + 1]!), buf.subarray(at[i + 1]!, at[i + 2]!));
      await batch.write();
    }
  });
  captured.length = 0;

  const raw = median(rawMs);
  const rest = median(restoreMs);
  const secs = (xs: number[]): number[] => xs.map((x) => Number((x / 1000).toFixed(2)));
  report({ bench: BENCH, name: `raw leveldb batch put, ${label}`, value: (keys * 1000) / raw, unit: 'keys/s', batch: Math.round(keys / chunks.length), mib: Number((rawBytes / MiB).toFixed(1)), samplesS: secs(rawMs) });
  report({ bench: BENCH, name: `restore (verify + write), ${label}`, value: (keys * 1000) / rest, unit: 'keys/s', mibPerS: Number((bytes / MiB / (rest / 1000)).toFixed(1)), samplesS: secs(restoreMs) });
  report({ bench: BENCH, name: `restore / raw leveldb, ${label}`, value: raw / rest, unit: 'ratio', goal: 0.5, goal_op: '>=' });
  report({ bench: BENCH, name: `raw leveldb batch put (arrays of ops), ${label}`, value: (keys * 1000) / rawArrayMs, unit: 'keys/s' });
  report({ bench: BENCH, name: `restore / raw leveldb (arrays of ops), ${label}`, value: rawArrayMs / rest, unit: 'ratio' });
  report({ bench: BENCH, name: `raw leveldb batch put (arrays of 1,000 ops, as bench/state.bench.ts), ${label}`, value: (keys * 1000) / raw1000Ms, unit: 'keys/s' });
  report({ bench: BENCH, name: `restore / raw leveldb (arrays of 1,000 ops), ${label}`, value: raw1000Ms / rest, unit: 'ratio' });
  report({ bench: BENCH, name: `raw leveldb put of the records restore writes, ${label}`, value: (keys * 1000) / floorMs, unit: 'keys/s', mib: Number((floorBytes / MiB).toFixed(1)) });
  report({ bench: BENCH, name: `restore / raw put of its own records, ${label}`, value: floorMs / rest, unit: 'ratio' });
  report({ bench: BENCH, name: `verify alone, ${label}`, value: (keys * 1000) / verifyMs, unit: 'keys/s', mibPerS: Number((bytes / MiB / (verifyMs / 1000)).toFixed(1)) });
  report({ bench: BENCH, name: `write alone (add + finish), ${label}`, value: (keys * 1000) / writeMs, unit: 'keys/s', mibPerS: Number((bytes / MiB / (writeMs / 1000)).toFixed(1)) });
}

if (import.meta.main) {
  const arg = process.argv.indexOf('--keys');
  const keys = arg > 0 ? Number(process.argv[arg + 1]) : 1_000_000;
  if (!Number.isSafeInteger(keys) || keys < 1) throw new Error(`--keys takes a positive integer, got ${process.argv[arg + 1]}`);
  try {
    await run(keys, 3);
    if (keys > 100_000) await run(100_000, 3);
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}
