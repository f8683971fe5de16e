import t from 'tap';
import type { Test } from 'tap';
import { StateTree, StateError, verifyStateProof } from '../state/tree.ts';
import { decodeRoot, describeKey, leafKey, nodeKey, TAG_NODE, tagRange } from '../state/codec.ts';
import type { RecordKind } from '../state/codec.ts';
import { decodePacked, K_EMPTY, K_INNER, K_LEAF } from '../state/packed.ts';
import type { PackedNode } from '../state/packed.ts';
import { withBit } from '../state/hashing.ts';
import { b, hex, keysWithPrefix, openDb, RefState, rng, withDb } from './fixtures/state-reference.ts';
import type { Db } from './fixtures/state-reference.ts';

const P = 0x73;
type Writes = [Uint8Array, Uint8Array | null][];

/** The stored records of one kind (nodes, leaves, stale or root records), key and value. */
async function records(db: Db, kind: RecordKind): Promise<[Uint8Array, Uint8Array][]> {
  return (await db.iterator(tagRange(P, TAG_NODE)).all()).filter(([key]) => describeKey(key).kind === kind);
}

/** Node and leaf keys reachable from the stored root records, and any that are referenced but missing. */
async function reachable(db: Db): Promise<{ nodes: Set<string>; missing: string[] }> {
  const nodes = new Set<string>();
  const missing: string[] = [];
  const visit = async (key: Uint8Array): Promise<Uint8Array | undefined> => {
    if (nodes.has(hex(key))) return undefined; // shared with another version, already walked
    nodes.add(hex(key));
    const bytes = await db.get(key);
    if (!bytes) missing.push(hex(key));
    return bytes;
  };
  const visitLeaf = (version: number, keyHash: Uint8Array): Promise<unknown> => visit(leafKey(P, version, keyHash));
  for (const [, value] of await records(db, 'root')) {
    const root = decodeRoot(value).ref;
    if (!root) continue;
    if (root.kind === 'leaf') {
      await visitLeaf(root.version, root.keyHash);
      continue;
    }
    // Slots of packed nodes: inner slots have no record of their own, leaves and child nodes do.
    const stack: { node: PackedNode; pos: number; depth: number; path: Uint8Array }[] = [];
    const visitNode = async (version: number, depth: number, path: Uint8Array): Promise<void> => {
      const bytes = await visit(nodeKey(P, version, depth, path));
      if (bytes) stack.push({ node: decodePacked(bytes, version, depth, path), pos: 1, depth, path });
    };
    await visitNode(root.version, 0, new Uint8Array(32));
    for (let it = stack.pop(); it; it = stack.pop()) {
      const { node, pos, depth, path } = it;
      const k = node.kind(pos);
      if (k === K_INNER) {
        if (node.kind(2 * pos) !== K_EMPTY) stack.push({ node, pos: 2 * pos, depth: depth + 1, path });
        if (node.kind(2 * pos + 1) !== K_EMPTY) stack.push({ node, pos: 2 * pos + 1, depth: depth + 1, path: withBit(path, depth) });
      } else if (k === K_LEAF) await visitLeaf(node.versionAt(pos), node.leaf(pos).keyHash);
      else await visitNode(node.versionAt(pos), depth, path);
    }
  }
  return { nodes, missing };
}

/** Asserts the store holds exactly what the kept versions need, and that every kept version reads right. */
async function checkStore(t: Test, db: Db, tree: StateTree, history: Map<number, { root: string; ref: RefState }>, keys: Uint8Array[]): Promise<void> {
  const { nodes, missing } = await reachable(db);
  const stored = new Set([...(await records(db, 'node')), ...(await records(db, 'leaf'))].map(([key]) => hex(key)));
  t.same(missing, [], 'no node or leaf a kept version needs is missing');
  t.equal([...stored].filter((k) => !nodes.has(k)).length, 0, `no garbage: ${stored.size} nodes and leaves stored, all reachable`);
  const rootVersions = (await records(db, 'root')).map(([key]) => describeKey(key).version);
  const want = [];
  for (let v = tree.oldestVersion; v <= tree.latestVersion; v++) want.push(v);
  t.same(rootVersions, want, 'root records for exactly the kept versions');
  const staleVersions = (await records(db, 'stale')).map(([key]) => describeKey(key).version);
  t.ok(staleVersions.every((s) => s > tree.oldestVersion && s <= tree.latestVersion), 'stale records only for versions still to prune');
  let bad = 0;
  for (let v = tree.oldestVersion; v <= tree.latestVersion; v++) {
    const h = history.get(v)!;
    if (hex(await tree.root(v)) !== h.root) bad++;
    for (const key of keys) {
      const { value, proof } = await tree.prove(key, v);
      const want = h.ref.get(key);
      if (hex(value ?? b('<none>')) !== hex(want ?? b('<none>'))) bad++;
      if (!verifyStateProof(await tree.root(v), key, value, proof)) bad++;
      const got = await tree.get(key, v);
      if (hex(got ?? b('<none>')) !== hex(want ?? b('<none>'))) bad++;
    }
  }
  t.equal(bad, 0, `kept versions ${tree.oldestVersion}..${tree.latestVersion} fully readable and provable`);
}

