import t from 'tap';
import type { Test } from 'tap';
import { StateTree, StateError, EMPTY_HASH, MAX_KEY_BYTES } from '../state/tree.ts';
import type { PreparedVersion } from '../state/tree.ts';
import { NodeStore } from '../state/store.ts';
import { LruCache } from '../state/cache.ts';
import { decodeRoot, describeKey, nodeKey, rootKey } from '../state/codec.ts';
import { decodePacked } from '../state/packed.ts';
import {
  b,
  commonBits,
  hex,
  keysSharingPrefix,
  keysWithPrefix,
  openDb,
  randomBytes,
  refKeyHash,
  refLeafHash,
  RefState,
  rng,
  shuffle,
  withDb,
} from './fixtures/state-reference.ts';

type Writes = [Uint8Array, Uint8Array | null][];

async function rejectsCode(t: Test, p: Promise<unknown> | (() => unknown), code: string, msg: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
    t.fail(`${msg}: did not throw`);
  } catch (e) {
    t.ok(e instanceof StateError, `${msg}: StateError`);
    t.equal((e as StateError).code, code, msg);
  }
}

/** Random writes over a key space of `space` keys: new keys, overwrites, deletes (present or not), empty values. */
function randomWrites(rand: () => number, n: number, space: number): Writes {
  const out: Writes = [];
  for (let i = 0; i < n; i++) {
    const key = b(`key-${Math.floor(rand() * space)}`);
    const r = rand();
    if (r < 0.25) out.push([key, null]);
    else if (r < 0.3) out.push([key, new Uint8Array(0)]);
    else out.push([key, randomBytes(rand, 1 + Math.floor(rand() * 40))]);
  }
  return out;
}

t.test('empty tree and first version', async (t) => {
  const { db } = await withDb(t, 'empty');
  const tree = await StateTree.open(db);
  t.equal(tree.latestVersion, -1);
  t.equal(tree.oldestVersion, -1);
  t.same(await tree.root(), EMPTY_HASH, 'latest of a fresh tree is the empty root');
  t.equal(await tree.get(b('x')), undefined);
  await rejectsCode(t, tree.root(0), 'version_unknown', 'no version 0 yet');
  const p = await tree.commit(5, []);
  t.same(p.root, new Uint8Array(32), 'empty tree root is 32 zero bytes');
  t.equal(tree.latestVersion, 5, 'versions may start anywhere');
  t.equal(tree.oldestVersion, 5);
  t.same(await tree.root(5), EMPTY_HASH);
  await rejectsCode(t, tree.root(4), 'version_unknown', 'before the first version');
  await rejectsCode(t, tree.root(6), 'version_unknown', 'after the latest version');
  await rejectsCode(t, tree.root(5.5), 'version_unknown', 'not an integer');
  await rejectsCode(t, tree.prepare(5, []), 'version_out_of_order', 'same version again');
  await rejectsCode(t, tree.prepare(7, []), 'version_out_of_order', 'a gap');
});

t.test('single key: the root is the leaf hash; deleting it empties the tree', async (t) => {
  const { db } = await withDb(t, 'single');
  const tree = await StateTree.open(db);
  const p = await tree.commit(0, [[b('alice'), b('100')]]);
  t.equal(hex(p.root), hex(refLeafHash(b('alice'), b('100'))));
  t.same(await tree.get(b('alice')), b('100'));
  t.equal(await tree.get(b('bob')), undefined);
  const p1 = await tree.commit(1, [[b('alice'), null]]);
  t.same(p1.root, EMPTY_HASH);
  t.equal(await tree.get(b('alice')), undefined);
  t.same(await tree.get(b('alice'), 0), b('100'), 'old version still has it');
  const p2 = await tree.commit(2, [[b('alice'), new Uint8Array(0)]]);
  t.equal(hex(p2.root), hex(refLeafHash(b('alice'), new Uint8Array(0))), 'empty values are values');
  t.same(await tree.get(b('alice')), new Uint8Array(0));
});

