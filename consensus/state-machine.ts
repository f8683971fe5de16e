/**
 * The Tendermint consensus algorithm for one validator, as a pure function:
 * `step(state, input) -> { state, effects }`. Line labels (// L22) are the lines of Algorithm 1 in
 * Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018).
 *
 * The host does everything with side effects and feeds results back: it verifies signatures,
 * counts votes in VoteSets and reports thresholds as inputs, validates proposed blocks (the
 * paper's valid(v), sent as `valid` on a proposal input), signs and gossips the votes and
 * proposals named in effects, runs timers, and builds blocks when asked. A proposal input must
 * come from proposer(height, round).
 *
 * A faulty proposer may sign several values for one round and show each to different validators.
 * The paper's rules range over every message received, so up to MAX_PROPOSALS_PER_ROUND distinct
 * values per round are recorded: the first drives the prevote (L22, L28 act once, in step
 * propose), and any of them can be locked (L36) or decided (L49) when +2/3 vote for it — else a
 * validator shown another value first could never decide the one the others decided.
 *
 * The paper's rules are "upon <messages> while <condition>": they fire whenever their messages have
 * been seen and the condition holds, in whatever order things arrive. So threshold and proposal
 * inputs are recorded as facts of the height, and after every input the rules of the current step
 * are re-checked until none fires. Timeouts are events, not facts, and act at once or not at all.
 */
import type { Address } from '../chain/address.ts';
import { PRECOMMIT, PREVOTE, type VoteType } from '../chain/vote.ts';
import { sameValue } from './vote-set.ts';
import type { ValidatorSet } from './validators.ts';

export type Step = 'unstarted' | 'propose' | 'prevote' | 'precommit' | 'commit';
export type TimeoutKind = 'propose' | 'prevote' | 'precommit';

/** A timeout lasts base + round * delta, so rounds get longer until the network catches up. */
export interface TimeoutConfig {
  baseMs: number;
  deltaMs: number;
}

export interface EngineConfig {
  self: Address;
  validators: ValidatorSet;
  timeouts: Readonly<Record<TimeoutKind, TimeoutConfig>>;
}

/** Distinct values recorded per round; more come only from a faulty proposer and are ignored. */
export const MAX_PROPOSALS_PER_ROUND = 4;

export interface ProposalFact {
  round: number;
  blockHash: Uint8Array;
  /** The proposer's valid round, -1 for a fresh value. */
  validRound: number;
  valid: boolean;
  /**
   * Proposer-based timestamps (consensus/timeliness.ts): whether the block's time was within the
   * bounds of this validator's clock when the proposal arrived. Only L22 asks (a fresh proposal is
   * prevoted only if timely); locking (L36), re-proposals (L28) and decisions (L49) need valid(v)
   * alone, so a validator that sees a proposal late still decides what +2/3 decided.
   */
  timely: boolean;
}

/** A +2/3 threshold of one round for one value; null is nil. */
export interface RoundValue {
  round: number;
  blockHash: Uint8Array | null;
}

export interface ConsensusState {
  readonly config: EngineConfig;
  readonly height: number;
  readonly round: number;
  readonly step: Step;
  readonly lockedValue: Uint8Array | null;
  readonly lockedRound: number;
  readonly validValue: Uint8Array | null;
  readonly validRound: number;
  readonly decision: { round: number; blockHash: Uint8Array } | null;
  /**
   * Everything seen at this height that the rules read; kept across rounds (L28, L49 look back).
   * Proposals in arrival order, one per (round, blockHash); the first of a round is the one L22/L28 read.
   */
  readonly proposals: readonly ProposalFact[];
  readonly polkas: readonly RoundValue[];
  readonly precommitQuorums: readonly RoundValue[];
  readonly polkaAny: readonly number[];
  readonly precommitAny: readonly number[];
  /** The paper's "for the first time" guards, reset each round. */
  readonly prevoteTimeoutScheduled: boolean;
  readonly precommitTimeoutScheduled: boolean;
  readonly validUpdated: boolean;
  /** We are the proposer and asked the host for a value. */
  readonly awaitingValue: boolean;
}

export type Input =
  | { kind: 'start-height'; height: number }
  | { kind: 'value-ready'; height: number; round: number; blockHash: Uint8Array }
  /** `timely` absent: timely (see ProposalFact). */
  | { kind: 'proposal'; height: number; round: number; blockHash: Uint8Array; validRound: number; valid: boolean; timely?: boolean }
  /** +2/3 prevotes for one value (null = nil); implies polka-any. */
  | { kind: 'polka'; height: number; round: number; blockHash: Uint8Array | null }
  | { kind: 'polka-any'; height: number; round: number }
  /** +2/3 precommits for one value (null = nil); implies precommit-any. */
  | { kind: 'precommit-quorum'; height: number; round: number; blockHash: Uint8Array | null }
  | { kind: 'precommit-any'; height: number; round: number }
  /** f+1 messages (more than 1/3 of the power) of this round. */
  | { kind: 'round-skip'; height: number; round: number }
  | { kind: 'timeout'; timeout: TimeoutKind; height: number; round: number };

