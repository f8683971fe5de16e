/** VoteSet: counting, duplicates, equivocation evidence and thresholds, as tables. */
import t from 'tap';
import { PRECOMMIT, PREVOTE, type Vote } from '../chain/vote.ts';
import { ValidatorSet, type Validator } from '../consensus/validators.ts';
import { VoteSet } from '../consensus/vote-set.ts';

function validator(tag: number, power: number): Validator {
  return { address: new Uint8Array(20).fill(tag), publicKey: new Uint8Array(32).fill(tag), power };
}
const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);

function vote(tag: number, blockHash: Uint8Array | null, over: Partial<Vote> = {}): Vote {
  return { type: PREVOTE, height: 5, round: 2, blockHash, validator: new Uint8Array(20).fill(tag), signature: new Uint8Array(64).fill(tag), ...over };
}

// Four validators of power 1: quorum 3, f + 1 = 2.
const four = new ValidatorSet([1, 2, 3, 4].map((i) => validator(i, 1)));
// Powers 1, 2, 3 (total 6): quorum 5, one third needs 3.
const weighted = new ValidatorSet([validator(1, 1), validator(2, 2), validator(3, 3)]);

interface Row {
  name: string;
  set: ValidatorSet;
  votes: Vote[];
  quorumValue: Uint8Array | null | undefined;
  quorumAny: boolean;
  oneThird: boolean;
  power: [Uint8Array | null, number][];
}

const rows: Row[] = [
  { name: 'empty', set: four, votes: [], quorumValue: undefined, quorumAny: false, oneThird: false, power: [[A, 0], [null, 0]] },
  { name: 'one vote is not f+1', set: four, votes: [vote(1, A)], quorumValue: undefined, quorumAny: false, oneThird: false, power: [[A, 1]] },
  { name: 'two split votes are f+1', set: four, votes: [vote(1, A), vote(2, null)], quorumValue: undefined, quorumAny: false, oneThird: true, power: [[A, 1], [null, 1]] },
  { name: 'three split votes: quorum any, no value', set: four, votes: [vote(1, A), vote(2, B), vote(3, null)], quorumValue: undefined, quorumAny: true, oneThird: true, power: [[A, 1], [B, 1], [null, 1]] },
  { name: 'three for A: polka for A', set: four, votes: [vote(1, A), vote(2, A), vote(3, A)], quorumValue: A, quorumAny: true, oneThird: true, power: [[A, 3]] },
  { name: 'three for nil: polka for nil', set: four, votes: [vote(1, null), vote(2, null), vote(4, null)], quorumValue: null, quorumAny: true, oneThird: true, power: [[null, 3], [A, 0]] },
  { name: 'weighted: 2+3 for A is a quorum', set: weighted, votes: [vote(2, A), vote(3, A)], quorumValue: A, quorumAny: true, oneThird: true, power: [[A, 5]] },
  { name: 'weighted: 1+3 is not', set: weighted, votes: [vote(1, A), vote(3, A)], quorumValue: undefined, quorumAny: false, oneThird: true, power: [[A, 4]] },
  { name: 'weighted: power 2 alone is not f+1', set: weighted, votes: [vote(2, B)], quorumValue: undefined, quorumAny: false, oneThird: false, power: [[B, 2]] },
  { name: 'exact duplicates count once', set: four, votes: [vote(1, A), vote(1, A), vote(1, A), vote(2, A)], quorumValue: undefined, quorumAny: false, oneThird: true, power: [[A, 2]] },
  { name: 'an equivocating second vote is not counted', set: four, votes: [vote(1, A), vote(2, A), vote(2, B), vote(3, B)], quorumValue: undefined, quorumAny: true, oneThird: true, power: [[A, 2], [B, 1]] },
];

for (const row of rows) {
  t.test(row.name, (t) => {
    const set = new VoteSet(row.set, 5, 2, PREVOTE);
    for (const v of row.votes) set.add(v);
    t.same(set.quorumValue(), row.quorumValue, 'quorum value');
    t.equal(set.hasQuorumAny(), row.quorumAny, 'quorum any');
    t.equal(set.hasOneThirdAny(), row.oneThird, 'f+1');
    for (const [hash, power] of row.power) t.equal(set.powerFor(hash), power, `power for ${hash === null ? 'nil' : hash[0]}`);
    if (row.quorumValue !== undefined) t.ok(set.hasQuorumFor(row.quorumValue));
    t.end();
  });
}

t.test('add reports added, duplicate, equivocation with both votes, rejected', (t) => {
  const set = new VoteSet(four, 5, 2, PRECOMMIT);
  const first = vote(1, A, { type: PRECOMMIT });
  t.same(set.add(first), { kind: 'added' });
  t.same(set.add({ ...first }), { kind: 'duplicate' });
  const second = vote(1, null, { type: PRECOMMIT });
  t.same(set.add(second), { kind: 'equivocation', evidence: { first, second } });
  t.equal(set.evidence.length, 1);
  t.equal(set.powerFor(null), 0, 'the conflicting nil vote is not counted');
  t.equal(set.add(vote(2, A)).kind, 'rejected', 'a prevote in a precommit set');
  t.equal(set.add(vote(2, A, { type: PRECOMMIT, round: 3 })).kind, 'rejected', 'another round');
  t.equal(set.add(vote(2, A, { type: PRECOMMIT, height: 6 })).kind, 'rejected', 'another height');
  t.match(set.add(vote(9, A, { type: PRECOMMIT })), { kind: 'rejected', reason: /not a validator/ });
  t.same(set.add(vote(3, B, { type: PRECOMMIT })), { kind: 'added' });
  t.same(set.votes().map((v) => v.validator[0]), [1, 3], 'counted votes in canonical order');
  t.equal(set.votedPower, 2);
  t.end();
});
