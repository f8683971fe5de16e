/**
 * The LevelDB side of the state tree's layout, without the tree's CPU (issue 17): builds a tree of
 * --keys random keys (32..64 byte values, 1,000 writes a version) plus 30 versions of updates of
 * random existing keys, keeps the batches it wrote, and replays them into fresh LevelDBs: as
 * written ('current'), and rewritten into two candidate layouts:
 *   'leaves-in-nodes': each packed node also holds the key and value of each leaf in it, and no leaf
 *     records are written (one op less a write; every node rewrite copies its leaves' records);
 *   'inner-hashes': each packed node also stores its inner hashes (32 bytes each), so reading one
 *     would cost no hashing;
 * against raw batch puts of the same keys and values. What a layout gains in µs a write here is
 * all it can gain on the LevelDB side; raw ÷ layout is the ceiling of tree ÷ raw with a tree that
 * took no CPU at all. Rounds interleave the layouts so that a busy host slows each alike; medians
 * are reported. Added payload bytes are random, like the hashes and values they stand for. Also
 * reported: ops and bytes per insert by record kind. It holds every batch the tree wrote in memory
 * (at 1M keys, several GB).
 * Run: npx node bench/state-layout.bench.ts [--keys 100000] [--rounds 3]
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { median, report } from './harness.ts';
import { describeKey, writeU64 } from '../state/codec.ts';
import { decodePacked, K_INNER, K_LEAF, LAST_POS } from '../state/packed.ts';
import { StateTree } from '../state/tree.ts';
import type { BatchOp } from '../state/tree.ts';

const BENCH = 'state-layout';
const PER_VERSION = 1_000;
const UPDATE_VERSIONS = 30;
const option = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const KEYS = option('--keys', 100_000);
const ROUNDS = option('--rounds', 3);

type Db = Level<Uint8Array, Uint8Array>;
/** One version's batch; `insert` tells the insert phase from the update phase. */
interface Batch {
  readonly insert: boolean;
  readonly ops: BatchOp[];
}

const dirs: string[] = [];

