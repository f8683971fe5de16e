/**
 * The Tendermint state machine, as tables of steps {input, expected effects, expected state}.
 * Four validators of power 1 (tags 1-4); at height 1 the proposer of round r is tag (r mod 4) + 1.
 * Scenario names follow the paper's cases.
 */
import t, { type Test } from 'tap';
import { PRECOMMIT, PREVOTE } from '../chain/vote.ts';
import {
  initialState, MAX_PROPOSALS_PER_ROUND, step, type ConsensusState, type Effect, type EngineConfig, type Input, type TimeoutKind,
} from '../consensus/state-machine.ts';
import { ValidatorSet } from '../consensus/validators.ts';

const validators = new ValidatorSet([1, 2, 3, 4].map((tag) => ({ address: new Uint8Array(20).fill(tag), publicKey: new Uint8Array(32).fill(tag), power: 1 })));
const timeouts = { propose: { baseMs: 3000, deltaMs: 500 }, prevote: { baseMs: 1000, deltaMs: 500 }, precommit: { baseMs: 1000, deltaMs: 500 } };
const config = (tag: number): EngineConfig => ({ self: new Uint8Array(20).fill(tag), validators, timeouts });

const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);
/** More values an equivocating proposer may sign, to fill the per-round bound. */
const other = (i: number): Uint8Array => new Uint8Array(32).fill(0xc0 + i);
const H = 1;

// Inputs
const start = (height = H): Input => ({ kind: 'start-height', height });
const proposal = (round: number, blockHash: Uint8Array, validRound = -1, valid = true): Input => ({ kind: 'proposal', height: H, round, blockHash, validRound, valid });
const polka = (round: number, blockHash: Uint8Array | null): Input => ({ kind: 'polka', height: H, round, blockHash });
const polkaAny = (round: number): Input => ({ kind: 'polka-any', height: H, round });
const commitQuorum = (round: number, blockHash: Uint8Array | null): Input => ({ kind: 'precommit-quorum', height: H, round, blockHash });
const precommitAny = (round: number): Input => ({ kind: 'precommit-any', height: H, round });
const skip = (round: number, height = H): Input => ({ kind: 'round-skip', height, round });
const timeout = (kind: TimeoutKind, round: number, height = H): Input => ({ kind: 'timeout', timeout: kind, height, round });
const valueReady = (round: number, blockHash: Uint8Array): Input => ({ kind: 'value-ready', height: H, round, blockHash });

// Effects
const prevote = (round: number, blockHash: Uint8Array | null): Effect => ({ kind: 'broadcast-vote', type: PREVOTE, height: H, round, blockHash });
const precommit = (round: number, blockHash: Uint8Array | null): Effect => ({ kind: 'broadcast-vote', type: PRECOMMIT, height: H, round, blockHash });
const schedule = (kind: TimeoutKind, round: number): Effect => ({ kind: 'schedule-timeout', timeout: kind, height: H, round, durationMs: timeouts[kind].baseMs + round * timeouts[kind].deltaMs });
const getValue = (round: number): Effect => ({ kind: 'get-value', height: H, round });
const propose = (round: number, blockHash: Uint8Array, validRound = -1): Effect => ({ kind: 'broadcast-proposal', height: H, round, blockHash, validRound });
const decide = (round: number, blockHash: Uint8Array): Effect => ({ kind: 'decide', height: H, round, blockHash });

type StateFields = Partial<Pick<ConsensusState, 'height' | 'round' | 'step' | 'lockedValue' | 'lockedRound' | 'validValue' | 'validRound' | 'decision' | 'proposals'>>;
const fact = (round: number, blockHash: Uint8Array, validRound = -1, valid = true, timely = true) => ({ round, blockHash, validRound, valid, timely });
interface Row {
  input: Input;
  effects: Effect[];
  state?: StateFields;
}

