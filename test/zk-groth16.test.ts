/**
 * zk/groth16.ts: Groth16 verification by the validity rule (zk/parse.ts), single and batch, against
 * the committed fixtures, crafted bad inputs, and snarkjs's own verifier.
 */
import t from 'tap';
import { Worker } from 'node:worker_threads';
import * as snarkjs from 'snarkjs';
import {
  checkBatch, checkOne, findInvalid, parseKey, prepareKey, readItem, verifyBatch, verifyOne, ZkError,
  type BatchItem, type Curve, type PreparedKey, type ProofJson,
} from '../zk/groth16.ts';
import { inG2Subgroup, jac, millerProduct } from '../zk/curve.ts';
import { fixtureKey, fixtureProofs, type FixtureProof } from './fixtures/zk.ts';

const mulKey = await prepareKey(fixtureKey('multiplier'));
const otherKey = await prepareKey(fixtureKey('multiplier-other'));
const posKey = await prepareKey(fixtureKey('poseidon'));
const c: Curve = mulKey.curve;
const mul = fixtureProofs('multiplier');
const other = fixtureProofs('multiplier-other');
const pos = fixtureProofs('poseidon');

t.teardown(async () => {
  // snarkjs.groth16.verify built its multi-threaded curve; its workers keep the process alive.
  await (await snarkjs.curves.getCurveFromName('bn128')).terminate();
});

const clone = (p: FixtureProof): FixtureProof => structuredClone(p);
const dec = (v: unknown): string => String(v);
/** A G1 buffer as snarkjs JSON [x, y, "1"]. */
const g1Json = (p: Uint8Array): string[] => (c.G1.toObject(c.G1.toAffine(jac(c.G1, p))) as unknown[]).map(dec);
const g1 = (json: string[]): Uint8Array => c.G1.fromObject(json.map(BigInt));

/** A point on the twist curve y² = x³ + b' outside the order-r subgroup (no cofactor clearing). */
function g2OutsideSubgroup(): string[][] {
  const F2 = c.F2;
  for (let i = 1n; ; i++) {
    const x = F2.fromObject([i, 0n]);
    const rhs = F2.add(F2.mul(F2.square(x), x), c.G2.b);
    if (!F2.isSquare(rhs)) continue;
    const p = new Uint8Array(F2.n8 * 2);
    p.set(x);
    p.set(F2.sqrt(rhs), F2.n8);
    if (!c.G2.isValid(p) || inG2Subgroup(c, p)) continue;
    return (c.G2.toObject(p) as unknown[][]).map((e) => e.map(dec));
  }
}

/** The bad items of the mixed batch, by index, with the reason each must be refused for. */
function mixedBatch(): { items: FixtureProof[]; bad: Map<number, string> } {
  const items = mul.map(clone);
  const bad = new Map<number, string>();
  const set = (i: number, p: FixtureProof, code: string) => ((items[i] = p), bad.set(i, code));
  const tampered = clone(mul[3]!);
  tampered.publicSignals[0] = (BigInt(tampered.publicSignals[0]!) + 1n).toString();
  set(3, tampered, 'invalid_proof');
  const swapped = clone(mul[10]!);
  swapped.proof.pi_c = mul[11]!.proof.pi_c;
  set(10, swapped, 'invalid_proof');
  set(17, clone(other[0]!), 'invalid_proof');
  const offCurve = clone(mul[25]!);
  offCurve.proof.pi_a[1] = (BigInt(offCurve.proof.pi_a[1]!) + 1n).toString();
  set(25, offCurve, 'not_on_curve');
  const outside = clone(mul[33]!);
  outside.proof.pi_b = g2OutsideSubgroup();
  set(33, outside, 'not_in_subgroup');
  const count = clone(mul[40]!);
  count.publicSignals.push('1');
  set(40, count, 'wrong_signal_count');
  const big = clone(mul[52]!);
  big.publicSignals[0] = (BigInt(big.publicSignals[0]!) + c.r).toString();
  set(52, big, 'signal_out_of_range');
  return { items, bad };
}

const items = (pk: PreparedKey, ps: readonly ProofJson[]): BatchItem[] =>
  ps.map((p) => {
    const r = readItem(pk, p);
    if (r instanceof ZkError) throw r;
    return r;
  });

t.test('every fixture proof is valid alone, by both the JSON check and verifyOne', async (t) => {
  for (const [pk, ps] of [[mulKey, mul], [otherKey, other], [posKey, pos]] as const) {
    for (const [i, p] of ps.entries()) {
      t.equal(checkOne(pk, p), null, `proof ${i}`);
      const it = items(pk, [p])[0]!;
      t.ok(verifyOne(pk, it.proof, it.signals));
    }
  }
  t.equal(posKey.nPublic, 3);
});

