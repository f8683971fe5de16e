/**
 * State tree throughput against raw LevelDB in the same run, at 100k and at 1M keys: random 32-byte
 * keys with 32..64 byte values, committed in versions of 1,000 writes, vs the same key/values put
 * in batches of 1,000 into a fresh LevelDB (both opened with the same options). Then updates of
 * random existing keys on the full tree (each version's time split into prepare, LevelDB's batch and
 * markCommitted), get() and prove()+verify at the latest version, and what the tree's caches hold
 * (bytes as the cache counts them, and the process's heap and RSS).
 *
 * The goals (issue 17): inserts >= 0.25x raw batch puts, updates >= 0.2x, at both sizes.
 * Run: npx node bench/state.bench.ts [--keys 100000,1000000] [--leveldb '{"compression":false}'] [--tree '{"cacheBytes":0}']
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Level } from 'level';
import { rate, report } from './harness.ts';
import { StateTree, verifyStateProof } from '../state/tree.ts';
import type { StateTreeOptions } from '../state/tree.ts';

const BENCH = 'state';
const PER_VERSION = 1_000;
const UPDATE_VERSIONS = 30;
const arg = process.argv.indexOf('--keys');
const SIZES = arg > 0 ? process.argv[arg + 1]!.split(',').map(Number) : [100_000, 1_000_000];
/** LevelDB options for both databases, to try others than the node's (--leveldb '{"compression":false}'). */
const optArg = process.argv.indexOf('--leveldb');
const LEVELDB_OPTIONS: Record<string, unknown> = optArg > 0 ? JSON.parse(process.argv[optArg + 1]!) : {};
/** StateTree options, to try other cache sizes than the default (--tree '{"cacheBytes":268435456}'). */
const treeArg = process.argv.indexOf('--tree');
const TREE_OPTIONS: StateTreeOptions = treeArg > 0 ? JSON.parse(process.argv[treeArg + 1]!) : {};