async function expectPruned(t: Test, p: Promise<unknown>, msg: string): Promise<void> {
  await t.rejects(p, { name: 'StateError', code: 'version_pruned' }, msg);
}

/** Overwrites among few values so identical content (A -> B -> A) keeps reappearing. */
function churn(rand: () => number, keys: Uint8Array[], n: number): Writes {
  const values = [b('A'), b('B'), b('C')];
  const out: Writes = [];
  for (let i = 0; i < n; i++) {
    const key = keys[Math.floor(rand() * keys.length)]!;
    out.push([key, rand() < 0.1 ? null : values[Math.floor(rand() * values.length)]!]);
  }
  return out;
}

t.test('pruning keeps exactly the kept versions, and storage stays bounded', async (t) => {
  const keep = 3;
  const { db } = await withDb(t, 'prune');
  const tree = await StateTree.open(db, { keepVersions: keep });
  const rand = rng(2024);
  const keys = Array.from({ length: 40 }, (_, i) => b(`acct-${i}`));
  const ref = new RefState();
  const history = new Map<number, { root: string; ref: RefState }>();
  const counts: number[] = [];
  const first = 1000;
  for (let v = first; v < first + 150; v++) {
    const writes = v % 17 === 0 ? [] : v % 13 === 0 ? [...ref.map.values()].slice(0, 5).map((e) => [e.key, e.value] as [Uint8Array, Uint8Array]) : churn(rand, keys, 6);
    ref.apply(writes);
    const p = await tree.commit(v, writes);
    history.set(v, { root: hex(p.root), ref: ref.clone() });
    if (hex(p.root) !== hex(ref.root())) t.fail(`root of ${v}`);
    t.equal(tree.oldestVersion, Math.max(first, v - keep + 1));
    if (v - keep >= first) await expectPruned(t, tree.root(v - keep), `version ${v - keep} pruned at ${v}`);
    counts.push((await keysWithPrefix(db, P)).length);
    if (v % 25 === 0 || v < first + 5) await checkStore(t, db, tree, history, keys);
  }
  await t.rejects(tree.get(keys[0]!, first), { code: 'version_pruned' });
  await t.rejects(tree.root(first - 1), { code: 'version_unknown' }, 'before the first version is unknown, not pruned');
  const early = Math.max(...counts.slice(10, 60));
  const late = Math.max(...counts.slice(100));
  t.ok(late <= early * 1.5, `state keys stay bounded: max ${early} early, ${late} late`);

  // The same history without pruning grows with every version.
  const all = await withDb(t, 'prune-all');
  const full = await StateTree.open(all.db);
  const rand2 = rng(2024);
  const ref2 = new RefState();
  for (let v = first; v < first + 150; v++) {
    const writes = v % 17 === 0 ? [] : v % 13 === 0 ? [...ref2.map.values()].slice(0, 5).map((e) => [e.key, e.value] as [Uint8Array, Uint8Array]) : churn(rand2, keys, 6);
    ref2.apply(writes);
    await full.commit(v, writes);
  }
  t.equal(hex(await full.root()), hex(await tree.root()), 'pruning does not change roots');
  const unpruned = (await keysWithPrefix(all.db, P)).length;
  t.ok(unpruned > 4 * counts[counts.length - 1]!, `without pruning: ${unpruned} keys, with: ${counts[counts.length - 1]}`);
});