t.test('roots match the reference for random sets with deletes, at every version', async (t) => {
  const { db } = await withDb(t, 'random');
  const tree = await StateTree.open(db);
  const rand = rng(42);
  const ref = new RefState();
  const history: { root: string; ref: RefState }[] = [];
  for (let v = 0; v < 25; v++) {
    const writes = randomWrites(rand, v < 5 ? 150 : 60, 500);
    ref.apply(writes);
    const p = await tree.commit(v, writes);
    t.equal(hex(p.root), hex(ref.root()), `root of version ${v} (${ref.map.size} keys)`);
    history.push({ root: hex(p.root), ref: ref.clone() });
  }
  t.ok(ref.map.size > 200, 'hundreds of keys');
  for (const v of [0, 7, 24]) {
    const snap = history[v]!;
    t.equal(hex(await tree.root(v)), snap.root, `root(${v}) stable after later commits`);
    let ok = true;
    for (let i = 0; i < 500; i++) {
      const key = b(`key-${i}`);
      const got = await tree.get(key, v);
      const want = snap.ref.get(key);
      if ((got === undefined) !== (want === undefined) || (got && want && hex(got) !== hex(want))) ok = false;
    }
    t.ok(ok, `get of all 500 keys at version ${v} matches that version`);
  }
});

t.test('keys sharing long keyHash prefixes', async (t) => {
  const { db } = await withDb(t, 'prefix');
  const tree = await StateTree.open(db);
  const pairs = keysSharingPrefix(20, 6);
  const groups = keysSharingPrefix(12, 10);
  t.equal(pairs.length, 6);
  for (const [x, y] of pairs) t.ok(commonBits(refKeyHash(x!), refKeyHash(y!)) >= 20, 'pair shares 20+ bits');
  const all = [...pairs.flat(), ...groups.flat()];
  const ref = new RefState();
  let v = 0;
  const check = async (writes: Writes, what: string): Promise<void> => {
    ref.apply(writes);
    const p = await tree.commit(v++, writes);
    t.equal(hex(p.root), hex(ref.root()), what);
    for (const k of all) t.same(await tree.get(k), ref.get(k));
  };
  // One key of a pair first, then its partner: the leaf moves 20+ levels down.
  await check(pairs.map(([x]) => [x!, b('first')] as [Uint8Array, Uint8Array]), 'one of each pair');
  await check(pairs.map(([, y]) => [y!, b('second')] as [Uint8Array, Uint8Array]), 'partners added');
  await check(groups.flat().map((k) => [k, k] as [Uint8Array, Uint8Array]), 'groups added');
  // Deleting one of a pair collapses the survivor back up.
  await check(pairs.map(([x]) => [x!, null] as [Uint8Array, null]), 'one of each pair deleted');
  await check(groups.map((g) => [g[0]!, null] as [Uint8Array, null]), 'one of each group deleted');
  await check([[pairs[0]![0]!, b('back')], [pairs[0]![1]!, null]], 'swap within a pair');
  await check(all.map((k) => [k, null] as [Uint8Array, null]), 'everything deleted');
  t.same(await tree.root(), EMPTY_HASH);
});

t.test('the root depends only on the final contents', async (t) => {
  const rand = rng(7);
  const finalWrites: Writes = [];
  for (let i = 0; i < 300; i++) finalWrites.push([b(`acct-${i}`), randomBytes(rand, 1 + (i % 50))]);
  const ref = new RefState();
  ref.apply(finalWrites);
  const want = hex(ref.root());

  const roots: string[] = [];
  // A: one version with everything.
  {
    const { db } = await withDb(t, 'order-a');
    const tree = await StateTree.open(db);
    roots.push(hex((await tree.commit(0, finalWrites)).root));
  }
  // B: shuffled, with earlier conflicting writes of the same key in the same batch (the later wins).
  {
    const { db } = await withDb(t, 'order-b');
    const tree = await StateTree.open(db);
    const noise: Writes = finalWrites.slice(0, 50).map(([k]) => [k, b('stale')]);
    const junk: Writes = [];
    const unjunk: Writes = [];
    for (let i = 0; i < 40; i++) junk.push([b(`junk-${i}`), b('x')]);
    for (let i = 0; i < 40; i++) unjunk.push([b(`junk-${i}`), null]);
    const batch = [...noise, ...shuffle(rand, [...finalWrites, ...junk]), ...shuffle(rand, unjunk)];
    roots.push(hex((await tree.commit(100, batch)).root));
  }
  // C: spread over many versions, with keys that come and go and values overwritten.
  {
    const { db } = await withDb(t, 'order-c');
    const tree = await StateTree.open(db);
    let v = 0;
    await tree.commit(v++, shuffle(rand, finalWrites).map(([k]) => [k, b('draft')] as [Uint8Array, Uint8Array]));
    await tree.commit(v++, Array.from({ length: 80 }, (_, i) => [b(`temp-${i}`), b('t')] as [Uint8Array, Uint8Array]));
    const shuffled = shuffle(rand, finalWrites);
    for (let i = 0; i < shuffled.length; i += 37) await tree.commit(v++, shuffled.slice(i, i + 37));
    await tree.commit(v++, Array.from({ length: 80 }, (_, i) => [b(`temp-${i}`), null] as [Uint8Array, null]));
    await tree.commit(v++, [[b('temp-0'), null]]);
    roots.push(hex(await tree.root()));
  }
  t.same(roots, [want, want, want], 'same root via one batch, a shuffled noisy batch, and many versions');
});

