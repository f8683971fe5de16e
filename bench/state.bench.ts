/**
 * State tree throughput against raw LevelDB in the same run: 100k random 32-byte keys with 32..64
 * byte values, committed in versions of 1,000 writes, vs the same key/values put in batches of
 * 1,000 into a fresh LevelDB. Then get() and prove()+verify at the latest version.
 * Run: npx node bench/state.bench.ts
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { rate, report } from './harness.ts';
import { StateTree, verifyStateProof } from '../state/tree.ts';

const BENCH = 'state';
const KEYS = 100_000;
const PER_VERSION = 1_000;
const UPDATE_VERSIONS = 30;

type Db = Level<Uint8Array, Uint8Array>;

async function freshDb(name: string): Promise<{ db: Db; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `hallmark-bench-${name}-`));
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return { db, dir };
}

const keys = Array.from({ length: KEYS }, () => new Uint8Array(randomBytes(32)));
const values = Array.from({ length: KEYS }, () => new Uint8Array(randomBytes(32 + randomInt(33))));
const pick = (): Uint8Array => keys[randomInt(KEYS)]!;

const dirs: string[] = [];
try {
  // Baseline: raw LevelDB batches of the same keys and values.
  const raw = await freshDb('raw');
  dirs.push(raw.dir);
  let start = performance.now();
  for (let i = 0; i < KEYS; i += PER_VERSION) {
    const ops = [];
    for (let j = i; j < i + PER_VERSION; j++) ops.push({ type: 'put' as const, key: keys[j]!, value: values[j]! });
    await raw.db.batch(ops);
  }
  const rawRate = (KEYS * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'leveldb_batch_put', value: rawRate, unit: 'writes/s', batch: PER_VERSION });

  // The state tree: insert everything, 1,000 writes per version.
  const st = await freshDb('tree');
  dirs.push(st.dir);
  const tree = await StateTree.open(st.db);
  let ops = 0;
  start = performance.now();
  for (let i = 0, v = 0; i < KEYS; i += PER_VERSION, v++) {
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let j = i; j < i + PER_VERSION; j++) writes.push([keys[j]!, values[j]!]);
    ops += (await tree.commit(v, writes)).ops.length;
  }
  const insertRate = (KEYS * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'tree_insert', value: insertRate, unit: 'writes/s', batch: PER_VERSION, keys: KEYS, dbOpsPerWrite: ops / KEYS });
  report({ bench: BENCH, name: 'tree_insert_vs_leveldb', value: insertRate / rawRate, unit: 'ratio' });

  // Steady state: overwrite random existing keys, 1,000 per version, on the 100k-key tree.
  ops = 0;
  start = performance.now();
  for (let n = 0; n < UPDATE_VERSIONS; n++) {
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let j = 0; j < PER_VERSION; j++) writes.push([pick(), new Uint8Array(randomBytes(32 + randomInt(33)))]);
    ops += (await tree.commit(tree.latestVersion + 1, writes)).ops.length;
  }
  const updateRate = (UPDATE_VERSIONS * PER_VERSION * 1000) / (performance.now() - start);
  report({ bench: BENCH, name: 'tree_update', value: updateRate, unit: 'writes/s', batch: PER_VERSION, keys: KEYS, dbOpsPerWrite: ops / (UPDATE_VERSIONS * PER_VERSION) });
  report({ bench: BENCH, name: 'tree_update_vs_leveldb', value: updateRate / rawRate, unit: 'ratio' });

  // Reads at the latest version, against raw LevelDB gets of the same keys.
  const rawGet = await rate(async () => {
    for (let i = 0; i < 100; i++) await raw.db.get(pick());
    return 100;
  });
  report({ bench: BENCH, name: 'leveldb_get', value: rawGet, unit: 'gets/s' });
  const treeGet = await rate(async () => {
    for (let i = 0; i < 100; i++) await tree.get(pick());
    return 100;
  });
  report({ bench: BENCH, name: 'tree_get', value: treeGet, unit: 'gets/s', keys: KEYS });
  report({ bench: BENCH, name: 'tree_get_vs_leveldb', value: treeGet / rawGet, unit: 'ratio' });

  const root = await tree.root();
  let failed = 0;
  const proveVerify = await rate(async () => {
    for (let i = 0; i < 100; i++) {
      const key = pick();
      const { value, proof } = await tree.prove(key);
      if (!verifyStateProof(root, key, value, proof)) failed++;
    }
    return 100;
  });
  if (failed) throw new Error(`${failed} proofs failed to verify`);
  report({ bench: BENCH, name: 'tree_prove_verify', value: proveVerify, unit: 'proofs/s', keys: KEYS });

  await raw.db.close();
  await st.db.close();
} finally {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
