/** VoteKeeper: threshold inputs are reported once, at the vote that reaches them. */
import t from 'tap';
import { PRECOMMIT, PREVOTE, type Vote, type VoteType } from '../chain/vote.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { VoteKeeper } from '../consensus/vote-keeper.ts';

const validators = new ValidatorSet([1, 2, 3, 4].map((tag) => ({ address: new Uint8Array(20).fill(tag), publicKey: new Uint8Array(32).fill(tag), power: 1 })));
const A = new Uint8Array(32).fill(0xaa);
const vote = (tag: number, type: VoteType, round: number, blockHash: Uint8Array | null, height = 7): Vote =>
  ({ type, height, round, blockHash, validator: new Uint8Array(20).fill(tag), signature: new Uint8Array(64) });

t.test('prevotes: skip at f+1, polka and polka-any at +2/3, nothing repeated', (t) => {
  const k = new VoteKeeper(validators, 7);
  t.same(k.add(vote(1, PREVOTE, 0, A)).inputs, []);
  t.same(k.add(vote(2, PREVOTE, 0, A)).inputs, [{ kind: 'round-skip', height: 7, round: 0 }]);
  t.same(k.add(vote(3, PREVOTE, 0, A)).inputs, [
    { kind: 'polka', height: 7, round: 0, blockHash: A },
    { kind: 'polka-any', height: 7, round: 0 },
  ]);
  t.same(k.add(vote(4, PREVOTE, 0, null)).inputs, []);
  t.same(k.add(vote(4, PREVOTE, 0, A)).result.kind, 'equivocation');
  t.end();
});

t.test('precommits split: precommit-any without a value; skip counts both vote types', (t) => {
  const k = new VoteKeeper(validators, 7);
  t.same(k.add(vote(1, PRECOMMIT, 2, A)).inputs, []);
  t.same(k.add(vote(2, PREVOTE, 2, null)).inputs, [{ kind: 'round-skip', height: 7, round: 2 }]);
  t.same(k.add(vote(2, PRECOMMIT, 2, null)).inputs, []);
  t.same(k.add(vote(3, PRECOMMIT, 2, null)).inputs, [{ kind: 'precommit-any', height: 7, round: 2 }]);
  t.same(k.add(vote(4, PRECOMMIT, 2, null)).inputs, [{ kind: 'precommit-quorum', height: 7, round: 2, blockHash: null }]);
  t.equal(k.add(vote(4, PRECOMMIT, 2, null, 8)).result.kind, 'rejected');
  t.end();
});