type Db = Level<Uint8Array, Uint8Array>;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function freshDb(name: string): Promise<{ db: Db; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `hallmark-bench-${name}-`));
  const db = new Level<Uint8Array, Uint8Array>(dir, { ...LEVELDB_OPTIONS, keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return { db, dir };
}

/** `n` distinct arrays of `bytes` (+ up to `extra`) random bytes, as views of one buffer (a million arrays of their own would weigh on the heap measured below). */
function randomViews(n: number, bytes: number, extra: number): Uint8Array[] {
  const pool = new Uint8Array(randomBytes(n * (bytes + extra)));
  return Array.from({ length: n }, (_, i) => pool.subarray(i * (bytes + extra), i * (bytes + extra) + bytes + (extra ? randomInt(extra + 1) : 0)));
}

/** tree.commit() in its three parts, timed: prepare (tree CPU), the batch (LevelDB), markCommitted (cache updates). */
class Split {
  prepareMs = 0;
  batchMs = 0;
  markMs = 0;
  ops = 0;
  bytes = 0;

  async commit(tree: StateTree, db: Db, version: number, writes: [Uint8Array, Uint8Array][]): Promise<void> {
    const t0 = performance.now();
    const prepared = await tree.prepare(version, writes);
    const t1 = performance.now();
    await db.batch(prepared.ops);
    const t2 = performance.now();
    tree.markCommitted(prepared);
    this.markMs += performance.now() - t2;
    this.batchMs += t2 - t1;
    this.prepareMs += t1 - t0;
    this.ops += prepared.ops.length;
    for (const op of prepared.ops) this.bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
  }

  /** Per write: LevelDB ops and bytes (keys and values), and µs in each part. */
  perWrite(n: number): Record<string, number> {
    const us = (ms: number): number => Number(((ms * 1000) / n).toFixed(2));
    return { dbOpsPerWrite: this.ops / n, bytesPerWrite: Math.round(this.bytes / n), prepareUs: us(this.prepareMs), batchUs: us(this.batchMs), markCommittedUs: us(this.markMs) };
  }
}

const MB = 1 << 20;

function memory(): { heapMB: number; externalMB: number; rssMB: number } {
  gc();
  const m = process.memoryUsage();
  return { heapMB: Math.round(m.heapUsed / MB), externalMB: Math.round(m.arrayBuffers / MB), rssMB: Math.round(m.rss / MB) };
}

async function run(keysN: number, dirs: string[]): Promise<void> {
  const keys = randomViews(keysN, 32, 0);
  const values = randomViews(keysN, 32, 32);
  const pick = (): Uint8Array => keys[randomInt(keysN)]!;
  const at = { keys: keysN };

  // Baseline: raw LevelDB batches of the same keys and values.
  const raw = await freshDb('raw');
  dirs.push(raw.dir);
  let start = performance.now();
  for (let i = 0; i < keysN; i += PER_VERSION) {
    const ops = [];
    for (let j = i; j < i + PER_VERSION; j++) ops.push({ type: 'put' as const, key: keys[j]!, value: values[j]! });
    await raw.db.batch(ops);
  }
  const rawRate = (keysN * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'leveldb_batch_put', value: rawRate, unit: 'writes/s', batch: PER_VERSION, ...at });

  // The state tree: insert everything, 1,000 writes per version.
  const st = await freshDb('tree');
  dirs.push(st.dir);
  let tree: StateTree | undefined = await StateTree.open(st.db, TREE_OPTIONS);
  let split = new Split();
  start = performance.now();
  for (let i = 0, v = 0; i < keysN; i += PER_VERSION, v++) {
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let j = i; j < i + PER_VERSION; j++) writes.push([keys[j]!, values[j]!]);
    await split.commit(tree, st.db, v, writes);
  }
  const insertRate = (keysN * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'tree_insert', value: insertRate, unit: 'writes/s', batch: PER_VERSION, ...at, ...split.perWrite(keysN) });
  report({ bench: BENCH, name: 'tree_insert_vs_leveldb', ...at, value: insertRate / rawRate, unit: 'ratio', goal: 0.25, goal_op: '>=' });

  // Steady state: overwrite random existing keys, 1,000 per version, on the full tree.
  split = new Split();
  start = performance.now();
  for (let n = 0; n < UPDATE_VERSIONS; n++) {
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let j = 0; j < PER_VERSION; j++) writes.push([pick(), new Uint8Array(randomBytes(32 + randomInt(33)))]);
    await split.commit(tree, st.db, tree.latestVersion + 1, writes);
  }
  const updateRate = (UPDATE_VERSIONS * PER_VERSION * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'tree_update', value: updateRate, unit: 'writes/s', batch: PER_VERSION, ...at, ...split.perWrite(UPDATE_VERSIONS * PER_VERSION) });
  report({ bench: BENCH, name: 'tree_update_vs_leveldb', ...at, value: updateRate / rawRate, unit: 'ratio', goal: 0.2, goal_op: '>=' });

  // Reads at the latest version, against raw LevelDB gets of the same keys.
  const rawGet = await rate(async () => {
    for (let i = 0; i < 100; i++) await raw.db.get(pick());
    return 100;
  }, 1000);
  report({ bench: BENCH, name: 'leveldb_get', value: rawGet, unit: 'gets/s', ...at });
  const treeGet = await rate(async () => {
    for (let i = 0; i < 100; i++) await tree!.get(pick());
    return 100;
  }, 1000);
  report({ bench: BENCH, name: 'tree_get', value: treeGet, unit: 'gets/s', ...at });
  report({ bench: BENCH, name: 'tree_get_vs_leveldb', value: treeGet / rawGet, unit: 'ratio', ...at });

  const root = await tree.root();
  let failed = 0;
  const proveVerify = await rate(async () => {
    for (let i = 0; i < 100; i++) {
      const key = pick();
      const { value, proof } = await tree!.prove(key);
      if (!verifyStateProof(root, key, value, proof)) failed++;
    }
    return 100;
  }, 1000);
  if (failed) throw new Error(`${failed} proofs failed to verify`);
  report({ bench: BENCH, name: 'tree_prove_verify', value: proveVerify, unit: 'proofs/s', ...at });

  // What the default caches hold, and what the process frees when the tree goes (the caches and
  // whatever else the tree holds; RSS also counts both LevelDB instances and the keys generated).
  const c = tree.cacheStats();
  const withTree = memory();
  await raw.db.close();
  await st.db.close();
  tree = undefined;
  const without = memory();
  report({ bench: BENCH, name: 'tree_cache', ...at, value: Math.round(c.bytes / MB), unit: 'MB', nodes: c.nodes, leaves: c.leaves, limitMB: Math.round(c.limitBytes / MB) });
  report({
    bench: BENCH, name: 'tree_memory', ...at, value: withTree.heapMB + withTree.externalMB - without.heapMB - without.externalMB, unit: 'MB',
    heapMB: withTree.heapMB - without.heapMB, externalMB: withTree.externalMB - without.externalMB, rssMB: withTree.rssMB,
  });
}

const dirs: string[] = [];
try {
  for (const n of SIZES) await run(n, dirs);
} finally {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