function run(t: Test, self: number, rows: Row[]): ConsensusState {
  let state = initialState(config(self));
  for (const [i, row] of rows.entries()) {
    const before = structuredClone({ ...state, config: null });
    const out = step(state, row.input);
    t.same({ ...state, config: null }, before, `row ${i}: the input state is not mutated`);
    t.same(out.effects, row.effects, `row ${i} (${row.input.kind}): effects`);
    if (row.state !== undefined) {
      const picked = Object.fromEntries(Object.keys(row.state).map((k) => [k, out.state[k as keyof StateFields]]));
      t.same(picked, row.state, `row ${i} (${row.input.kind}): state`);
    }
    state = out.state;
  }
  return state;
}

t.test('normal decision in round 0 (not the proposer)', (t) => {
  run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)], state: { height: H, round: 0, step: 'propose' } },
    { input: proposal(0, A), effects: [prevote(0, A)], state: { step: 'prevote' } }, // L22
    { input: polka(0, A), effects: [precommit(0, A)], state: { step: 'precommit', lockedValue: A, lockedRound: 0, validValue: A, validRound: 0 } }, // L36
    { input: commitQuorum(0, A), effects: [decide(0, A)], state: { step: 'commit', decision: { round: 0, blockHash: A } } }, // L49
    { input: timeout('propose', 0), effects: [] },
    { input: polka(0, B), effects: [], state: { step: 'commit' } },
  ]);
  t.end();
});

t.test('normal decision in round 0 (the proposer asks for a value)', (t) => {
  run(t, 1, [
    { input: start(), effects: [getValue(0)], state: { step: 'propose' } },
    { input: valueReady(1, A), effects: [], state: { step: 'propose' } },
    { input: valueReady(0, A), effects: [propose(0, A), prevote(0, A)], state: { step: 'prevote' } }, // L19, L22
    { input: valueReady(0, B), effects: [] },
    { input: polkaAny(0), effects: [schedule('prevote', 0)] }, // L34
    { input: polka(0, A), effects: [precommit(0, A)], state: { lockedRound: 0 } }, // L36
    { input: precommitAny(0), effects: [schedule('precommit', 0)] }, // L47
    { input: commitQuorum(0, A), effects: [decide(0, A)] }, // L49
  ]);
  t.end();
});

t.test('proposer timeout -> prevote nil, nil polka -> precommit nil, next round', (t) => {
  run(t, 3, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: timeout('propose', 1), effects: [], state: { step: 'propose' } }, // another round
    { input: timeout('propose', 0, 2), effects: [], state: { step: 'propose' } }, // another height
    { input: timeout('prevote', 0), effects: [], state: { step: 'propose' } }, // another step
    { input: timeout('propose', 0), effects: [prevote(0, null)], state: { step: 'prevote' } }, // L57
    { input: timeout('propose', 0), effects: [], state: { step: 'prevote' } },
    { input: proposal(0, A), effects: [], state: { step: 'prevote' } }, // too late to prevote for it
    { input: polka(0, null), effects: [precommit(0, null)], state: { step: 'precommit', lockedRound: -1 } }, // L44
    { input: precommitAny(0), effects: [schedule('precommit', 0)] }, // L47
    { input: precommitAny(0), effects: [] }, // only the first time
    { input: timeout('precommit', 0), effects: [schedule('propose', 1)], state: { round: 1, step: 'propose' } }, // L65, longer timeout
    { input: timeout('precommit', 0), effects: [], state: { round: 1 } }, // stale
  ]);
  t.end();
});

t.test('prevote timeout -> precommit nil (L61)', (t) => {
  run(t, 3, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: proposal(0, A), effects: [prevote(0, A)] },
    { input: polkaAny(0), effects: [schedule('prevote', 0)] }, // L34
    { input: timeout('prevote', 0), effects: [precommit(0, null)], state: { step: 'precommit', lockedRound: -1 } }, // L61
    { input: polka(0, A), effects: [], state: { step: 'precommit', lockedRound: -1, validValue: A, validRound: 0 } }, // L36 in precommit: valid only
  ]);
  t.end();
});

