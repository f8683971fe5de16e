import t from 'tap';
import type { Test } from 'tap';
import { rm } from 'node:fs/promises';
import { StateTree, StateError, EMPTY_HASH, verifyStateProof, encodeStateProof, decodeStateProof } from '../state/tree.ts';
import type { StateProof } from '../state/tree.ts';
import { b, hex, keysSharingPrefix, openDb, randomBytes, refKeyHash, RefState, rng, tempDir } from './fixtures/state-reference.ts';

async function setup(t: Test): Promise<{ tree: StateTree; ref: RefState; oldRoot: Uint8Array; present: Uint8Array[]; absent: Uint8Array[] }> {
  const dir = await tempDir('proof');
  const db = openDb(dir);
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const tree = await StateTree.open(db);
  const rand = rng(11);
  const ref = new RefState();
  const present: Uint8Array[] = [];
  const w0: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 300; i++) w0.push([b(`k${i}`), randomBytes(rand, i % 7 === 0 ? 0 : 1 + (i % 60))]);
  for (const [x, y] of keysSharingPrefix(16, 5)) w0.push([x!, b('deep-x')], [y!, b('deep-y')]);
  ref.apply(w0);
  const oldRoot = (await tree.commit(0, w0)).root;
  const w1: [Uint8Array, Uint8Array | null][] = [];
  for (let i = 0; i < 300; i += 3) w1.push([b(`k${i}`), i % 2 ? null : b(`v1-${i}`)]);
  ref.apply(w1);
  await tree.commit(1, w1);
  for (const e of ref.entries()) present.push(e.key);
  const absent = Array.from({ length: 150 }, (_, i) => b(`absent-${i}`));
  for (let i = 3; i < 300; i += 6) absent.push(b(`k${i}`)); // deleted in version 1
  return { tree, ref, oldRoot, present, absent };
}

function flip(h: Uint8Array, i = 0): Uint8Array {
  const c = h.slice();
  c[i] = c[i]! ^ 1;
  return c;
}