async function freshDb(): Promise<Db> {
  const dir = await mkdtemp(join(tmpdir(), 'hallmark-bench-layout-'));
  dirs.push(dir);
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The tree's batches (and the raw puts of the same writes), and the size of each leaf record by its id. */
async function record(): Promise<{ raw: Batch[]; tree: Batch[]; leafBytes: Map<string, number> }> {
  const db = await freshDb();
  const tree = await StateTree.open(db);
  const keys = Array.from({ length: KEYS }, () => new Uint8Array(randomBytes(32)));
  const raw: Batch[] = [];
  const batches: Batch[] = [];
  const leafBytes = new Map<string, number>();
  for (let i = 0; i < KEYS + UPDATE_VERSIONS * PER_VERSION; i += PER_VERSION) {
    const insert = i < KEYS;
    const writes: [Uint8Array, Uint8Array][] = [];
    for (let j = i; j < i + PER_VERSION; j++) writes.push([insert ? keys[j]! : keys[randomInt(KEYS)]!, new Uint8Array(randomBytes(32 + randomInt(33)))]);
    if (insert) raw.push({ insert, ops: writes.map(([key, value]) => ({ type: 'put', key, value })) });
    const prepared = await tree.commit(tree.latestVersion + 1, writes);
    for (const op of prepared.ops) if (op.type === 'put' && kindOf(op.key) === 'leaf') leafBytes.set(hex(op.key.subarray(2)), op.value.length);
    batches.push({ insert, ops: prepared.ops });
  }
  await db.close();
  return { raw, tree: batches, leafBytes };
}

function kindOf(key: Uint8Array): string {
  return key[1] === 0x6e ? describeKey(key).kind : 'meta';
}

/** The batches as a layout writes them: the tree's, or rewritten just before each replay (one copy held at a time). */
type Layout = { readonly batches: readonly Batch[]; readonly as: (b: Batch) => Batch };
const asWritten = (b: Batch): Batch => b;

/** Rewrites a batch of the tree into a candidate layout (see the header). */
function rewrite(leafBytes: Map<string, number>, layout: 'leaves-in-nodes' | 'inner-hashes'): (b: Batch) => Batch {
  const id = new Uint8Array(10 + 32); // a leaf record's id: u64 version | 0xfffd | keyHash
  id[8] = 0xff;
  id[9] = 0xfd;
  const out = (op: BatchOp): BatchOp[] => {
    if (op.type !== 'put') return [op];
    const kind = kindOf(op.key);
    if (kind === 'leaf') return layout === 'leaves-in-nodes' ? [] : [op];
    if (kind !== 'node') return [op];
    const depth = (op.key[10]! << 8) | op.key[11]!;
    const path = new Uint8Array(32);
    path.set(op.key.subarray(12));
    const node = decodePacked(op.value, describeKey(op.key).version, depth, path);
    let extra = 0;
    for (let pos = 2; pos <= LAST_POS; pos++) {
      if (layout === 'inner-hashes' && node.kind(pos) === K_INNER) extra += 32;
      if (layout === 'leaves-in-nodes' && node.kind(pos) === K_LEAF) {
        writeU64(id, 0, node.versionAt(pos));
        id.set(node.b.subarray(node.at(pos) + 32, node.at(pos) + 64), 10);
        extra += leafBytes.get(hex(id))!;
      }
    }
    if (layout === 'inner-hashes') extra += 32; // the node's own root hash
    const value = new Uint8Array(op.value.length + extra);
    value.set(op.value);
    value.set(randomBytes(extra), op.value.length);
    return [{ type: 'put', key: op.key, value }];
  };
  return (b) => ({ insert: b.insert, ops: b.ops.flatMap(out) });
}

/** Replays `batches` into a fresh LevelDB: µs a write in each phase. */
async function replay(layout: Layout): Promise<{ insertUs: number; updateUs: number }> {
  const db = await freshDb();
  let insertMs = 0;
  let updateMs = 0;
  // Rewritten whole before the first batch: rewriting between batches would give LevelDB's
  // background work time that the other layouts do not get.
  for (const b of layout.batches.map(layout.as)) {
    const start = performance.now();
    await db.batch(b.ops);
    if (b.insert) insertMs += performance.now() - start;
    else updateMs += performance.now() - start;
  }
  await db.close();
  return { insertUs: (insertMs * 1000) / KEYS, updateUs: (updateMs * 1000) / (UPDATE_VERSIONS * PER_VERSION) };
}

/** Ops and bytes (keys and values) a write, in each phase. */
function size(layout: Layout, insert: boolean): { opsPerWrite: number; bytesPerWrite: number } {
  let ops = 0;
  let bytes = 0;
  for (const written of layout.batches) {
    if (written.insert !== insert) continue;
    const b = layout.as(written);
    ops += b.ops.length;
    for (const op of b.ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
  }
  const n = insert ? KEYS : UPDATE_VERSIONS * PER_VERSION;
  return { opsPerWrite: Number((ops / n).toFixed(2)), bytesPerWrite: Math.round(bytes / n) };
}

try {
  const rec = await record();
  const layouts: Record<string, Layout> = {
    raw: { batches: rec.raw, as: asWritten },
    current: { batches: rec.tree, as: asWritten },
    'leaves-in-nodes': { batches: rec.tree, as: rewrite(rec.leafBytes, 'leaves-in-nodes') },
    'inner-hashes': { batches: rec.tree, as: rewrite(rec.leafBytes, 'inner-hashes') },
  };
  const times: Record<string, { insertUs: number[]; updateUs: number[] }> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, layout] of Object.entries(layouts)) {
      const t = await replay(layout);
      const acc = (times[name] ??= { insertUs: [], updateUs: [] });
      acc.insertUs.push(t.insertUs);
      acc.updateUs.push(t.updateUs);
    }
  }
  const rawUs = median(times.raw!.insertUs);
  for (const [name, layout] of Object.entries(layouts)) {
    const insertUs = median(times[name]!.insertUs);
    report({ bench: BENCH, name: `${name}_insert`, value: insertUs, unit: 'µs/write', keys: KEYS, rawOverThis: Number((rawUs / insertUs).toFixed(3)), ...size(layout, true) });
    if (name === 'raw') continue;
    const updateUs = median(times[name]!.updateUs);
    report({ bench: BENCH, name: `${name}_update`, value: updateUs, unit: 'µs/write', keys: KEYS, rawOverThis: Number((rawUs / updateUs).toFixed(3)), ...size(layout, false) });
  }
  // Where the current layout's bytes go: ops and bytes per insert by record kind (nodes by depth).
  const kinds = new Map<string, { ops: number; bytes: number }>();
  for (const b of rec.tree) {
    if (!b.insert) continue;
    for (const op of b.ops) {
      const kind = kindOf(op.key);
      const name = kind === 'node' ? `node_depth_${(op.key[10]! << 8) | op.key[11]!}` : kind;
      const k = kinds.get(name) ?? { ops: 0, bytes: 0 };
      k.ops++;
      k.bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
      kinds.set(name, k);
    }
  }
  for (const [name, k] of [...kinds].sort((a, b) => b[1].bytes - a[1].bytes)) {
    report({ bench: BENCH, name: `insert_bytes_${name}`, value: k.bytes / KEYS, unit: 'bytes/write', keys: KEYS, opsPerWrite: k.ops / KEYS, bytesPerRecord: Math.round(k.bytes / k.ops) });
  }
} finally {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