t.test('valid proofs are accepted in batches of 1, 2, 16 and 64', async (t) => {
  const all = items(mulKey, mul);
  for (const n of [1, 2, 16, 64]) {
    for (let from = 0; from + n <= all.length; from += Math.max(n, 21)) {
      const batch = all.slice(from, from + n);
      t.ok(verifyBatch(mulKey, batch), `batch of ${n} from ${from}`);
      t.same(findInvalid(mulKey, batch), []);
    }
  }
  t.ok(verifyBatch(posKey, items(posKey, pos)), 'Poseidon batch (3 public signals)');
  t.same(checkBatch(mulKey, mul), []);
  t.ok(verifyBatch(mulKey, []), 'an empty batch');
});

t.test('a batch of 64 with seven bad proofs: exactly those refused, for the same reasons, by both paths', async (t) => {
  const { items: batch, bad } = mixedBatch();
  const refused = checkBatch(mulKey, batch);
  t.same(refused.map((r) => r.index), [...bad.keys()].sort((a, b) => a - b));
  for (const r of refused) t.equal(r.code, bad.get(r.index), `item ${r.index}: ${r.message}`);
  for (const [i, p] of batch.entries()) t.equal(checkOne(mulKey, p)?.code, bad.get(i), `single path, item ${i}`);
  // The equation-level failures alone, through verifyBatch and findInvalid.
  const readable = batch.filter((_, i) => !['not_on_curve', 'not_in_subgroup', 'wrong_signal_count', 'signal_out_of_range'].includes(bad.get(i) ?? ''));
  const parsed = items(mulKey, readable);
  t.notOk(verifyBatch(mulKey, parsed));
  t.equal(findInvalid(mulKey, parsed).length, 3);
});

t.test('agreement with snarkjs.groth16.verify on valid and tampered inputs', async (t) => {
  const { items: batch, bad } = mixedBatch();
  const vk = fixtureKey('multiplier');
  const cases: [string, ProofJson, boolean][] = [
    ...[0, 1, 63].map((i): [string, ProofJson, boolean] => [`valid ${i}`, mul[i]!, true]),
    ...[...bad].map(([i, code]): [string, ProofJson, boolean] => [`${code} at ${i}`, batch[i]!, false]),
  ];
  for (const [name, p, expected] of cases) {
    let theirs: boolean;
    try {
      theirs = await snarkjs.groth16.verify(vk, p.publicSignals, p.proof);
    } catch {
      theirs = false; // snarkjs throws on more signals than IC points; it refuses either way
    }
    t.equal(checkOne(mulKey, p) === null, expected, `ours: ${name}`);
    t.equal(theirs, expected, `snarkjs: ${name}`);
  }
  const pv = fixtureKey('poseidon');
  t.ok(await snarkjs.groth16.verify(pv, pos[0]!.publicSignals, pos[0]!.proof));
  const p = clone(pos[0]!);
  p.publicSignals[2] = '5';
  t.notOk(await snarkjs.groth16.verify(pv, p.publicSignals, p.proof));
  t.equal(checkOne(posKey, p)?.code, 'invalid_proof');
});

t.test('two invalid proofs that cancel when every coefficient is 1 are refused by the batch', async (t) => {
  const d = c.G1.timesScalar(c.G1.one, 123456789n);
  const p1 = clone(mul[0]!);
  const p2 = clone(mul[1]!);
  p1.proof.pi_c = g1Json(c.G1.add(jac(c.G1, g1(p1.proof.pi_c)), d));
  p2.proof.pi_c = g1Json(c.G1.add(jac(c.G1, g1(p2.proof.pi_c)), c.G1.neg(d)));
  const pair = items(mulKey, [p1, p2]);
  // With r_1 = r_2 = 1 the batch equation holds: the construction really cancels.
  const sumC = c.G1.add(jac(c.G1, pair[0]!.proof.c), jac(c.G1, pair[1]!.proof.c));
  const l = (s: bigint) => c.G1.add(jac(c.G1, mulKey.key.ic[0]!), c.G1.timesScalar(jac(c.G1, mulKey.key.ic[1]!), s));
  const sumL = c.G1.add(l(pair[0]!.signals[0]!), l(pair[1]!.signals[0]!));
  const unweighted = millerProduct(c, [
    ...pair.map((it): [Uint8Array, Uint8Array] => [it.proof.a, c.prepareG2(jac(c.G2, it.proof.b))]),
    [c.G1.neg(sumL), mulKey.gammaPre],
    [c.G1.neg(sumC), mulKey.deltaPre],
    [c.G1.neg(c.G1.timesScalar(jac(c.G1, mulKey.key.alpha), 2n)), mulKey.betaPre],
  ]);
  t.ok(c.Gt.eq(c.finalExponentiation(unweighted), c.Gt.one), 'the unweighted sum accepts');
  t.notOk(verifyBatch(mulKey, pair));
  t.same(findInvalid(mulKey, pair), [0, 1]);
  const sixteen = mul.slice(0, 16).map(clone);
  sixteen[4] = p1;
  sixteen[9] = p2;
  t.same(checkBatch(mulKey, sixteen).map((r) => r.index), [4, 9]);
  t.equal(checkOne(mulKey, p1)?.code, 'invalid_proof');
  t.equal(checkOne(mulKey, p2)?.code, 'invalid_proof');
});