t.test('old versions, root stability and reopening', async (t) => {
  const { db, dir } = await withDb(t, 'reopen');
  let tree = await StateTree.open(db, { prefix: 0x53 });
  const rand = rng(99);
  const ref = new RefState();
  const refs: RefState[] = [];
  const roots: string[] = [];
  for (let v = 10; v < 20; v++) {
    const writes = randomWrites(rand, 40, 120);
    ref.apply(writes);
    roots.push(hex((await tree.commit(v, writes)).root));
    refs.push(ref.clone());
  }
  await db.close();
  const db2 = openDb(dir);
  t.teardown(() => db2.close());
  tree = await StateTree.open(db2, { prefix: 0x53 });
  t.equal(tree.latestVersion, 19);
  t.equal(tree.oldestVersion, 10);
  for (let v = 10; v < 20; v++) {
    t.equal(hex(await tree.root(v)), roots[v - 10], `root(${v}) after reopen`);
    const snap = refs[v - 10]!;
    let same = true;
    for (let i = 0; i < 120; i++) {
      const got = await tree.get(b(`key-${i}`), v);
      const want = snap.get(b(`key-${i}`));
      if (hex(got ?? b('<none>')) !== hex(want ?? b('<none>'))) same = false;
    }
    t.ok(same, `all values of version ${v} after reopen`);
  }
  const writes = randomWrites(rand, 40, 120);
  ref.apply(writes);
  t.equal(hex((await tree.commit(20, writes)).root), hex(ref.root()), 'commits continue after reopen');
  const other = await StateTree.open(db2);
  t.equal(other.latestVersion, -1, 'another prefix is another tree');
});

