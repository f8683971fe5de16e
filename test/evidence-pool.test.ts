/**
 * The evidence pool: deduplication, one item per offender and height, the count and byte caps,
 * expiry by height and by time (on a clock the test moves), what the proposer gets, and what a
 * committed block removes. The evidence is real: votes signed by test validators.
 */
import t from 'tap';
import { encodeEvidence, evidenceHash, type DuplicateVoteEvidence } from '../chain/evidence.ts';
import { PRECOMMIT, PREVOTE, type VoteType } from '../chain/vote.ts';
import { EVIDENCE_POOL_MAX_AGE_MS, EvidencePool } from '../consensus/evidence-pool.ts';
import { signVote, testValidators } from './fixtures/chain.ts';

const CHAIN_ID = 'hallmark-evidence-pool';
const VALS = testValidators(8);

/** Validator i's two votes for (height, round, type), for values a and b. */
function equivocation(i: number, height: number, opts: { round?: number; type?: VoteType; a?: number; b?: number } = {}): DuplicateVoteEvidence {
  const v = { type: opts.type ?? PREVOTE, height, round: opts.round ?? 0 };
  return {
    first: signVote(CHAIN_ID, VALS.keys[i]!, { ...v, blockHash: new Uint8Array(32).fill(opts.a ?? 1) }),
    second: signVote(CHAIN_ID, VALS.keys[i]!, { ...v, blockHash: new Uint8Array(32).fill(opts.b ?? 2) }),
  };
}

