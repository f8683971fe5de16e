/**
 * Groth16 verification through zk/pool.ts's VerifierPool against snarkjs.groth16.verify (the
 * baseline, warm, measured in the same run): proofs per second with one worker and with the
 * default number (os.availableParallelism()), fed CONCURRENT requests of REQUEST proofs at a time
 * so batches form across requests; the caller's event-loop delay during the all-workers run
 * (perf_hooks.monitorEventLoopDelay: the pool must not block it) and its utilization (the share
 * of time the caller's thread was busy); and the latency of one proof alone through the pool
 * against snarkjs's for one proof. Medians of ROUNDS.
 * `npx node bench/zk-pool.bench.ts`
 */
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as snarkjs from 'snarkjs';
import { median, report } from './harness.ts';
import { bn254, encodeKey, encodeProof, encodeSignals, keyHash, type VerifyItem } from '../zk/groth16.ts';
import { VerifierPool } from '../zk/pool.ts';
import { fixtureKey, fixtureProofs } from '../test/fixtures/zk.ts';

const BENCH = 'zk-pool';
const ROUNDS = 5;
const MS = 1500;
const REQUEST = 16;
const CONCURRENT = 32;
const LONE = 40;

const vk = fixtureKey('multiplier');
const proofs = fixtureProofs('multiplier');
const key = encodeKey(await bn254(), vk);
const hash = keyHash(key);
const items: VerifyItem[] = proofs.map((p) => ({ key, keyHash: hash, proof: encodeProof(p.proof), signals: encodeSignals(p.publicSignals) }));
const requestAt = (i: number) => Array.from({ length: REQUEST }, (_, j) => items[(i * REQUEST + j) % items.length]!);

/** snarkjs, one proof after another: proofs/s and the median latency of one call (ms). */
async function snarkjsRound(): Promise<{ rate: number; latency: number }> {
  const lat: number[] = [];
  const start = performance.now();
  for (let i = 0; performance.now() - start < MS; i++) {
    const p = proofs[i % proofs.length]!;
    const t0 = performance.now();
    if (!(await snarkjs.groth16.verify(vk, p.publicSignals, p.proof))) throw new Error('snarkjs refused');
    lat.push(performance.now() - t0);
  }
  return { rate: (lat.length * 1000) / (performance.now() - start), latency: median(lat) };
}

/** CONCURRENT callers, each sending its next request as soon as the last is answered. */
async function poolRate(pool: VerifierPool, ms: number): Promise<number> {
  let done = 0;
  let next = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  const caller = async () => {
    while (performance.now() < end) {
      const answers = await pool.verifyEach(requestAt(next++));
      if (!answers.every((a) => a.ok)) throw new Error('the pool refused a valid proof');
      done += answers.length;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, caller));
  return (done * 1000) / (performance.now() - start);
}

/** The median latency (ms) of one proof alone through the pool, nothing else in flight. */
async function loneLatency(pool: VerifierPool): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < LONE; i++) {
    const t0 = performance.now();
    const [a] = await pool.verifyEach([items[i % items.length]!]);
    lat.push(performance.now() - t0);
    if (!a!.ok) throw new Error('the pool refused a valid proof');
  }
  return median(lat);
}

await snarkjs.groth16.verify(vk, proofs[0]!.publicSignals, proofs[0]!.proof); // builds its curve
const one = new VerifierPool({ threads: 1 });
const all = new VerifierPool();
await poolRate(one, 300); // warm: the curve and the key in the worker, the JIT
await poolRate(all, 300);

const snark: { rate: number; latency: number }[] = [];
const oneRates: number[] = [];
const allRates: number[] = [];
const lone: number[] = [];
const lagMax: number[] = [];
const lagP99: number[] = [];
const busy: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  snark.push(await snarkjsRound());
  oneRates.push(await poolRate(one, MS));
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const elu = performance.eventLoopUtilization();
  allRates.push(await poolRate(all, MS));
  busy.push(performance.eventLoopUtilization(elu).utilization);
  lag.disable();
  lagMax.push(lag.max / 1e6);
  lagP99.push(lag.percentile(99) / 1e6);
  lone.push(await loneLatency(all));
}

const base = median(snark.map((s) => s.rate));
const baseLatency = median(snark.map((s) => s.latency));
const rates = { 'snarkjs.groth16.verify': snark.map((s) => s.rate), 'pool, 1 worker': oneRates, [`pool, ${all.threads} workers (default)`]: allRates };
for (const [name, xs] of Object.entries(rates)) {
  const value = median(xs);
  report({ bench: BENCH, name, value, unit: 'proofs/s', ms_per_proof: Number((1000 / value).toPrecision(3)), samples: xs.map(Math.round) });
}
report({ bench: BENCH, name: 'pool, 1 worker / snarkjs', value: median(oneRates) / base, unit: 'ratio' });
report({ bench: BENCH, name: `pool, ${all.threads} workers / snarkjs`, value: median(allRates) / base, unit: 'ratio', goal: 10, goal_op: '>=' });
report({ bench: BENCH, name: 'event-loop delay during the pool run, max', value: median(lagMax), unit: 'ms', goal: 20, goal_op: '<=', samples: lagMax.map((x) => Number(x.toFixed(2))) });
report({ bench: BENCH, name: 'event-loop delay during the pool run, p99', value: median(lagP99), unit: 'ms', samples: lagP99.map((x) => Number(x.toFixed(2))) });
report({ bench: BENCH, name: 'event-loop utilization during the pool run', value: median(busy), unit: 'fraction', samples: busy.map((x) => Number(x.toFixed(3))) });
report({ bench: BENCH, name: 'snarkjs, one proof: latency', value: baseLatency, unit: 'ms' });
report({ bench: BENCH, name: 'pool, one proof alone: latency', value: median(lone), unit: 'ms' });
report({ bench: BENCH, name: 'pool, one proof alone: latency / snarkjs', value: median(lone) / baseLatency, unit: 'ratio', goal: 0.6, goal_op: '<=' });
// The machine's load: figures from a shared machine are only as steady as it is.
report({ bench: BENCH, name: 'cores', value: availableParallelism(), unit: 'count', loadavg_1m: loadavg()[0], pool_stats: all.stats() });

await Promise.all([one.close(), all.close()]);
await (await snarkjs.curves.getCurveFromName('bn128')).terminate();