t.test('entries in keyHash order, with bounds', async (t) => {
  const { db } = await withDb(t, 'entries');
  const tree = await StateTree.open(db);
  const rand = rng(5);
  const ref = new RefState();
  const w0 = randomWrites(rand, 300, 400);
  ref.apply(w0);
  await tree.commit(0, w0);
  const old = ref.clone();
  const w1 = randomWrites(rand, 100, 400);
  ref.apply(w1);
  await tree.commit(1, w1);

  const collect = async (v?: number, range?: { gte?: Uint8Array; lt?: Uint8Array }): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of tree.entries(v, range)) {
      if (hex(refKeyHash(e.key)) !== hex(e.keyHash)) out.push('bad keyHash');
      out.push(`${hex(e.keyHash)}:${hex(e.key)}:${hex(e.value)}`);
    }
    return out;
  };
  const expect = (r: RefState, gte?: Uint8Array, lt?: Uint8Array): string[] =>
    r.entries(gte, lt).map((e) => `${hex(e.keyHash)}:${hex(e.key)}:${hex(e.value)}`);

  t.same(await collect(), expect(ref), 'all entries at latest');
  t.same(await collect(0), expect(old), 'all entries at version 0');
  const sorted = ref.entries();
  const bounds = [
    [sorted[10]!.keyHash, sorted[50]!.keyHash],
    [sorted[0]!.keyHash, undefined],
    [undefined, sorted[sorted.length - 1]!.keyHash],
    [new Uint8Array(32).fill(0x40), new Uint8Array(32).fill(0x80)],
    [Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0x12 : 0x34)), undefined],
    [new Uint8Array(32).fill(0x90), new Uint8Array(32).fill(0x90)],
  ] as const;
  for (const [gte, lt] of bounds) {
    const range = { ...(gte ? { gte } : {}), ...(lt ? { lt } : {}) };
    t.same(await collect(undefined, range), expect(ref, gte, lt), `range ${gte ? hex(gte).slice(0, 6) : '-'}..${lt ? hex(lt).slice(0, 6) : '-'}`);
  }
  // Chunks cut at arbitrary boundaries cover everything exactly once.
  const cuts = [0x00, 0x21, 0x5a, 0x80, 0xc3].map((x) => new Uint8Array(32).fill(x));
  const chunks: string[] = [];
  for (let i = 0; i < cuts.length; i++) chunks.push(...(await collect(undefined, { gte: cuts[i]!, ...(cuts[i + 1] ? { lt: cuts[i + 1]! } : {}) })));
  t.same(chunks, expect(ref), 'adjacent chunks concatenate to the whole state');
  await rejectsCode(t, collect(undefined, { gte: new Uint8Array(31) }), 'key_invalid', 'bounds must be 32 bytes');
  const empty = await withDb(t, 'entries-empty');
  t.same(await (async () => { const o = []; for await (const e of (await StateTree.open(empty.db)).entries()) o.push(e); return o; })(), []);
});

t.test('prepare without markCommitted changes nothing; ordering is enforced', async (t) => {
  const { db } = await withDb(t, 'prepare');
  const tree = await StateTree.open(db);
  await tree.commit(0, [[b('a'), b('1')], [b('b'), b('2')]]);
  const root0 = hex(await tree.root());
  const before = (await keysWithPrefix(db, 0x73)).map(hex);

  const p = await tree.prepare(1, [[b('a'), b('changed')], [b('c'), b('3')], [b('b'), null]]);
  t.equal(p.version, 1);
  t.ok(p.ops.length > 0);
  t.ok(p.ops.every((op) => op.key[0] === 0x73), 'every op is inside the prefix');
  t.equal(tree.latestVersion, 0, 'prepare does not advance the tree');
  t.equal(hex(await tree.root()), root0);
  t.same(await tree.get(b('a')), b('1'));
  t.same(await tree.get(b('b')), b('2'));
  t.equal(await tree.get(b('c')), undefined);
  t.same((await keysWithPrefix(db, 0x73)).map(hex), before, 'prepare writes nothing');
  await rejectsCode(t, tree.root(1), 'version_unknown', 'the prepared version is not readable');

  // The batch "failed": prepare again, and this time commit along with another module's keys.
  const p2 = await tree.prepare(1, [[b('a'), b('changed')], [b('c'), b('3')], [b('b'), null]]);
  t.same(p2.root, p.root, 'preparing the same writes again gives the same root');
  await db.batch([...p2.ops, { type: 'put', key: b('block-1'), value: b('block bytes') }]);
  tree.markCommitted(p2);
  t.equal(tree.latestVersion, 1);
  t.same(await tree.get(b('a')), b('changed'));
  t.same(await db.get(b('block-1')), b('block bytes'), 'atomic with another module');
  await rejectsCode(t, () => tree.markCommitted(p), 'version_out_of_order', 'a stale prepared version is refused');
  t.throws(() => tree.markCommitted({ version: 2, root: new Uint8Array(32), ops: [] } as PreparedVersion), TypeError);
  await rejectsCode(t, tree.prepare(1, []), 'version_out_of_order', 'version already committed');
  await rejectsCode(t, tree.prepare(3, []), 'version_out_of_order', 'version skipped');
  await rejectsCode(t, tree.prepare(-1, []), 'version_out_of_order', 'negative version');

  // A version with no effective change points at the old nodes and keeps the root.
  const same = await tree.commit(2, [[b('a'), b('changed')], [b('zzz'), null]]);
  t.same(same.root, p2.root, 'no-op writes keep the root');
  const written = same.ops.filter((op) => op.type === 'put').map((op) => describeKey(op.key).kind);
  t.same(written, ['root'], 'and write no nodes or leaves, only the root record');
  const keys = (await db.keys().all()).map(hex);
  t.ok(keys.every((k) => k.startsWith('73') || k === hex(b('block-1'))), 'nothing written outside the prefix');
});

