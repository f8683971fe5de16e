/**
 * The deterministic consensus simulator (test/fixtures/simulator.ts): fixed scenarios, then many
 * seeds of random faults for 4 and 7 validators. Every run checks agreement, validity, no honest
 * double sign, evidence and progress after the faults end.
 *
 *   SIM_SEEDS=2000 npx tap -t0 test/consensus-sim.test.ts   more seeds (per network size)
 *   SIM_FIRST_SEED=5001 SIM_SEEDS=1000 ...                   another range of seeds
 *   SIM_SEED=17 SIM_NODES=4 npx tap test/consensus-sim.test.ts   replay one seed, with its full trace
 *   SIM_NODES=7                                              only one network size
 */
import t, { type Test } from 'tap';
import { ValidatorSet } from '../consensus/validators.ts';
import { addressOf } from '../chain/address.ts';
import { equalBytes } from '../chain/bytes.ts';
import {
  calmScenario, describeScenario, maxFaulty, randomScenario, simKeys, simulate, type Scenario, type SimOptions, type SimResult,
} from './fixtures/simulator.ts';

const DEFAULT_SEEDS: Record<number, number> = { 4: 150, 7: 75 };
const SIZES = process.env.SIM_NODES !== undefined ? [Number(process.env.SIM_NODES)] : [4, 7];
const ONE_SEED = process.env.SIM_SEED !== undefined ? Number(process.env.SIM_SEED) : null;
const SEEDS = process.env.SIM_SEEDS !== undefined ? Number(process.env.SIM_SEEDS) : null;
const FIRST_SEED = Number(process.env.SIM_FIRST_SEED ?? 1);

function replayHint(r: SimResult): string {
  const s = r.scenario;
  return [
    `simulation failed: ${r.failure}`,
    `replay with SIM_SEED=${s.seed} SIM_NODES=${s.nodes} npx tap test/consensus-sim.test.ts`,
    `scenario: ${describeScenario(s)}`,
    ...r.trace.map((l) => '  ' + l),
  ].join('\n');
}

/** Runs a scenario and fails the test with the replay line and trace if any property broke. */
async function run(t: Test, s: Scenario, opts: SimOptions = {}): Promise<SimResult> {
  const r = await simulate(s, opts);
  if (r.failure !== null) t.fail(replayHint(r));
  return r;
}

/** The node index of the proposer of (height, round) in an n-node simulation. */
function proposerNode(nodes: number, height: number, round: number): number {
  const keys = simKeys(nodes);
  const set = new ValidatorSet(keys.map((k) => ({ address: addressOf(k.publicKey), publicKey: k.publicKey, power: 1 })));
  const p = set.proposer(height, round);
  return keys.findIndex((k) => equalBytes(addressOf(k.publicKey), p.address));
}