t.test('an invalid proposal gets a nil prevote', (t) => {
  run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: proposal(0, A, -1, false), effects: [prevote(0, null)] },
    { input: polka(0, A), effects: [schedule('prevote', 0)], state: { lockedRound: -1, validRound: -1 } }, // no L36 for an invalid value
  ]);
  t.end();
});

t.test('an untimely fresh proposal gets a nil prevote, but is still locked on a polka and decided on +2/3 precommits (PBTS)', (t) => {
  const late: Input = { kind: 'proposal', height: H, round: 0, blockHash: A, validRound: -1, valid: true, timely: false };
  run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: late, effects: [prevote(0, null)], state: { proposals: [fact(0, A, -1, true, false)] } },
    { input: polka(0, A), effects: [precommit(0, A)], state: { lockedRound: 0, validRound: 0 } }, // L36 asks valid(v) only
  ]);
  // A validator that sees the proposal only after the decision (a late joiner, a restart that
  // replays its WAL long after) decides it all the same (L49).
  run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: commitQuorum(0, A), effects: [schedule('precommit', 0)] },
    { input: late, effects: [decide(0, A)] },
  ]);
  t.end();
});

// Round 0 up to a lock on A, then on to round 1; self must not be the round-0 proposer.
const lockOnAThenRound1: Row[] = [
  { input: start(), effects: [schedule('propose', 0)] },
  { input: proposal(0, A), effects: [prevote(0, A)] },
  { input: polka(0, A), effects: [precommit(0, A)], state: { lockedValue: A, lockedRound: 0 } },
  { input: precommitAny(0), effects: [schedule('precommit', 0)] },
];

t.test('hidden lock: a locked validator rejects another value, and re-proposes its valid value', (t) => {
  run(t, 3, [
    ...lockOnAThenRound1,
    { input: timeout('precommit', 0), effects: [schedule('propose', 1)], state: { round: 1 } },
    { input: proposal(1, B), effects: [prevote(1, null)], state: { lockedValue: A } }, // L22: locked on A
    { input: polka(1, null), effects: [precommit(1, null)] }, // L44
    { input: precommitAny(1), effects: [schedule('precommit', 1)] },
    // Round 2, our turn: L14-L16 propose the valid value with its round; L28 then prevotes it.
    { input: timeout('precommit', 1), effects: [propose(2, A, 0), prevote(2, A)], state: { round: 2, step: 'prevote' } },
  ]);
  t.end();
});

t.test('locked validator prevotes the locked value when it is proposed again', (t) => {
  run(t, 4, [
    ...lockOnAThenRound1,
    { input: timeout('precommit', 0), effects: [schedule('propose', 1)] },
    { input: proposal(1, A, 0), effects: [prevote(1, A)] }, // L28, vr 0 has a polka for A
  ]);
  t.end();
});