t.test('inclusion and exclusion proofs verify, and tampering fails', async (t) => {
  const { tree, ref, oldRoot, present, absent } = await setup(t);
  const root = await tree.root();
  t.equal(hex(root), hex(ref.root()));
  let bad = 0;
  const kinds = new Set<string>();
  for (const key of present) {
    const { value, proof } = await tree.prove(key);
    kinds.add(proof.type);
    if (proof.type !== 'inclusion' || hex(value!) !== hex(ref.get(key)!)) bad++;
    if (!verifyStateProof(root, key, value, proof)) bad++;
    // Tampering.
    if (verifyStateProof(root, key, b('wrong'), proof)) bad++;
    if (verifyStateProof(root, key, undefined, proof)) bad++; // inclusion presented as exclusion (value missing)
    if (verifyStateProof(root, key, value, { type: 'exclusion-empty', siblings: proof.siblings })) bad++;
    if (verifyStateProof(oldRoot, key, value, proof) && hex(ref.get(key)!) !== hex((await tree.get(key, 0)) ?? b('-'))) bad++;
    if (verifyStateProof(flip(root), key, value, proof)) bad++;
    proof.siblings.forEach((_, i) => {
      const siblings = proof.siblings.slice();
      siblings[i] = flip(siblings[i]!, i % 32);
      if (verifyStateProof(root, key, value, { ...proof, siblings })) bad++;
    });
    if (verifyStateProof(root, key, value, { ...proof, siblings: [...proof.siblings, EMPTY_HASH] })) bad++;
    if (proof.siblings.length > 0 && verifyStateProof(root, key, value, { ...proof, siblings: proof.siblings.slice(1) })) bad++;
    const other = present.find((k) => hex(k) !== hex(key))!;
    if (verifyStateProof(root, other, value, proof)) bad++;
  }
  t.equal(bad, 0, `all ${present.length} inclusion proofs verify and resist tampering`);
  t.ok(present.length > 250);

  bad = 0;
  for (const key of absent) {
    const { value, proof } = await tree.prove(key);
    kinds.add(proof.type);
    if (value !== undefined || proof.type === 'inclusion') bad++;
    if (!verifyStateProof(root, key, undefined, proof)) bad++;
    if (verifyStateProof(root, key, b('anything'), proof)) bad++; // exclusion presented as inclusion
    if (verifyStateProof(root, key, undefined, { type: 'inclusion', siblings: proof.siblings })) bad++;
    if (verifyStateProof(flip(root), key, undefined, proof)) bad++;
    proof.siblings.forEach((_, i) => {
      const siblings = proof.siblings.slice();
      siblings[i] = flip(siblings[i]!);
      if (verifyStateProof(root, key, undefined, { ...proof, siblings })) bad++;
    });
    if (proof.type === 'exclusion-leaf') {
      if (verifyStateProof(root, key, undefined, { ...proof, leafValueHash: flip(proof.leafValueHash) })) bad++;
      if (verifyStateProof(root, key, undefined, { ...proof, leafKeyHash: flip(proof.leafKeyHash, 31) })) bad++;
      // The other leaf's own key is present: this proof must not show it absent.
      const leafKey = present.find((k) => hex(refKeyHash(k)) === hex(proof.leafKeyHash))!;
      if (!leafKey) bad++;
      else if (verifyStateProof(root, leafKey, undefined, proof)) bad++;
      // Claiming the key's own keyHash as "another leaf" is refused.
      if (verifyStateProof(root, key, undefined, { ...proof, leafKeyHash: refKeyHash(key) })) bad++;
    }
  }
  t.equal(bad, 0, `all ${absent.length} exclusion proofs verify and resist tampering`);
  t.same([...kinds].sort(), ['exclusion-empty', 'exclusion-leaf', 'inclusion'], 'all three proof shapes were exercised');

  // A present key cannot be proven absent with another key's exclusion proof.
  const ex = await tree.prove(absent[0]!);
  t.notOk(verifyStateProof(root, present[0]!, undefined, ex.proof));
  // Proofs of an old version hold against that version's root only.
  const k = b('k0');
  const old = await tree.prove(k, 0);
  t.ok(verifyStateProof(oldRoot, k, old.value, old.proof), 'old version proof against old root');
  t.notOk(verifyStateProof(root, k, old.value, old.proof), 'old proof against the new root');
});

t.test('malformed proofs are rejected without throwing', async (t) => {
  const { tree, present } = await setup(t);
  const root = await tree.root();
  const key = present[0]!;
  const { value, proof } = await tree.prove(key);
  t.ok(verifyStateProof(root, key, value, proof));
  const cases: [string, unknown][] = [
    ['too many siblings', { type: 'inclusion', siblings: Array.from({ length: 257 }, () => EMPTY_HASH) }],
    ['short sibling', { ...proof, siblings: proof.siblings.map((s, i) => (i === 0 ? s.subarray(1) : s)) }],
    ['long sibling', { ...proof, siblings: proof.siblings.map((s, i) => (i === 0 ? new Uint8Array(33) : s)) }],
    ['sibling not bytes', { ...proof, siblings: ['00'.repeat(32)] }],
    ['unknown type', { ...proof, type: 'maybe' }],
    ['no siblings array', { type: 'inclusion' }],
    ['null', null],
    ['short leaf hashes', { type: 'exclusion-leaf', siblings: [], leafKeyHash: new Uint8Array(31), leafValueHash: new Uint8Array(32) }],
  ];
  for (const [name, p] of cases) {
    t.equal(verifyStateProof(root, key, value, p as StateProof), false, name);
  }
  t.equal(verifyStateProof(root.subarray(1), key, value, proof), false, 'short root');
  t.equal(verifyStateProof(root, 'k' as unknown as Uint8Array, value, proof), false, 'key not bytes');
});