t.test('the rule: malformed keys, proofs and signals', async (t) => {
  const vk = fixtureKey('multiplier');
  const keyCode = (k: unknown) => t.throws(() => parseKey(c, k), { code: 'malformed_key' });
  keyCode({ ...vk, protocol: 'plonk' });
  keyCode({ ...vk, curve: 'bls12381' });
  keyCode({ ...vk, nPublic: 2 });
  keyCode({ ...vk, IC: (vk.IC as unknown[]).slice(0, 1) });
  keyCode({ ...vk, vk_alpha_1: ['0', '1', '0'] });
  keyCode({ ...vk, vk_delta_2: g2OutsideSubgroup() });
  keyCode({ ...vk, vk_beta_2: [['1', '0'], ['1', '0'], ['1', '0']] });
  t.equal(parseKey(c, vk).nPublic, 1);

  const code = (mutate: (p: FixtureProof) => void) => {
    const p = clone(mul[7]!);
    mutate(p);
    return checkOne(mulKey, p)?.code;
  };
  t.equal(code(() => {}), undefined);
  t.equal(code((p) => (p.proof.pi_a = ['0', '1', '0'])), 'point_at_infinity');
  t.equal(code((p) => (p.proof.pi_b = [['0', '0'], ['1', '0'], ['0', '0']])), 'point_at_infinity');
  t.equal(code((p) => (p.proof.pi_a[2] = '2')), 'malformed_proof');
  t.equal(code((p) => (p.proof.pi_c[0] = '0x1')), 'malformed_proof');
  t.equal(code((p) => (p.proof.pi_c[0] = '0' + p.proof.pi_c[0])), 'malformed_proof');
  t.equal(code((p) => (p.proof.pi_a[0] = (BigInt(p.proof.pi_a[0]!) + c.q).toString())), 'not_on_curve');
  t.equal(code((p) => (p.proof.pi_b[1]![0] = '5')), 'not_on_curve');
  t.equal(code((p) => (p.proof.protocol = 'plonk')), 'malformed_proof');
  t.equal(code((p) => (p.publicSignals = [])), 'wrong_signal_count');
  t.equal(code((p) => (p.publicSignals[0] = '01')), 'malformed_signals');
  t.equal(code((p) => (p.publicSignals[0] = '-1')), 'malformed_signals');
  t.equal(code((p) => (p.publicSignals[0] = c.r.toString())), 'signal_out_of_range');
  t.equal(code((p) => (p.publicSignals[0] = '9'.repeat(200))), 'signal_out_of_range');
  t.equal(code((p) => ((p as { publicSignals: unknown }).publicSignals = 'x')), 'malformed_signals');
  t.equal(checkOne(mulKey, { proof: null, publicSignals: [] })?.code, 'malformed_proof');
});

t.test('verification works inside a worker thread (the web-worker import is stubbed there)', async (t) => {
  const groth16 = new URL('../zk/groth16.ts', import.meta.url).href;
  const fixtures = new URL('./fixtures/zk.ts', import.meta.url).href;
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
    (async () => {
      const m = await import(${JSON.stringify(groth16)});
      const f = await import(${JSON.stringify(fixtures)});
      const pk = await m.prepareKey(f.fixtureKey('multiplier'));
      const ps = f.fixtureProofs('multiplier');
      const bad = structuredClone(ps[2]);
      bad.publicSignals[0] = '7';
      parentPort.postMessage({ one: m.checkOne(pk, ps[0]), bad: m.checkOne(pk, bad).code, batch: m.checkBatch(pk, ps.slice(0, 16)) });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`,
    { eval: true },
  );
  const answer = await new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
  await w.terminate();
  t.same(answer, { one: null, bad: 'invalid_proof', batch: [] });
});