t.test('invalid keys and values', async (t) => {
  const { db } = await withDb(t, 'invalid');
  const tree = await StateTree.open(db);
  await rejectsCode(t, tree.prepare(0, [[new Uint8Array(0), b('x')]]), 'key_invalid', 'empty key');
  await rejectsCode(t, tree.prepare(0, [[new Uint8Array(MAX_KEY_BYTES + 1), b('x')]]), 'key_invalid', 'key too long');
  await rejectsCode(t, tree.prepare(0, [['str' as unknown as Uint8Array, b('x')]]), 'key_invalid', 'not bytes');
  await rejectsCode(t, tree.get(new Uint8Array(0)), 'key_invalid', 'get with empty key');
  await t.rejects(tree.prepare(0, [[b('k'), 'v' as unknown as Uint8Array]]), TypeError, 'value must be bytes');
  await tree.commit(0, [[new Uint8Array(MAX_KEY_BYTES).fill(7), b('long key ok')]]);
  t.same(await tree.get(new Uint8Array(MAX_KEY_BYTES).fill(7)), b('long key ok'));
  await t.rejects(StateTree.open(db, { prefix: 256 }), RangeError);
  await t.rejects(StateTree.open(db, { keepVersions: -1 }), RangeError);
});

t.test('small and disabled node caches give the same results', async (t) => {
  const rand = rng(3);
  const batches: Writes[] = Array.from({ length: 8 }, () => randomWrites(rand, 120, 300));
  const results: string[][] = [];
  const configs = [{ cacheNodes: 0 }, { cacheNodes: 7 }, { cacheBytes: 0 }, { cacheBytes: 20_000 }, {}];
  for (const [i, opts] of configs.entries()) {
    const { db } = await withDb(t, `cache-${i}`);
    const tree = await StateTree.open(db, opts);
    const roots: string[] = [];
    const reads: string[] = [];
    for (let v = 0; v < batches.length; v++) {
      roots.push(hex((await tree.commit(v, batches[v]!)).root));
      // Reads of older versions after newer ones were cached (the leaf cache holds one version per key).
      for (let k = 0; k < 300; k += 37) reads.push(hex((await tree.get(b(`key-${k}`), Math.floor(v / 2))) ?? b('<none>')));
    }
    roots.push(...reads);
    const stats = tree.cacheStats();
    if (opts.cacheBytes !== undefined) t.ok(stats.bytes <= opts.cacheBytes, `cacheBytes ${opts.cacheBytes} bounds the caches (${stats.bytes})`);
    if (opts.cacheNodes !== undefined) t.ok(stats.nodes <= opts.cacheNodes && stats.leaves <= opts.cacheNodes, `cacheNodes ${opts.cacheNodes} bounds the count`);
    if (i === configs.length - 1) t.ok(stats.nodes > 0 && stats.leaves > 0, 'the default caches nodes and leaves');
    results.push(roots);
  }
  for (let i = 0; i < configs.length - 1; i++) t.same(results[i], results[configs.length - 1], JSON.stringify(configs[i]));
  const ref = new RefState();
  for (const w of batches) ref.apply(w);
  t.equal(results[configs.length - 1]![batches.length - 1], hex(ref.root()));
});

t.test('LruCache: bounded by weight and by count, deletes and replacements give their weight back', async (t) => {
  const c = new LruCache<number, Uint8Array>(100, (v) => v.length, 6);
  for (let i = 0; i < 40; i++) {
    c.set(i, new Uint8Array(i % 7));
    if (c.weight > 100 || c.size > 6) t.fail(`weight ${c.weight}, size ${c.size} after ${i}`);
  }
  t.ok(c.get(39), 'the latest entry stays');
  t.notOk(c.get(0), 'an old one went');
  const w = c.weight;
  c.set(39, new Uint8Array(1));
  t.equal(c.weight, w - (39 % 7) + 1, 'a replaced entry gives its weight back');
  c.delete(39);
  t.equal(c.weight, w - (39 % 7), 'so does a deleted one');
  c.clear();
  t.equal(c.weight, 0);
  t.equal(c.size, 0);
  const off = new LruCache<number, number>(10, () => 1, 0);
  off.set(1, 1);
  t.equal(off.get(1), undefined, 'a count limit of 0 disables the cache');
});