t.test('proof encoding round trips and rejects bad bytes', async (t) => {
  const { tree, present, absent } = await setup(t);
  const root = await tree.root();
  let bad = 0;
  let maxLen = 0;
  for (const key of [...present.slice(0, 100), ...absent]) {
    const { value, proof } = await tree.prove(key);
    const bytes = encodeStateProof(proof);
    maxLen = Math.max(maxLen, bytes.length);
    const back = decodeStateProof(bytes);
    if (!verifyStateProof(root, key, value, back)) bad++;
    if (hex(encodeStateProof(back)) !== hex(bytes)) bad++;
    if (back.type !== proof.type || back.siblings.length !== proof.siblings.length) bad++;
  }
  t.equal(bad, 0, 'decode(encode(p)) verifies and re-encodes to the same bytes');
  t.ok(maxLen < 3 + 32 + 20 * 32 + 64, `compact: longest proof ${maxLen} bytes`);

  const { proof } = await tree.prove(absent[0]!);
  const good = encodeStateProof(proof);
  const leafProof = (await Promise.all(absent.map((k) => tree.prove(k)))).find((r) => r.proof.type === 'exclusion-leaf')?.proof;
  t.ok(leafProof, 'some absent key ends at another leaf');
  const goodLeaf = encodeStateProof(leafProof!);
  const mutate = (src: Uint8Array, f: (x: Uint8Array) => Uint8Array): Uint8Array => f(src.slice());
  const badBytes: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['header only, truncated', good.subarray(0, 2)],
    ['unknown type', mutate(good, (x) => ((x[0] = 9), x))],
    ['depth over 256', Uint8Array.of(1, 0x01, 0x01, ...new Uint8Array(33))],
    ['truncated siblings', good.subarray(0, good.length - 1)],
    ['trailing byte', Uint8Array.of(...good, 0)],
    ['truncated leaf hashes', goodLeaf.subarray(0, goodLeaf.length - 32)],
    ['padding bits set', Uint8Array.of(2, 0, 1, 0x41, ...new Uint8Array(32).fill(1))],
    ['present sibling that is all zero', Uint8Array.of(2, 0, 1, 0x80, ...new Uint8Array(32))],
  ];
  for (const [name, bytes] of badBytes) {
    t.throws(() => decodeStateProof(bytes), { name: 'StateError', code: 'proof_malformed' }, name);
  }
  // Random bytes: either rejected with a StateError, or canonical.
  const rand = rng(1);
  let fuzzBad = 0;
  for (let i = 0; i < 2000; i++) {
    const flipBit = (x: Uint8Array): Uint8Array => {
      const at = Math.floor(rand() * x.length);
      x[at] = x[at]! ^ (1 << Math.floor(rand() * 8));
      return x;
    };
    const bytes = i % 2 ? randomBytes(rand, Math.floor(rand() * 80)) : mutate(i % 4 ? good : goodLeaf, flipBit);
    try {
      const p = decodeStateProof(bytes);
      if (hex(encodeStateProof(p)) !== hex(bytes)) fuzzBad++;
    } catch (e) {
      if (!(e instanceof StateError) || e.code !== 'proof_malformed') fuzzBad++;
    }
  }
  t.equal(fuzzBad, 0, 'fuzzed bytes are rejected cleanly or canonical');
});

t.test('empty tree proofs', async (t) => {
  const dir = await tempDir('proof-empty');
  const db = openDb(dir);
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const tree = await StateTree.open(db);
  const { value, proof } = await tree.prove(b('nobody'));
  t.equal(value, undefined);
  t.same(proof, { type: 'exclusion-empty', siblings: [] });
  t.ok(verifyStateProof(EMPTY_HASH, b('nobody'), undefined, proof));
  t.same(encodeStateProof(proof), Uint8Array.of(2, 0, 0));
  await tree.commit(0, [[b('only'), b('one')]]);
  const one = await tree.prove(b('only'));
  t.same(one.proof, { type: 'inclusion', siblings: [] }, 'a lone leaf is the root');
  t.ok(verifyStateProof(await tree.root(), b('only'), b('one'), one.proof));
  const other = await tree.prove(b('other'));
  t.equal(other.proof.type, 'exclusion-leaf');
  t.ok(verifyStateProof(await tree.root(), b('other'), undefined, other.proof));
});