t.test('unlocking only by a polka of a later round (L28 with validRound)', (t) => {
  const round1Nil: Row[] = [
    ...lockOnAThenRound1,
    { input: timeout('precommit', 0), effects: [schedule('propose', 1)] },
    { input: timeout('propose', 1), effects: [prevote(1, null)] },
    { input: polka(1, B), effects: [schedule('prevote', 1)] }, // others saw B; we missed its proposal
    { input: timeout('prevote', 1), effects: [precommit(1, null)] },
    { input: precommitAny(1), effects: [schedule('precommit', 1)] },
    { input: timeout('precommit', 1), effects: [schedule('propose', 2)], state: { round: 2, lockedValue: A, lockedRound: 0 } },
  ];
  t.test('B with validRound 1 > lockedRound: prevote B', (t) => {
    run(t, 4, [...round1Nil, { input: proposal(2, B, 1), effects: [prevote(2, B)] }]);
    t.end();
  });
  t.test('B fresh (validRound -1): still locked, prevote nil', (t) => {
    run(t, 4, [...round1Nil, { input: proposal(2, B), effects: [prevote(2, null)] }]);
    t.end();
  });
  t.test('B claiming a round without a polka waits, then the polka arrives', (t) => {
    run(t, 4, [
      ...lockOnAThenRound1,
      { input: timeout('precommit', 0), effects: [schedule('propose', 1)] },
      { input: timeout('propose', 1), effects: [prevote(1, null)] },
      { input: polkaAny(1), effects: [schedule('prevote', 1)] },
      { input: timeout('prevote', 1), effects: [precommit(1, null)] },
      { input: precommitAny(1), effects: [schedule('precommit', 1)] },
      { input: timeout('precommit', 1), effects: [schedule('propose', 2)] },
      { input: proposal(2, B, 1), effects: [], state: { step: 'propose' } },
      { input: polka(1, B), effects: [prevote(2, B)], state: { step: 'prevote' } },
    ]);
    t.end();
  });
  t.test('a polka older than the lock does not unlock', (t) => {
    run(t, 4, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: timeout('propose', 0), effects: [prevote(0, null)] },
      { input: polka(0, B), effects: [schedule('prevote', 0)] }, // B had a polka in round 0; we missed its proposal
      { input: timeout('prevote', 0), effects: [precommit(0, null)] },
      { input: precommitAny(0), effects: [schedule('precommit', 0)] },
      { input: timeout('precommit', 0), effects: [schedule('propose', 1)] },
      { input: proposal(1, A), effects: [prevote(1, A)] },
      { input: polka(1, A), effects: [precommit(1, A)], state: { lockedValue: A, lockedRound: 1 } },
      { input: precommitAny(1), effects: [schedule('precommit', 1)] },
      { input: timeout('precommit', 1), effects: [schedule('propose', 2)] },
      { input: proposal(2, B, 0), effects: [prevote(2, null)], state: { lockedValue: A, lockedRound: 1 } }, // L28: 0 < lockedRound
    ]);
    t.end();
  });
  t.end();
});

t.test('decide on +2/3 precommits for a past round\'s proposal (L49)', (t) => {
  const toRound1: Row[] = [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: proposal(0, A), effects: [prevote(0, A)] },
    { input: polkaAny(0), effects: [schedule('prevote', 0)] },
    { input: timeout('prevote', 0), effects: [precommit(0, null)] },
    { input: precommitAny(0), effects: [schedule('precommit', 0)] },
    { input: timeout('precommit', 0), effects: [schedule('propose', 1)], state: { round: 1, lockedRound: -1 } },
  ];
  run(t, 4, [...toRound1, { input: commitQuorum(0, A), effects: [decide(0, A)], state: { round: 1, step: 'commit', decision: { round: 0, blockHash: A } } }]);
  // The precommits may arrive before the proposal they are for.
  run(t, 4, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: timeout('propose', 0), effects: [prevote(0, null)] },
    { input: commitQuorum(0, A), effects: [schedule('precommit', 0)] }, // L47: a quorum for A is a quorum of anything
    { input: proposal(0, A), effects: [decide(0, A)] },
  ]);
  t.end();
});

t.test('round skip on f+1 messages of a higher round (L55)', (t) => {
  run(t, 4, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: proposal(2, B), effects: [], state: { round: 0 } }, // kept for later
    { input: skip(2, 2), effects: [], state: { round: 0 } }, // another height
    { input: skip(0), effects: [] }, // not higher
    { input: skip(2), effects: [schedule('propose', 2), prevote(2, B)], state: { round: 2, step: 'prevote' } },
    { input: skip(1), effects: [], state: { round: 2 } },
    { input: timeout('propose', 0), effects: [] },
    { input: skip(3), effects: [getValue(3)], state: { round: 3, step: 'propose' } }, // our turn to propose
  ]);
  t.end();
});

