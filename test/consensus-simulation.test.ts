/**
 * Four engines wired together through VoteKeepers on a virtual clock: messages are delivered in
 * order, and when none are in flight the earliest timeout fires. Checks that the pure pieces
 * compose: everyone decides the same block, with and without a crashed proposer.
 */
import t from 'tap';
import { toHex } from '../chain/bytes.ts';
import type { Vote } from '../chain/vote.ts';
import { initialState, step, type ConsensusState, type Effect, type Input } from '../consensus/state-machine.ts';
import { ValidatorSet } from '../consensus/validators.ts';
import { VoteKeeper } from '../consensus/vote-keeper.ts';

const TAGS = [1, 2, 3, 4];
const validators = new ValidatorSet(TAGS.map((tag) => ({ address: new Uint8Array(20).fill(tag), publicKey: new Uint8Array(32).fill(tag), power: 1 })));
const timeouts = { propose: { baseMs: 3000, deltaMs: 500 }, prevote: { baseMs: 1000, deltaMs: 500 }, precommit: { baseMs: 1000, deltaMs: 500 } };

interface Decision {
  round: number;
  blockHash: string;
}

function simulate(crashed: Set<number>, height = 1): Map<number, Decision> {
  const states = new Map<number, ConsensusState>();
  const keepers = new Map<number, VoteKeeper>();
  const decisions = new Map<number, Decision>();
  const queue: { to: number; input?: Input; vote?: Vote }[] = [];
  const timers: { at: number; to: number; input: Input }[] = [];
  let now = 0;

  const live = TAGS.filter((tag) => !crashed.has(tag));
  const feed = (tag: number, input: Input): void => {
    const out = step(states.get(tag)!, input);
    states.set(tag, out.state);
    for (const e of out.effects) perform(tag, e);
  };
  const perform = (tag: number, e: Effect): void => {
    switch (e.kind) {
      case 'get-value': // a block hash that names its proposer and round, so tests can tell them apart
        queue.push({ to: tag, input: { kind: 'value-ready', height: e.height, round: e.round, blockHash: new Uint8Array(32).fill(tag * 16 + e.round) } });
        break;
      case 'broadcast-proposal':
        for (const to of live) if (to !== tag) queue.push({ to, input: { kind: 'proposal', height: e.height, round: e.round, blockHash: e.blockHash, validRound: e.validRound, valid: true } });
        break;
      case 'broadcast-vote': {
        const vote: Vote = { type: e.type, height: e.height, round: e.round, blockHash: e.blockHash, validator: new Uint8Array(20).fill(tag), signature: new Uint8Array(64) };
        for (const to of live) queue.push({ to, vote });
        break;
      }
      case 'schedule-timeout':
        timers.push({ at: now + e.durationMs, to: tag, input: { kind: 'timeout', timeout: e.timeout, height: e.height, round: e.round } });
        break;
      case 'decide':
        decisions.set(tag, { round: e.round, blockHash: toHex(e.blockHash) });
        break;
    }
  };

  for (const tag of live) {
    states.set(tag, initialState({ self: new Uint8Array(20).fill(tag), validators, timeouts }));
    keepers.set(tag, new VoteKeeper(validators, height));
  }
  for (const tag of live) feed(tag, { kind: 'start-height', height });
  for (let events = 0; decisions.size < live.length && events < 10_000; events++) {
    const msg = queue.shift();
    if (msg !== undefined) {
      if (msg.input !== undefined) feed(msg.to, msg.input);
      if (msg.vote !== undefined) for (const input of keepers.get(msg.to)!.add(msg.vote).inputs) feed(msg.to, input);
      continue;
    }
    timers.sort((a, b) => a.at - b.at || a.to - b.to);
    const timer = timers.shift();
    if (timer === undefined) break;
    now = timer.at;
    feed(timer.to, timer.input);
  }
  return decisions;
}

t.test('all honest: everyone decides the round-0 proposer\'s block in round 0', (t) => {
  const decisions = simulate(new Set());
  t.equal(decisions.size, 4);
  for (const d of decisions.values()) t.same(d, { round: 0, blockHash: toHex(new Uint8Array(32).fill(1 * 16 + 0)) });
  t.end();
});

t.test('the round-0 proposer has crashed: the other three decide round 1\'s block', (t) => {
  const decisions = simulate(new Set([1]));
  t.equal(decisions.size, 3);
  for (const d of decisions.values()) t.same(d, { round: 1, blockHash: toHex(new Uint8Array(32).fill(2 * 16 + 1)) });
  t.end();
});

t.test('two crashed out of four: no quorum, nobody decides', (t) => {
  t.equal(simulate(new Set([1, 2])).size, 0);
  t.end();
});

t.test('height 2 uses height 2\'s proposer', (t) => {
  const decisions = simulate(new Set(), 2);
  for (const d of decisions.values()) t.same(d, { round: 0, blockHash: toHex(new Uint8Array(32).fill(2 * 16 + 0)) });
  t.end();
});