export type Effect =
  | { kind: 'get-value'; height: number; round: number }
  | { kind: 'broadcast-proposal'; height: number; round: number; blockHash: Uint8Array; validRound: number }
  | { kind: 'broadcast-vote'; type: VoteType; height: number; round: number; blockHash: Uint8Array | null }
  | { kind: 'schedule-timeout'; timeout: TimeoutKind; height: number; round: number; durationMs: number }
  | { kind: 'decide'; height: number; round: number; blockHash: Uint8Array };

export interface Transition {
  state: ConsensusState;
  effects: Effect[];
}

export function initialState(config: EngineConfig): ConsensusState {
  return {
    config, height: 0, round: -1, step: 'unstarted',
    lockedValue: null, lockedRound: -1, validValue: null, validRound: -1, decision: null,
    proposals: [], polkas: [], precommitQuorums: [], polkaAny: [], precommitAny: [],
    prevoteTimeoutScheduled: false, precommitTimeoutScheduled: false, validUpdated: false, awaitingValue: false,
  };
}

export function timeoutDuration(config: EngineConfig, kind: TimeoutKind, round: number): number {
  const t = config.timeouts[kind];
  return t.baseMs + round * t.deltaMs;
}

/** Working copy of one transition: the caller's state is never mutated. */
interface Work {
  s: { -readonly [K in keyof ConsensusState]: ConsensusState[K] };
  fx: Effect[];
}

export function step(state: ConsensusState, input: Input): Transition {
  const w: Work = { s: { ...state }, fx: [] };
  const { s } = w;
  if (input.kind === 'start-height') {
    if (s.step !== 'unstarted' && input.height <= s.height) return { state, effects: [] };
    Object.assign(s, initialState(s.config), { height: input.height });
    startRound(w, 0); // L10
    applyRules(w);
    return { state: s, effects: w.fx };
  }
  // Nothing from another height, before start, or after the decision (L49: while decision = nil).
  if (input.height !== s.height || s.step === 'unstarted' || s.step === 'commit') return { state, effects: [] };

  switch (input.kind) {
    case 'value-ready':
      if (s.step !== 'propose' || input.round !== s.round || !s.awaitingValue) return { state, effects: [] };
      s.awaitingValue = false;
      propose(w, input.blockHash, -1); // L19
      break;
    case 'proposal':
      if (!recordProposal(s, { round: input.round, blockHash: input.blockHash, validRound: input.validRound, valid: input.valid, timely: input.timely !== false })) return { state, effects: [] };
      break;
    case 'polka':
      if (!hasPolka(s, input.round, input.blockHash)) s.polkas = [...s.polkas, { round: input.round, blockHash: input.blockHash }];
      if (!s.polkaAny.includes(input.round)) s.polkaAny = [...s.polkaAny, input.round];
      break;
    case 'polka-any':
      if (!s.polkaAny.includes(input.round)) s.polkaAny = [...s.polkaAny, input.round];
      break;
    case 'precommit-quorum':
      if (!s.precommitQuorums.some((q) => q.round === input.round && sameValue(q.blockHash, input.blockHash))) {
        s.precommitQuorums = [...s.precommitQuorums, { round: input.round, blockHash: input.blockHash }];
      }
      if (!s.precommitAny.includes(input.round)) s.precommitAny = [...s.precommitAny, input.round];
      break;
    case 'precommit-any':
      if (!s.precommitAny.includes(input.round)) s.precommitAny = [...s.precommitAny, input.round];
      break;
    case 'round-skip':
      // L55: f+1 messages of a higher round mean at least one honest validator is there.
      if (input.round <= s.round) return { state, effects: [] };
      startRound(w, input.round);
      break;
    case 'timeout':
      // Timeouts of an earlier round or step are stale: the rule they guard has been passed.
      if (input.round !== s.round) return { state, effects: [] };
      switch (input.timeout) {
        case 'propose': // L57
          if (s.step !== 'propose') return { state, effects: [] };
          vote(w, PREVOTE, null);
          s.step = 'prevote';
          break;
        case 'prevote': // L61
          if (s.step !== 'prevote') return { state, effects: [] };
          vote(w, PRECOMMIT, null);
          s.step = 'precommit';
          break;
        case 'precommit': // L65
          startRound(w, s.round + 1);
          break;
      }
      break;
  }
  applyRules(w);
  return { state: s, effects: w.fx };
}

/** L11-L21 StartRound. */
function startRound(w: Work, round: number): void {
  const { s } = w;
  Object.assign(s, { round, step: 'propose', prevoteTimeoutScheduled: false, precommitTimeoutScheduled: false, validUpdated: false, awaitingValue: false });
  if (s.config.validators.isProposer(s.config.self, s.height, round)) {
    // L14-L18: re-propose the value we saw a polka for, so a locked +2/3 can finish it.
    if (s.validValue !== null) propose(w, s.validValue, s.validRound);
    else {
      s.awaitingValue = true;
      w.fx.push({ kind: 'get-value', height: s.height, round });
    }
  } else {
    scheduleTimeout(w, 'propose'); // L21
  }
}