t.test('keepVersions 1 deletes replaced nodes in the same batch', async (t) => {
  const { db } = await withDb(t, 'prune-1');
  const tree = await StateTree.open(db, { keepVersions: 1 });
  const rand = rng(8);
  const keys = Array.from({ length: 30 }, (_, i) => b(`k-${i}`));
  const ref = new RefState();
  const history = new Map<number, { root: string; ref: RefState }>();
  for (let v = 0; v < 60; v++) {
    const writes = churn(rand, keys, 5);
    ref.apply(writes);
    const p = await tree.commit(v, writes);
    history.set(v, { root: hex(p.root), ref: ref.clone() });
    t.equal(hex(p.root), hex(ref.root()));
    if (!p.ops.every((op) => op.key[0] === P)) t.fail('an op outside the prefix');
    if (v > 0) await expectPruned(t, tree.get(keys[0]!, v - 1), `version ${v - 1} pruned`);
    if (v % 10 === 9) await checkStore(t, db, tree, history, keys);
  }
  t.equal(tree.oldestVersion, 59);
});

t.test('A -> B -> A: identical content in different versions is pruned safely', async (t) => {
  const { db } = await withDb(t, 'prune-aba');
  const tree = await StateTree.open(db, { keepVersions: 2 });
  const k = b('k');
  const j = b('j');
  const ref = new RefState();
  const history = new Map<number, { root: string; ref: RefState }>();
  const steps: Writes[] = [
    [[k, b('A')], [j, b('X')]],
    [[k, b('B')]],
    [[k, b('A')]], // same content as version 0, new nodes
    [[k, b('A')]], // no change at all
    [[j, null]], // k moves up to the root
    [[j, b('X')]], // and back down: the tree of version 0 again
    [],
    [[k, b('B')], [j, null]],
    [[k, b('A')], [j, b('X')]],
  ];
  for (let v = 0; v < steps.length; v++) {
    ref.apply(steps[v]!);
    const p = await tree.commit(v, steps[v]!);
    history.set(v, { root: hex(p.root), ref: ref.clone() });
    await checkStore(t, db, tree, history, [k, j, b('absent')]);
  }
  t.equal(history.get(0)!.root, history.get(2)!.root, 'version 2 has version 0 root');
  t.equal(history.get(5)!.root, history.get(0)!.root, 'version 5 too');
  t.equal(history.get(8)!.root, history.get(0)!.root, 'version 8 too');
});

t.test('lowering keepVersions on reopen prunes the backlog; reads racing pruning say so', async (t) => {
  const { db, dir } = await withDb(t, 'prune-reopen');
  let tree = await StateTree.open(db);
  const rand = rng(77);
  const keys = Array.from({ length: 25 }, (_, i) => b(`r-${i}`));
  const ref = new RefState();
  const history = new Map<number, { root: string; ref: RefState }>();
  for (let v = 0; v < 30; v++) {
    const w = churn(rand, keys, 4);
    ref.apply(w);
    history.set(v, { root: hex((await tree.commit(v, w)).root), ref: ref.clone() });
  }
  const before = (await keysWithPrefix(db, P)).length;
  await db.close();
  const db2 = openDb(dir);
  t.teardown(() => db2.close());
  tree = await StateTree.open(db2, { keepVersions: 4 });
  t.equal(tree.oldestVersion, 0, 'nothing pruned by opening');
  t.same(await tree.get(keys[0]!, 3), history.get(3)!.ref.get(keys[0]!) ?? undefined);
  const w = churn(rand, keys, 4);
  ref.apply(w);
  history.set(30, { root: hex((await tree.commit(30, w)).root), ref: ref.clone() });
  t.equal(tree.oldestVersion, 27);
  await checkStore(t, db2, tree, history, keys);
  const after = (await keysWithPrefix(db2, P)).length;
  t.ok(after < before / 3, `backlog pruned: ${before} -> ${after} keys`);

  // A reader that resolved version 27 before it was pruned gets a clear error, not wrong data.
  t.equal(hex(await tree.root(27)), history.get(27)!.root);
  for (let v = 31; v < 33; v++) await tree.commit(v, churn(rand, keys, 4));
  await expectPruned(t, tree.get(keys[1]!, 27), 'version 27 pruned since');
  t.ok((await tree.prove(keys[1]!, 29).catch((e: StateError) => e.code)) !== 'version_pruned', 'version 29 still kept');
});