if (ONE_SEED !== null) {
  t.test(`replay of seed ${ONE_SEED}`, async (t) => {
    for (const nodes of SIZES) {
      const r = await simulate(randomScenario(ONE_SEED, nodes), { traceLines: 2000, traceSigned: true, driverLog: 'info' });
      t.comment(`scenario: ${describeScenario(r.scenario)}`);
      if (r.failure !== null) t.fail(replayHint(r));
      else t.pass(`${nodes} nodes: every property held; ${r.committed.map((c) => c.length).join('/')} heights, ${r.evidence} evidence, ${r.virtualMs} virtual ms`);
    }
  });
} else {
  t.test('all honest on a calm network: every node commits the same blocks, each in round 0', async (t) => {
    for (const nodes of [4, 7]) {
      const r = await run(t, calmScenario(1, nodes, { heights: 8, progressAfterHeal: 0 }));
      for (const [i, c] of r.committed.entries()) t.ok(c.length >= 8, `${nodes} nodes: n${i} committed ${c.length} heights`);
      const first = r.committed[0]!.slice(0, 8).map((b) => b.hash);
      for (const c of r.committed) t.same(c.slice(0, 8).map((b) => b.hash), first);
      t.equal(r.maxDecisionRound, 0, `${nodes} nodes: no height needed a second round`);
    }
  });

  t.test('the round-0 proposer is down: height 1 is decided in a later round, and it catches up', async (t) => {
    const down = proposerNode(4, 1, 0);
    const r = await run(t, calmScenario(2, 4, { crashes: [{ node: down, atMs: 0, restartMs: 3000 }], faultEndMs: 3000, heights: 3 }));
    const others = r.committed.filter((_, i) => i !== down);
    for (const c of others) t.ok(c[0]!.round >= 1 && c[0]!.atMs < 3000, `height 1 decided in round ${c[0]!.round} while n${down} was down`);
    t.ok(r.committed[down]!.length >= 3, `n${down} caught up to ${r.committed[down]!.length} heights after restarting`);
  });

  t.test('a 2/2 partition halts without a fork, then heals and continues', async (t) => {
    const partition = { fromMs: 300, toMs: 3000, groups: [[0, 1], [2, 3]] };
    const r = await run(t, calmScenario(3, 4, { partitions: [partition], faultEndMs: 3000, heights: 2, progressAfterHeal: 3 }));
    const during = r.committed.flat().filter((b) => b.atMs >= partition.fromMs + 100 && b.atMs < partition.toMs);
    t.same(during, [], 'nothing is committed while neither side has +2/3');
    const before = Math.max(...r.committed.map((c) => c.filter((b) => b.atMs < partition.toMs).length));
    for (const [i, c] of r.committed.entries()) t.ok(c.length >= before + 3, `n${i} committed ${c.length - before} heights after the heal`);
  });

  t.test('nodes crash mid-height and restart from their WAL and guard state', async (t) => {
    const crashes = [
      { node: 0, atMs: 130, restartMs: 400 }, { node: 1, atMs: 455, restartMs: 700 },
      { node: 2, atMs: 720, restartMs: 721 }, { node: 3, atMs: 1000, restartMs: 1600 },
    ];
    const r = await run(t, calmScenario(4, 4, { crashes, faultEndMs: 1600, heights: 6 }));
    for (const [i, c] of r.committed.entries()) t.ok(c.length >= 6, `n${i} committed ${c.length} heights`);
  });

  t.test('one equivocator (the first proposer): honest nodes agree and report evidence against it', async (t) => {
    for (const nodes of [4, 7]) {
      const liars = [proposerNode(nodes, 1, 0), proposerNode(nodes, 2, 0)].slice(0, maxFaulty(nodes));
      const byzantine = [...new Set(liars)].map((node) => ({ node, behaviour: 'equivocate' as const }));
      const r = await run(t, calmScenario(5, nodes, { byzantine, heights: 6, equivocationRate: 1 }));
      t.ok(r.evidence > 0, `${nodes} nodes, equivocators ${byzantine.map((b) => `n${b.node}`).join(',')}: ${r.evidence} evidence reports`);
      t.ok(r.conflictingDeliveries > 0, 'some honest node was handed both of a conflicting pair at once');
    }
  });

  t.test('an equivocating proposer splits its two proposals: every honest node decides from consensus messages alone', async (t) => {
    // Height 2, so every node is up when the proposals go out. Block sync is off: a node shown the
    // other proposal first must take the decided one from gossip (L36, L49 hold for any proposal of
    // the round), or it never decides and the run fails for want of progress.
    for (const nodes of [4, 7]) {
      const height = 2;
      const liar = proposerNode(nodes, height, 0);
      const lines: string[] = [];
      const s = calmScenario(3, nodes, { byzantine: [{ node: liar, behaviour: 'equivocate' }], heights: height + 1, equivocationRate: 1 });
      const r = await run(t, s, { blockSync: false, traceSigned: true, onTrace: (l) => lines.push(l) });
      t.equal(r.blockSyncs, 0, `${nodes} nodes: no block sync`);
      t.ok(lines.some((l) => l.endsWith(`n${liar} equivocates: two proposals at h${height} r0`)), `${nodes} nodes: n${liar} sent two proposals at h${height} r0`);
      const honest = r.committed.filter((_, i) => i !== liar);
      const decided = honest[0]?.[height - 1]?.hash;
      t.ok(decided !== undefined, `${nodes} nodes: h${height} decided`);
      for (const [i, c] of r.committed.entries()) {
        if (i === liar) continue;
        t.same({ hash: c[height - 1]?.hash, round: c[height - 1]?.round }, { hash: decided, round: 0 }, `${nodes} nodes: n${i} decided h${height} in round 0, the same block`);
      }
      // The split is real: an honest node prevoted the other proposal, the one it was shown first.
      const shownOther = lines.filter((l) => {
        const m = / n(\d+) prevotes h(\d+) r0 ([0-9a-f]+)$/.exec(l);
        return m !== null && Number(m[1]) !== liar && Number(m[2]) === height && !decided!.startsWith(m[3]!);
      });
      t.ok(shownOther.length > 0, `${nodes} nodes: some honest node was shown the other proposal first (${shownOther.map((l) => l.split(' ')[1]).join(',')}) and still decided`);
    }
  });

  t.test('a lying proposer: blocks too big, with too many transactions or too much gas, or timed in the future or the past are never voted for or applied, and the rest keep deciding', async (t) => {
    for (const nodes of [4, 7]) {
      // The proposer of height 1, round 0 lies at every turn; at least one turn of each kind.
      const liar = proposerNode(nodes, 1, 0);
      const lines: string[] = [];
      const s = calmScenario(8, nodes, { byzantine: [{ node: liar, behaviour: 'lie' }], heights: 12 * nodes, progressAfterHeal: 0 });
      const r = await run(t, s, { onTrace: (l) => lines.push(l) });
      const kinds = new Set(lines.flatMap((l) => /lies: proposes a block with (.+) at h/.exec(l)?.[1] ?? []));
      t.same([...kinds].sort(), ['future time', 'oversized', 'past time', 'too many txs', 'too much gas'], `${nodes} nodes: every kind of lie was told (${r.invalidProposals} invalid proposals)`);
      for (const [i, c] of r.committed.entries()) if (i !== liar) t.ok(c.length >= 12 * nodes, `${nodes} nodes: n${i} committed ${c.length} heights`);
      t.ok(r.maxDecisionRound >= 1, 'the liar\'s heights were decided in a later round');
    }
  });

  t.test('skewed clocks (one validator +10 s, one -10 s) and a proposer lying about time: the chain keeps deciding', async (t) => {
    const nodes = 4;
    const heights = 40;
    const liar = proposerNode(nodes, 1, 0);
    const [ahead, behind] = [0, 1, 2, 3].filter((i) => i !== liar);
    const base = await run(t, calmScenario(9, nodes, { heights, progressAfterHeal: 0 }));
    const skewed = await run(t, calmScenario(9, nodes, {
      heights, progressAfterHeal: 0, byzantine: [{ node: liar, behaviour: 'lie' }],
      clockSkews: [{ node: ahead!, ms: 10_000 }, { node: behind!, ms: -10_000 }],
    }));
    const perMinute = (r: SimResult) => Math.round((Math.min(...r.committed.map((c) => c.length)) * 60_000) / r.virtualMs);
    t.comment(`heights per virtual minute: ${perMinute(base)} with synchronised clocks, ${perMinute(skewed)} with n${ahead} +10 s, n${behind} -10 s and n${liar} lying`);
    for (const [i, c] of skewed.committed.entries()) if (i !== liar) t.ok(c.length >= heights, `n${i} committed ${c.length} heights`);
    t.ok(skewed.invalidProposals > 0, 'the liar was refused');
    t.ok(perMinute(skewed) > 0 && perMinute(skewed) <= perMinute(base), 'slower than synchronised clocks, but deciding');
  });

  t.test('f silent validators: the rest still decide every height', async (t) => {
    const byzantine = [{ node: proposerNode(7, 1, 0), behaviour: 'silent' as const }, { node: proposerNode(7, 2, 0), behaviour: 'silent' as const }];
    const r = await run(t, calmScenario(6, 7, { byzantine, heights: 5 }));
    for (const [i, c] of r.committed.entries()) if (!byzantine.some((b) => b.node === i)) t.ok(c.length >= 5, `n${i} committed ${c.length} heights`);
  });

  t.test('the checker fails a run: two of four nodes down past the liveness bound', async (t) => {
    const crashes = [{ node: 0, atMs: 200, restartMs: 1e9 }, { node: 1, atMs: 200, restartMs: 1e9 }];
    const r = await simulate(calmScenario(7, 4, { crashes, faultEndMs: 300, livenessBoundMs: 5000 }));
    t.match(r.failure, /no progress/, 'no progress is reported');
    t.ok(r.trace.some((l) => l.includes('FAILED')), 'the trace ends with the failure');
  });

  t.test('a seed replays the same run', async (t) => {
    for (const nodes of [4, 7]) {
      const seed = 12;
      const a = await simulate(randomScenario(seed, nodes));
      const b = await simulate(randomScenario(seed, nodes));
      t.equal(a.failure, null);
      t.equal(a.fingerprint, b.fingerprint, `${nodes} nodes: the same commits at the same virtual times`);
      t.same(a.trace, b.trace);
      t.equal(a.events, b.events);
      const c = await simulate(randomScenario(seed + 1, nodes));
      t.not(c.fingerprint, a.fingerprint, 'another seed gives another run');
    }
  });

  for (const nodes of SIZES) {
    const count = SEEDS ?? DEFAULT_SEEDS[nodes] ?? 50;
    t.test(`${count} random seeds from ${FIRST_SEED}, ${nodes} nodes (f = ${maxFaulty(nodes)})`, async (t) => {
      const totals = {
        heights: 0, evidence: 0, runsWithEvidence: 0, blockSyncs: 0, honestBlockSyncs: 0, crashes: 0, partitions: 0, byzantine: 0, liars: 0, invalidProposals: 0, failed: 0,
      };
      for (let seed = FIRST_SEED; seed < FIRST_SEED + count; seed++) {
        const s = randomScenario(seed, nodes);
        const r = await simulate(s);
        if (r.failure !== null) {
          totals.failed++;
          t.fail(replayHint(r));
          continue;
        }
        totals.heights += Math.min(...r.committed.filter((_, i) => !s.byzantine.some((b) => b.node === i)).map((c) => c.length));
        totals.evidence += r.evidence;
        if (r.evidence > 0) totals.runsWithEvidence++;
        totals.blockSyncs += r.blockSyncs;
        totals.honestBlockSyncs += r.honestBlockSyncs;
        totals.crashes += s.crashes.length;
        totals.partitions += s.partitions.length;
        totals.byzantine += s.byzantine.length;
        totals.liars += s.byzantine.filter((b) => b.behaviour === 'lie').length;
        totals.invalidProposals += r.invalidProposals;
      }
      t.equal(totals.failed, 0, `${count} seeds: ${JSON.stringify(totals)}`);
      // Only an equivocator's own driver, which never holds the proposal it signed behind its back,
      // should need the block-sync stand-in; an honest node decides from consensus messages.
      t.equal(totals.honestBlockSyncs, 0, 'no honest node needed block sync');
      if (count >= 50) {
        // The seeds must actually exercise the faults, or passing them says little.
        t.ok(totals.crashes > 0 && totals.partitions > 0 && totals.byzantine > 0, 'crashes, partitions and byzantine validators all occurred');
        t.ok(totals.runsWithEvidence > 0, 'some runs reported equivocation evidence');
        // Every run checks that no honest node voted for or applied one of them (simulator.ts).
        t.ok(totals.invalidProposals > 0, `liars proposed ${totals.invalidProposals} invalid blocks, none voted for or applied by an honest node`);
      }
    });
  }
}