t.test('start-height resets the height; older heights are ignored', (t) => {
  const state = run(t, 2, [
    ...[
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, A), effects: [prevote(0, A)] },
      { input: polka(0, A), effects: [precommit(0, A)] },
      { input: commitQuorum(0, A), effects: [decide(0, A)] },
    ],
  ]);
  const next = step(state, start(2));
  t.same(next.effects, [{ kind: 'get-value', height: 2, round: 0 }], 'tag 2 proposes height 2, round 0');
  t.match(next.state, { height: 2, round: 0, step: 'propose', lockedRound: -1, validRound: -1, decision: null, proposals: [] });
  t.same(step(next.state, start(1)).effects, []);
  t.equal(step(next.state, start(1)).state, next.state);
  t.end();
});

// An equivocating proposer signs several values for one round and shows each to different
// validators. L22/L28 prevote on the first; L36 and L49 hold for any proposal received (the paper's
// upon-rules range over all messages), so a validator shown B first still follows +2/3 for A.
t.test('equivocating proposer: +2/3 precommits for its second value decide it (L49)', (t) => {
  run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)] },
    { input: proposal(0, B), effects: [prevote(0, B)], state: { step: 'prevote' } }, // L22 on the first
    { input: proposal(0, A), effects: [], state: { step: 'prevote', proposals: [fact(0, B), fact(0, A)] } }, // recorded, no second prevote
    { input: polkaAny(0), effects: [schedule('prevote', 0)] }, // L34
    { input: timeout('prevote', 0), effects: [precommit(0, null)], state: { step: 'precommit' } }, // L61
    { input: commitQuorum(0, A), effects: [decide(0, A)], state: { step: 'commit', decision: { round: 0, blockHash: A } } }, // L49
  ]);
  t.test('the quorum may come first, the second proposal after it', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: commitQuorum(0, A), effects: [schedule('precommit', 0)], state: { step: 'prevote', decision: null } }, // L47 only
      { input: proposal(0, A), effects: [decide(0, A)], state: { step: 'commit', decision: { round: 0, blockHash: A } } }, // L49
    ]);
    t.end();
  });
  t.test('in a later round, for a past round\'s second value', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: proposal(0, A), effects: [] },
      { input: precommitAny(0), effects: [schedule('precommit', 0)] },
      { input: timeout('precommit', 0), effects: [getValue(1)], state: { round: 1 } }, // tag 2 proposes round 1
      { input: commitQuorum(0, A), effects: [decide(0, A)], state: { round: 1, decision: { round: 0, blockHash: A } } },
    ]);
    t.end();
  });
  t.test('an invalid second value is not decided', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: proposal(0, A, -1, false), effects: [] },
      { input: commitQuorum(0, A), effects: [schedule('precommit', 0)], state: { decision: null } },
    ]);
    t.end();
  });
  t.end();
});

t.test('equivocating proposer: a polka for its second value locks it and makes it valid (L36)', (t) => {
  t.test('while prevoting: lock, precommit it, valid value', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: proposal(0, A), effects: [] },
      { input: polka(0, A), effects: [precommit(0, A)], state: { step: 'precommit', lockedValue: A, lockedRound: 0, validValue: A, validRound: 0 } },
      { input: commitQuorum(0, A), effects: [decide(0, A)] },
    ]);
    t.end();
  });
  t.test('the polka first, the second proposal after it', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: polka(0, A), effects: [schedule('prevote', 0)], state: { lockedRound: -1, validRound: -1 } }, // L34 only
      { input: proposal(0, A), effects: [precommit(0, A)], state: { step: 'precommit', lockedValue: A, lockedRound: 0, validValue: A, validRound: 0 } },
    ]);
    t.end();
  });
  t.test('after precommitting nil: valid value only, and re-proposed in our round', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: proposal(0, A), effects: [] },
      { input: polkaAny(0), effects: [schedule('prevote', 0)] },
      { input: timeout('prevote', 0), effects: [precommit(0, null)] },
      { input: polka(0, A), effects: [], state: { step: 'precommit', lockedValue: null, lockedRound: -1, validValue: A, validRound: 0 } },
      { input: precommitAny(0), effects: [schedule('precommit', 0)] },
      { input: timeout('precommit', 0), effects: [propose(1, A, 0), prevote(1, A)], state: { round: 1 } }, // L14-L16, then L28
    ]);
    t.end();
  });
  t.test('not for an invalid second value', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B), effects: [prevote(0, B)] },
      { input: proposal(0, A, -1, false), effects: [] },
      { input: polka(0, A), effects: [schedule('prevote', 0)], state: { step: 'prevote', lockedRound: -1, validRound: -1 } },
    ]);
    t.end();
  });
  t.end();
});

