/**
 * Groth16 verification on one thread: snarkjs.groth16.verify (the baseline, its own multi-threaded
 * curve, warm) against zk/'s single check from JSON (read by the rule, G2 subgroup check included,
 * then verifyOne) and batches of 16 and 64 from JSON (checkBatch: read every item, verifyBatch),
 * plus the pre-read verifyOne and the cost of reading a proof alone. Proofs per second, medians of
 * ROUNDS, and ratios to the baseline measured in the same run. Issue 15's goal for one proof alone:
 * ≤ 0.6x snarkjs's latency, i.e. ≥ 1/0.6 ≈ 1.67x its rate. `npx node bench/zk.bench.ts`
 */
import * as snarkjs from 'snarkjs';
import { median, rate, report } from './harness.ts';
import { bn254, checkBatch, checkOne, prepareKey, readItem, verifyOne, ZkError, type BatchItem } from '../zk/groth16.ts';
import { fixtureKey, fixtureProofs } from '../test/fixtures/zk.ts';

const BENCH = 'zk';
const ROUNDS = 3;
const MS = 1500;

const vk = fixtureKey('multiplier');
const proofs = fixtureProofs('multiplier');

let t0 = performance.now();
await bn254();
report({ bench: BENCH, name: 'single-threaded curve build (cold)', value: performance.now() - t0, unit: 'ms' });
t0 = performance.now();
const pk = await prepareKey(vk);
report({ bench: BENCH, name: 'prepareKey', value: performance.now() - t0, unit: 'ms' });
t0 = performance.now();
await snarkjs.groth16.verify(vk, proofs[0]!.publicSignals, proofs[0]!.proof);
report({ bench: BENCH, name: 'snarkjs first verify (cold, builds its curve)', value: performance.now() - t0, unit: 'ms' });

const parsed = proofs.map((p) => {
  const r = readItem(pk, p);
  if (r instanceof ZkError) throw r;
  return r;
}) as BatchItem[];

let i = 0;
const next = () => proofs[i++ % proofs.length]!;
const cases: Record<string, () => number | void | Promise<number | void>> = {
  'snarkjs.groth16.verify': async () => {
    const p = next();
    if (!(await snarkjs.groth16.verify(vk, p.publicSignals, p.proof))) throw new Error('snarkjs refused');
  },
  'checkOne (JSON, single)': () => {
    if (checkOne(pk, next()) !== null) throw new Error('refused');
  },
  'verifyOne (pre-read)': () => {
    const it = parsed[i++ % parsed.length]!;
    if (!verifyOne(pk, it.proof, it.signals)) throw new Error('refused');
  },
  'readItem (the rule alone)': () => {
    if (readItem(pk, next()) instanceof ZkError) throw new Error('refused');
  },
  'checkBatch of 16 (JSON)': () => {
    const from = (i++ % 4) * 16;
    if (checkBatch(pk, proofs.slice(from, from + 16)).length !== 0) throw new Error('refused');
    return 16;
  },
  'checkBatch of 64 (JSON)': () => {
    if (checkBatch(pk, proofs).length !== 0) throw new Error('refused');
    return 64;
  },
};

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, op] of Object.entries(cases)) samples[name]!.push(await rate(op, MS));
}

const base = median(samples['snarkjs.groth16.verify']!);
for (const [name, xs] of Object.entries(samples)) {
  const value = median(xs);
  report({ bench: BENCH, name, value, unit: 'proofs/s', ms_per_proof: Number((1000 / value).toPrecision(3)), samples: xs.map(Math.round) });
  if (name === 'snarkjs.groth16.verify' || name.startsWith('readItem')) continue;
  report({
    bench: BENCH,
    name: `${name} / snarkjs`,
    value: value / base,
    unit: 'ratio',
    ...(name.startsWith('checkOne') ? { goal: 1 / 0.6, goal_op: '>=' } : {}),
  });
}

await (await snarkjs.curves.getCurveFromName('bn128')).terminate();
