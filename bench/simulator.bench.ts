/**
 * The deterministic consensus simulator (test/fixtures/simulator.ts): simulated heights per second
 * of wall time, for 4 and 7 honest validators on a calm network (the baseline) and under the random
 * faults of the CI seeds (crashes, partitions, lossy links, byzantine validators). Real ed25519
 * signing and verification dominate. `npx node bench/simulator.bench.ts`
 */
import { rate, report } from './harness.ts';
import { calmScenario, randomScenario, simulate, type Scenario } from '../test/fixtures/simulator.ts';

const BENCH = 'simulator';
const MS = 3000;
const CALM_HEIGHTS = 20;

/** One simulated run; counts the heights every honest node committed. */
async function heights(s: Scenario): Promise<number> {
  const r = await simulate(s);
  if (r.failure !== null) throw new Error(`seed ${s.seed}, ${s.nodes} nodes failed: ${r.failure}`);
  const honest = r.committed.filter((_, i) => !s.byzantine.some((b) => b.node === i));
  return Math.min(...honest.map((c) => c.length));
}

let seed = 1;
const cases: [string, () => Promise<number>][] = [
  ['4 honest validators, calm network', () => heights(calmScenario(seed++, 4, { heights: CALM_HEIGHTS, progressAfterHeal: 0 }))],
  ['7 honest validators, calm network', () => heights(calmScenario(seed++, 7, { heights: CALM_HEIGHTS, progressAfterHeal: 0 }))],
  ['4 validators, random faults (CI seeds)', () => heights(randomScenario(seed++, 4))],
  ['7 validators, random faults (CI seeds)', () => heights(randomScenario(seed++, 7))],
];

const results = new Map<string, number>();
for (const [name, op] of cases) {
  seed = 1; // the same seeds on every run of the bench
  const value = await rate(op, MS);
  results.set(name, value);
  report({ bench: BENCH, name, value, unit: 'heights/s' });
}
for (const nodes of [4, 7]) {
  const calm = results.get(`${nodes} honest validators, calm network`)!;
  const faulty = results.get(`${nodes} validators, random faults (CI seeds)`)!;
  report({ bench: BENCH, name: `${nodes} validators, random faults / calm`, value: faulty / calm, unit: 'ratio' });
}