t.test('equivocating proposer: a repeated value and values beyond the bound are ignored', (t) => {
  const values = [A, ...Array.from({ length: MAX_PROPOSALS_PER_ROUND - 1 }, (_, i) => other(i))];
  const beyond = other(MAX_PROPOSALS_PER_ROUND);
  const state = run(t, 2, [
    { input: start(), effects: [schedule('propose', 0)] },
    ...values.map((v, i): Row => ({ input: proposal(0, v), effects: i === 0 ? [prevote(0, A)] : [] })),
    { input: proposal(0, A, 0), effects: [], state: { proposals: values.map((v) => fact(0, v)) } }, // a repeat, even with another validRound
    { input: proposal(0, beyond), effects: [], state: { proposals: values.map((v) => fact(0, v)) } }, // beyond the bound
    { input: proposal(1, beyond), effects: [], state: { proposals: [...values.map((v) => fact(0, v)), fact(1, beyond)] } }, // the bound is per round
    { input: commitQuorum(0, beyond), effects: [schedule('precommit', 0)], state: { decision: null } },
  ]);
  const again = step(state, proposal(0, values[1]!));
  t.equal(again.state, state, 'a repeat returns the state unchanged');
  t.same(again.effects, []);
  t.end();
});

t.test('equivocating proposer: the first proposal of a round still drives the prevote (L22, L28)', (t) => {
  t.test('an invalid first value gets nil; a valid second one changes nothing', (t) => {
    run(t, 2, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: proposal(0, B, -1, false), effects: [prevote(0, null)], state: { step: 'prevote' } },
      { input: proposal(0, A), effects: [], state: { step: 'prevote' } },
    ]);
    t.end();
  });
  t.test('a first value waiting for its polka (L28) is not overtaken by a fresh second one', (t) => {
    run(t, 4, [
      { input: start(), effects: [schedule('propose', 0)] },
      { input: timeout('propose', 0), effects: [prevote(0, null)] },
      { input: polkaAny(0), effects: [schedule('prevote', 0)] },
      { input: timeout('prevote', 0), effects: [precommit(0, null)] },
      { input: precommitAny(0), effects: [schedule('precommit', 0)] },
      { input: timeout('precommit', 0), effects: [schedule('propose', 1)], state: { round: 1 } },
      { input: proposal(1, B, 0), effects: [], state: { step: 'propose' } },
      { input: proposal(1, A), effects: [], state: { step: 'propose' } }, // no L22 for the second
      { input: polka(0, B), effects: [prevote(1, B)], state: { step: 'prevote' } }, // L28 for the first
    ]);
    t.end();
  });
  t.test('the proposer records its own value once, as the first of its round', (t) => {
    run(t, 1, [
      { input: start(), effects: [getValue(0)] },
      { input: valueReady(0, A), effects: [propose(0, A), prevote(0, A)], state: { proposals: [fact(0, A)] } },
      { input: proposal(0, A), effects: [], state: { proposals: [fact(0, A)] } },
    ]);
    t.end();
  });
  t.end();
});