t.test('node store: synchronous and batched reads agree, missing or altered nodes are corruption', async (t) => {
  const { db } = await withDb(t, 'store');
  const tree = await StateTree.open(db);
  await tree.commit(0, Array.from({ length: 50 }, (_, i) => [b(`s-${i}`), b(`v-${i}`)] as [Uint8Array, Uint8Array]));
  const ref = decodeRoot((await db.get(rootKey(0x73, 0)))!).ref!;
  if (ref.kind !== 'node') throw new Error('50 keys make a packed root');
  const store = new NodeStore(db, 0x73, 0);
  const read = { ref, depth: 0, path: new Uint8Array(32) };
  const sync = store.readSync(read);
  const [batched] = await store.readMany([read]);
  t.same(sync.b, batched!.b);
  t.same(sync.hash(1), ref.hash, 'the recomputed root hash is the reference');
  const wrongHash = { ...read, ref: { ...ref, hash: ref.hash.map((x, i) => (i === 5 ? x ^ 1 : x)) } };
  t.throws(() => store.readSync(wrongHash), { code: 'corrupt' }, 'a node that does not match its hash');
  const missing = { ...read, ref: { ...ref, version: 9 } };
  await t.rejects(store.read(missing), { code: 'corrupt' }, 'a missing node');
  const bytes = (await db.get(nodeKey(0x73, 0, 0, read.path)))!;
  for (const [what, bad] of [
    ['truncated', bytes.subarray(0, bytes.length - 1)],
    ['trailing byte', Uint8Array.of(...bytes, 0)],
    ['unknown tag', Uint8Array.of(9, ...bytes.subarray(1))],
    ['kinds changed', Uint8Array.of(bytes[0]!, bytes[1]! ^ 0x40, ...bytes.subarray(2))],
  ] as const) {
    t.throws(() => decodePacked(bad, 0, 0, read.path), { code: 'corrupt' }, what);
  }
});

t.test('versions near 2^53, read cold (no cache) and after reopening', async (t) => {
  const { db, dir } = await withDb(t, 'big-versions');
  const tree = await StateTree.open(db, { cacheNodes: 0 });
  const rand = rng(53);
  const ref = new RefState();
  const first = Number.MAX_SAFE_INTEGER - 30;
  const snaps = new Map<number, { root: string; ref: RefState }>();
  for (let v = first; v <= Number.MAX_SAFE_INTEGER; v++) {
    const writes = randomWrites(rand, v === first ? 200 : 30, 300);
    ref.apply(writes);
    const p = await tree.commit(v, writes);
    snaps.set(v, { root: hex(p.root), ref: ref.clone() });
    if (hex(p.root) !== hex(ref.root())) t.fail(`root of version ${v}`);
  }
  t.equal(tree.latestVersion, Number.MAX_SAFE_INTEGER);
  await db.close();
  const db2 = openDb(dir);
  t.teardown(() => db2.close());
  const reopened = await StateTree.open(db2, { cacheNodes: 0 });
  t.equal(reopened.latestVersion, Number.MAX_SAFE_INTEGER);
  t.equal(reopened.oldestVersion, first);
  let bad = 0;
  for (const v of [first, first + 17, Number.MAX_SAFE_INTEGER]) {
    const snap = snaps.get(v)!;
    if (hex(await reopened.root(v)) !== snap.root) bad++;
    for (let i = 0; i < 300; i += 7) {
      const key = b(`key-${i}`);
      const got = await reopened.get(key, v);
      if (hex(got ?? b('<none>')) !== hex(snap.ref.get(key) ?? b('<none>'))) bad++;
    }
  }
  t.equal(bad, 0, 'roots and values of old and new versions');
});