function pool(opts: { maxAgeHeights?: number; maxItems?: number; maxBytes?: number; maxAgeMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const p = new EvidencePool({ maxAgeHeights: opts.maxAgeHeights ?? 100, now: () => clock.now, ...opts });
  return { p, clock };
}

const ids = (list: DuplicateVoteEvidence[]) => list.map((e) => Buffer.from(evidenceHash(e)).toString('hex'));

t.test('the same evidence twice, in either vote order, is held once', async (t) => {
  const { p } = pool();
  const ev = equivocation(0, 5);
  t.equal(p.add(ev, 6), 'added');
  t.equal(p.add({ first: ev.second, second: ev.first }, 6), 'duplicate');
  t.equal(p.size, 1);
  t.equal(p.bytes, encodeEvidence(ev).length, 'bytes are the encoded size');
  t.equal(p.dropped.duplicate, 1);
});

t.test('one item per validator and height: more pairs from the same offender are redundant', async (t) => {
  const { p } = pool();
  t.equal(p.add(equivocation(0, 5, { round: 0 }), 6), 'added');
  t.equal(p.add(equivocation(0, 5, { round: 3, type: PRECOMMIT }), 6), 'redundant', 'another round and type, same offence');
  t.equal(p.add(equivocation(0, 5, { a: 7, b: 9 }), 6), 'redundant', 'other values');
  t.equal(p.add(equivocation(0, 4), 6), 'added', 'the same validator at another height');
  t.equal(p.add(equivocation(1, 5), 6), 'added', 'another validator at the same height');
  t.equal(p.size, 3);
  t.equal(p.dropped.redundant, 2);
  // Once the first is committed, a later pair of that offence is taken (a block needs one).
  p.committed([equivocation(0, 5, { round: 0 })]);
  t.equal(p.add(equivocation(0, 5, { round: 3, type: PRECOMMIT }), 6), 'added');
});

t.test('the count cap refuses new evidence and keeps the old', async (t) => {
  const { p } = pool({ maxItems: 3 });
  for (let i = 0; i < 3; i++) t.equal(p.add(equivocation(i, 5), 6), 'added');
  t.equal(p.add(equivocation(3, 5), 6), 'full');
  t.equal(p.size, 3);
  t.equal(p.dropped.full, 1);
  t.same(ids(p.list()), ids([0, 1, 2].map((i) => equivocation(i, 5))), 'the first three are kept');
  p.committed([equivocation(1, 5)]);
  t.equal(p.add(equivocation(3, 5), 6), 'added', 'room again once one is committed');
});

t.test('the byte cap refuses evidence that would not fit', async (t) => {
  const size = encodeEvidence(equivocation(0, 5)).length;
  const { p } = pool({ maxBytes: 2 * size + size - 1 });
  t.equal(p.add(equivocation(0, 5), 6), 'added');
  t.equal(p.add(equivocation(1, 5), 6), 'added');
  t.equal(p.add(equivocation(2, 5), 6), 'full', 'a third would be one byte over');
  t.equal(p.bytes, 2 * size);
  p.committed([equivocation(0, 5)]);
  t.equal(p.bytes, size, 'bytes go down with what leaves');
  t.equal(p.add(equivocation(2, 5), 6), 'added');
});

t.test('by height: refused when already too old for the next block, and expired as the chain grows', async (t) => {
  const { p } = pool({ maxAgeHeights: 10 });
  t.equal(p.add(equivocation(0, 5), 16), 'too_old', 'a block at 16 may carry heights 6 and above');
  t.equal(p.add(equivocation(1, 6), 16), 'added', 'height 6 is exactly at the limit');
  t.equal(p.add(equivocation(2, 10), 16), 'added');
  t.equal(p.add(equivocation(3, 0), 16), 'too_old', 'no block carries height 0');
  p.expire(17);
  t.same(ids(p.list()), ids([equivocation(2, 10)]), 'at 17 height 6 is too old');
  t.same(p.reap(21, 16).length, 0, 'nor does the proposer of 21 get height 10');
  t.equal(p.size, 0, 'reap expired it');
  t.equal(p.dropped.too_old, 4);
});

t.test('by time: expired maxAgeMs after the pool took it, on the clock passed in', async (t) => {
  const { p, clock } = pool({ maxAgeMs: 60_000 });
  t.equal(p.add(equivocation(0, 5), 6), 'added');
  clock.now += 30_000;
  t.equal(p.add(equivocation(1, 5), 6), 'added');
  clock.now += 30_000;
  p.expire(6);
  t.equal(p.size, 2, 'exactly maxAgeMs old is still held');
  clock.now += 1;
  p.expire(6);
  t.same(ids(p.list()), ids([equivocation(1, 5)]), 'the older item expired, the younger stays');
  clock.now += 30_000;
  t.same(p.reap(6, 16), [], 'expired on reap too');
  t.equal(p.dropped.expired, 2);
  t.equal(EVIDENCE_POOL_MAX_AGE_MS, 48 * 3_600_000, 'the default is 48 hours, as CometBFT');
});

t.test('the proposer gets at most the per-block cap, oldest offences first, never of its own height', async (t) => {
  const { p } = pool();
  // Arrival order differs from height order.
  p.add(equivocation(0, 9), 10);
  p.add(equivocation(1, 7), 10);
  p.add(equivocation(2, 10), 10);
  p.add(equivocation(3, 7), 10);
  p.add(equivocation(4, 8), 10);
  t.same(ids(p.reap(10, 16)), ids([equivocation(1, 7), equivocation(3, 7), equivocation(4, 8), equivocation(0, 9)]),
    'heights 7, 7, 8, 9 (ties in arrival order); height 10 waits for block 11');
  t.same(ids(p.reap(10, 2)), ids([equivocation(1, 7), equivocation(3, 7)]), 'capped');
  t.equal(p.size, 5, 'reaping takes nothing out');
  t.same(ids(p.reap(11, 16)).at(-1), ids([equivocation(2, 10)])[0], 'block 11 may carry height 10');
});

t.test('a committed block removes what it carried; dropCommitted counts evidence found already committed', async (t) => {
  const { p } = pool();
  p.add(equivocation(0, 5), 6);
  p.add(equivocation(1, 5), 6);
  p.committed([equivocation(0, 5), equivocation(5, 5)]);
  t.same(ids(p.list()), ids([equivocation(1, 5)]), 'only the carried one left; unknown evidence is ignored');
  t.equal(p.dropped.committed, 0, 'being committed is not a drop');
  p.dropCommitted(evidenceHash(equivocation(1, 5)));
  p.dropCommitted(evidenceHash(equivocation(1, 5)));
  t.equal(p.size, 0);
  t.equal(p.dropped.committed, 1, 'counted once');
});

t.test('a flood from one offender stays one item, in constant memory', async (t) => {
  const { p } = pool();
  for (let round = 0; round < 500; round++) p.add(equivocation(0, 5, { round, a: round % 250, b: 255 }), 6);
  t.equal(p.size, 1);
  t.equal(p.dropped.redundant, 499);
});

t.test('bad options are refused with the field named', async (t) => {
  t.throws(() => new EvidencePool({ maxAgeHeights: 0, now: () => 0 }), /maxAgeHeights: expected a positive integer/);
  t.throws(() => new EvidencePool({ maxAgeHeights: 10, now: () => 0, maxItems: 1.5 }), /maxItems/);
  t.throws(() => new EvidencePool({ maxAgeHeights: 10, now: undefined as unknown as () => number }), /now: expected a function/);
});