/** L19: broadcast our proposal, and take it in as the proposer's proposal like anyone's. */
function propose(w: Work, blockHash: Uint8Array, validRound: number): void {
  const { s } = w;
  w.fx.push({ kind: 'broadcast-proposal', height: s.height, round: s.round, blockHash, validRound });
  recordProposal(s, { round: s.round, blockHash, validRound, valid: true, timely: true });
}

/** Adds a proposal of a value not yet seen in its round, up to the bound; false if nothing changed. */
function recordProposal(s: Work['s'], fact: ProposalFact): boolean {
  const ofRound = s.proposals.filter((p) => p.round === fact.round);
  if (ofRound.length >= MAX_PROPOSALS_PER_ROUND || ofRound.some((p) => sameValue(p.blockHash, fact.blockHash))) return false;
  s.proposals = [...s.proposals, fact];
  return true;
}

function vote(w: Work, type: VoteType, blockHash: Uint8Array | null): void {
  w.fx.push({ kind: 'broadcast-vote', type, height: w.s.height, round: w.s.round, blockHash });
}

function scheduleTimeout(w: Work, timeout: TimeoutKind): void {
  const { s } = w;
  w.fx.push({ kind: 'schedule-timeout', timeout, height: s.height, round: s.round, durationMs: timeoutDuration(s.config, timeout, s.round) });
}

function applyRules(w: Work): void {
  // Every rule changes the step or sets a guard, so this stops within a few passes.
  while (applyOneRule(w));
}

/** The "upon" rules, by step. Returns whether one fired. */
function applyOneRule(w: Work): boolean {
  const { s } = w;
  if (s.step === 'commit' || s.step === 'unstarted') return false;
  // The round's first proposal: the one L22/L28 prevote on.
  const proposal = s.proposals.find((p) => p.round === s.round);

  // L49: +2/3 precommits for any valid proposal of any round decide it, whatever our step.
  if (s.decision === null) {
    for (const q of s.precommitQuorums) {
      const p = s.proposals.find((x) => x.round === q.round && x.valid && sameValue(x.blockHash, q.blockHash));
      if (p !== undefined) {
        s.decision = { round: q.round, blockHash: p.blockHash };
        s.step = 'commit';
        w.fx.push({ kind: 'decide', height: s.height, round: q.round, blockHash: p.blockHash });
        return true;
      }
    }
  }

  switch (s.step) {
    case 'propose':
      if (proposal === undefined) break;
      if (proposal.validRound === -1) { // L22
        const ok = proposal.valid && proposal.timely && (s.lockedRound === -1 || sameValue(s.lockedValue, proposal.blockHash));
        vote(w, PREVOTE, ok ? proposal.blockHash : null);
        s.step = 'prevote';
        return true;
      }
      if (proposal.validRound >= 0 && proposal.validRound < s.round && hasPolka(s, proposal.validRound, proposal.blockHash)) { // L28
        const vr = proposal.validRound;
        const ok = proposal.valid && (s.lockedRound <= vr || sameValue(s.lockedValue, proposal.blockHash));
        vote(w, PREVOTE, ok ? proposal.blockHash : null);
        s.step = 'prevote';
        return true;
      }
      break;
    case 'prevote':
      if (l36(w)) return true;
      if (hasPolka(s, s.round, null)) { // L44
        vote(w, PRECOMMIT, null);
        s.step = 'precommit';
        return true;
      }
      if (!s.prevoteTimeoutScheduled && s.polkaAny.includes(s.round)) { // L34
        s.prevoteTimeoutScheduled = true;
        scheduleTimeout(w, 'prevote');
        return true;
      }
      break;
    case 'precommit':
      if (l36(w)) return true;
      break;
  }

  if (!s.precommitTimeoutScheduled && s.precommitAny.includes(s.round)) { // L47
    s.precommitTimeoutScheduled = true;
    scheduleTimeout(w, 'precommit');
    return true;
  }
  return false;
}

/**
 * L36: a polka for a valid proposal of this round — any of them, not only the first — locks it (if
 * still prevoting) and makes it valid. With at most f faulty only one value of a round can have a polka.
 */
function l36(w: Work): boolean {
  const { s } = w;
  if (s.validUpdated) return false;
  const proposal = s.proposals.find((p) => p.round === s.round && p.valid && hasPolka(s, s.round, p.blockHash));
  if (proposal === undefined) return false;
  if (s.step === 'prevote') {
    s.lockedValue = proposal.blockHash;
    s.lockedRound = s.round;
    vote(w, PRECOMMIT, proposal.blockHash);
    s.step = 'precommit';
  }
  s.validValue = proposal.blockHash;
  s.validRound = s.round;
  s.validUpdated = true;
  return true;
}

function hasPolka(s: ConsensusState, round: number, blockHash: Uint8Array | null): boolean {
  return s.polkas.some((p) => p.round === round && sameValue(p.blockHash, blockHash));
}

