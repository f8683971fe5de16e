/** ValidatorSet: canonical order, quorum arithmetic, and CometBFT proposer rotation. */
import t from 'tap';
import { toHex } from '../chain/bytes.ts';
import { ValidatorSet, type Validator } from '../consensus/validators.ts';

function validator(tag: number, power: number): Validator {
  return { address: new Uint8Array(20).fill(tag), publicKey: new Uint8Array(32).fill(tag), power };
}

t.test('sorts by address, totals power, looks up by address', (t) => {
  const set = new ValidatorSet([validator(3, 30), validator(1, 10), validator(2, 20)]);
  t.same(set.validators.map((v) => v.power), [10, 20, 30]);
  t.equal(set.totalPower, 60);
  t.equal(set.byAddress(new Uint8Array(20).fill(2))?.power, 20);
  t.equal(set.byAddress(new Uint8Array(20).fill(9)), undefined);
  t.equal(set.indexOf(new Uint8Array(20).fill(3)), 2);
  t.end();
});

t.test('rejects bad input with a reason', (t) => {
  t.throws(() => new ValidatorSet([]), /empty/);
  t.throws(() => new ValidatorSet([validator(1, 0)]), /power/);
  t.throws(() => new ValidatorSet([validator(1, 1.5)]), /power/);
  t.throws(() => new ValidatorSet([validator(1, 1), validator(1, 2)]), /duplicate/);
  t.throws(() => new ValidatorSet([{ ...validator(1, 1), address: new Uint8Array(19) }]), /address/);
  t.end();
});

t.test('quorum is strictly more than 2/3, one-third strictly more than 1/3', (t) => {
  const cases: [total: number[], quorum: number][] = [
    [[1, 1, 1], 3],
    [[1, 1, 1, 1], 3],
    [[1, 1, 1, 1, 1, 1], 5],
    [[10, 20, 30], 41],
    [[100], 67],
  ];
  for (const [powers, quorum] of cases) {
    const set = new ValidatorSet(powers.map((p, i) => validator(i + 1, p)));
    t.equal(set.quorumPower, quorum, `quorum of ${powers}`);
    t.ok(set.isQuorum(quorum));
    t.notOk(set.isQuorum(quorum - 1));
  }
  const four = new ValidatorSet([1, 2, 3, 4].map((i) => validator(i, 1)));
  t.notOk(four.isOneThird(1));
  t.ok(four.isOneThird(2));
  // Exact at huge powers, where floats would round.
  const big = new ValidatorSet([validator(1, 3 * 2 ** 47 + 1), validator(2, 2 ** 47)]);
  t.ok(big.isQuorum(3 * 2 ** 47));
  t.notOk(new ValidatorSet([validator(1, 2 * 2 ** 47), validator(2, 2 ** 47)]).isQuorum(2 * 2 ** 47));
  t.end();
});

t.test('equal powers rotate round-robin in address order, across heights and rounds', (t) => {
  const set = new ValidatorSet([4, 2, 3, 1].map((i) => validator(i, 7)));
  const byHeight = [1, 2, 3, 4, 5, 6, 7, 8].map((h) => set.proposer(h, 0).address[0]);
  t.same(byHeight, [1, 2, 3, 4, 1, 2, 3, 4]);
  const byRound = [0, 1, 2, 3, 4].map((r) => set.proposer(1, r).address[0]);
  t.same(byRound, [1, 2, 3, 4, 1]);
  t.equal(set.proposer(3, 1).address[0], 4);
  t.end();
});

t.test('powers 1, 2, 3: each proposes exactly in proportion to power over full cycles', (t) => {
  const set = new ValidatorSet([validator(1, 1), validator(2, 2), validator(3, 3)]);
  for (let start = 1; start <= 12; start += 6) {
    const counts = new Map<number, number>();
    for (let h = start; h < start + 6; h++) {
      const tag = set.proposer(h, 0).address[0]!;
      counts.set(tag, (counts.get(tag) ?? 0) + 1);
    }
    t.same([counts.get(1), counts.get(2), counts.get(3)], [1, 2, 3], `cycle starting at height ${start}`);
  }
  const counts = new Map<number, number>();
  for (let r = 0; r < 600; r++) {
    const tag = set.proposer(5, r).address[0]!;
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  t.same([counts.get(1), counts.get(2), counts.get(3)], [100, 200, 300], 'rounds of one height');
  t.end();
});

t.test('deterministic: independent sets, any query order, agree', (t) => {
  const make = () => new ValidatorSet([validator(9, 5), validator(4, 1), validator(7, 13), validator(2, 2)], 10);
  const a = make();
  const b = make();
  const forward: string[] = [];
  for (let h = 10; h < 60; h++) for (let r = 0; r < 3; r++) forward.push(toHex(a.proposer(h, r).address));
  const backward: string[] = [];
  for (let h = 59; h >= 10; h--) for (let r = 2; r >= 0; r--) backward.push(toHex(b.proposer(h, r).address));
  t.same(backward.reverse(), forward);
  t.same(toHex(a.proposer(30, 1).address), forward[(30 - 10) * 3 + 1]);
  t.throws(() => a.proposer(9, 0), /height/);
  t.throws(() => a.proposer(10, -1), /round/);
  t.end();
});

t.test('very unequal powers: the small validator still gets its share', (t) => {
  const set = new ValidatorSet([validator(1, 1), validator(2, 1_000)]);
  let small = 0;
  for (let h = 1; h <= 3_003; h++) if (set.proposer(h, 0).address[0] === 1) small++;
  t.equal(small, 3);
  t.end();
});
