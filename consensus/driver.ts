/**
 * The consensus driver: runs the pure state machine (state-machine.ts) for one validator, one height
 * after another, and performs its effects through ports it is handed — it never touches the
 * network, the disk or the clock itself, which is what lets the same code run in a node, in tests
 * and in the deterministic simulator.
 *
 * What it does between messages and the state machine:
 *   - proposals: checks the signature against proposer(height, round), keeps the block by hash,
 *     asks the app whether the block is valid (the paper's valid(v)), and feeds each distinct value
 *     of a round, up to MAX_PROPOSALS_PER_ROUND: an equivocating proposer's other value may be the
 *     one +2/3 decide (the state machine prevotes on the first only);
 *   - votes: verifies every vote of a delivery with one batch call (and a cache), counts them in a
 *     VoteKeeper, feeds the thresholds it reports, and reports equivocation as evidence;
 *   - effects: builds blocks through the app, signs through the double-sign guard, and writes every
 *     input to the WAL before acting on it — its own messages synced before they leave;
 *   - decisions: assembles the commit from the round's precommits, hands block and commit to the
 *     app, marks the end of the height in the WAL, waits the commit timeout and starts the next
 *     height. Messages for the next height that arrive meanwhile are buffered.
 *
 * Restart: `start(height, replay)` feeds back the WAL entries of that height in order. The state
 * machine is deterministic, so it asks for the same votes again; the guard answers identical sign
 * bytes with the stored signature, and our own proposal is taken from the WAL, not built anew.
 *
 * Everything here is synchronous except the app's commit: a message is fully handled (logged,
 * counted, acted on) before the next is looked at.
 *
 * Faults. Nothing a peer sends or the app throws escapes to the caller. The app's callbacks are
 * the paper's functions and fail like them: a propose that throws proposes nothing this round (the
 * propose timeout then prevotes nil, as for a silent proposer), a validate that throws makes the
 * block invalid. Anything else that throws — a commit that cannot be written, a WAL append or sync
 * that fails, a bug — halts the driver for good: it stops where it is, logs the error with its
 * stack and reports it through `onHalt`; the process is expected to exit and restart from its WAL,
 * never to carry on from a half-performed step.
 */
import { equalBytes, toHex } from '../chain/bytes.ts';
import type { Commit } from '../chain/vote.ts';
import { PRECOMMIT, PREVOTE, type Vote, type VoteType } from '../chain/vote.ts';
import { proposalSignBytes, type Proposal } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import { initialState, MAX_PROPOSALS_PER_ROUND, step, timeoutDuration, type ConsensusState, type Effect, type Input, type TimeoutConfig, type TimeoutKind } from './state-machine.ts';
import type { ValidatorSet } from './validators.ts';
import { VoteKeeper } from './vote-keeper.ts';
import { verifyVotes, type SignatureCache } from './verify.ts';
import { entriesToReplay, type WalEntry, type WalStore } from './wal.ts';

/** The application side: blocks are opaque bytes to consensus. */
export interface ConsensusApp {
  /** Builds the block this validator proposes at (height, round); a throw skips the proposal. */
  propose(height: number, round: number): { block: Uint8Array; hash: Uint8Array };
  /**
   * The paper's valid(v): the block's hash if it may be voted for, else a reason. Should not throw
   * (a throw counts as invalid and is logged as a bug).
   * `proposal` says in which round it is proposed and its validRound: a fresh block (-1) was built
   * by that round's proposer; a block re-proposed after a polka keeps the proposer that built it.
   * `receivedAt` is when the proposal reached this validator (the timers' clock): a fresh block's
   * time is judged against it (consensus/timeliness.ts), and a valid block that is not timely comes
   * back with the reason in `untimely`. Timeliness is not validity: it only withholds our prevote
   * for a fresh proposal (ProposalFact.timely), never a lock or a decision.
   */
  validate(height: number, block: Uint8Array, proposal: { round: number; validRound: number; receivedAt: number }): ValidationResult;
  /**
   * Applies a decided block with the commit that finalised it. The next height starts when it
   * resolves; a rejection (or throw) halts the driver: the block is decided, and a node that cannot
   * store it must not vote on a state it does not have.
   */
  commit(height: number, block: Uint8Array, commit: Commit): Promise<void>;
}

export type ValidationResult = { hash: Uint8Array; untimely?: string } | { error: string };

/** Signs for this validator behind the double-sign guard (privval.ts). Throws rather than sign a conflict. */
export interface ConsensusSigner {
  readonly address: Uint8Array;
  signVote(v: { type: VoteType; height: number; round: number; blockHash: Uint8Array | null }): Vote;
  signProposal(p: { height: number; round: number; validRound: number; blockHash: Uint8Array }): Proposal;
}

export interface ConsensusTimers {
  /** Calls fn after ms; returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void;
  /** This validator's clock, Unix ms: when a proposal arrived. */
  now(): number;
}

export interface ConsensusOutbox {
  proposal(p: Proposal, block: Uint8Array): void;
  vote(v: Vote): void;
}

export interface DriverLog {
  error(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface DriverOptions {
  chainId: string;
  validators: ValidatorSet;
  /** null for a node that follows consensus without voting. */
  signer: ConsensusSigner | null;
  app: ConsensusApp;
  wal: WalStore;
  timers: ConsensusTimers;
  outbox: ConsensusOutbox;
  timeouts: Readonly<Record<TimeoutKind, TimeoutConfig>>;
  /** Pause after a commit before the next height starts: the block time. */
  commitTimeoutMs: number;
  sigCache?: SignatureCache;
  onEvidence?: (ev: DuplicateVoteEvidence) => void;
  onDecide?: (height: number, round: number, blockHash: Uint8Array) => void;
  /** Told once, when the driver halts for good (see the header); it has logged the error already. */
  onHalt?: (err: Error) => void;
  log?: DriverLog;
}

/** Most buffered messages for the next height (a node a little behind or committing). */
const MAX_FUTURE_MESSAGES = 10_000;
/** Rounds ahead of ours whose votes are still counted (the f+1 skip needs them). */
const MAX_ROUND_AHEAD = 1_000;
/** Refused (equivocating) votes kept per validator and (round, type). */
const MAX_REFUSED_PER_VALIDATOR = 4;

type Message = { kind: 'proposal'; proposal: Proposal; block: Uint8Array; receivedAt: number } | { kind: 'votes'; votes: Vote[] };

export interface DriverStatus {
  height: number;
  round: number;
  step: ConsensusState['step'];
  lockedRound: number;
  validRound: number;
  committing: boolean;
  halted: boolean;
}

const NO_LOG: DriverLog = { error() {}, info() {}, warn() {}, debug() {} };

export class ConsensusDriver {
  readonly #o: DriverOptions;
  readonly #log: DriverLog;
  #state: ConsensusState;
  #keeper: VoteKeeper | null = null;
  /** Blocks of this height by hash hex: proposed by anyone, or built by us. */
  #blocks = new Map<string, Uint8Array>();
  /**
   * round -> the proposals taken (good signature, distinct block hashes), in arrival order. A repeat
   * of a value already taken is dropped before anything else, so gossip re-delivering it costs a lookup.
   */
  #proposals = new Map<number, Proposal[]>();
  /** Our own proposals found in the WAL on replay, by round: proposed again, never rebuilt. */
  #ownFromWal = new Map<number, { proposal: Proposal; block: Uint8Array }>();
  /**
   * Our own votes found in the WAL on replay, by `${type}/${round}`: sent again as they are. The
   * guard keeps only the last thing it signed, so asking it again for an earlier step (the prevote
   * of a round whose precommit it already signed) would be refused as a regression.
   */
  #ownVotesFromWal = new Map<string, Vote>();
  /** Blocks we built (WAL 'value' entries) by round, found on replay: proposed again, never rebuilt. */
  #ownValuesFromWal = new Map<number, Uint8Array>();
  /**
   * Votes the keeper refused because their validator had voted otherwise first, by
   * `${round}/${type}`. The paper's thresholds count every signed vote for a value, so these count
   * toward the value they name: otherwise honest nodes that took an equivocator's votes in different
   * orders disagree about which polkas exist, lock on different values and may never decide again.
   * Safe with at most f faulty: two values cannot both reach +2/3, as each needs f+1 honest votes.
   */
  #refused = new Map<string, Vote[]>();
  #timers: (() => void)[] = [];
  #inputs: Input[] = [];
  #draining = false;
  #committing = false;
  #future: Message[] = [];
  #stopped = false;
  #startTimer: (() => void) | null = null;
  /** Bumped by start and stop: a commit that settles after either belongs to a past life. */
  #epoch = 0;
  /** Why the driver halted; once set it never runs again. */
  #halted: Error | null = null;
  /** Depth of guarded calls: only the outermost catches, so a fault unwinds the whole step. */
  #guardDepth = 0;

  constructor(opts: DriverOptions) {
    this.#o = opts;
    this.#log = opts.log ?? NO_LOG;
    this.#state = initialState({
      self: opts.signer?.address ?? new Uint8Array(20),
      validators: opts.validators,
      timeouts: opts.timeouts,
    });
  }

  get height(): number {
    return this.#state.height;
  }

  status(): DriverStatus {
    const s = this.#state;
    return { height: s.height, round: s.round, step: s.step, lockedRound: s.lockedRound, validRound: s.validRound, committing: this.#committing, halted: this.#halted !== null };
  }

  /** Power of the prevotes and precommits seen in the current round. */
  votePower(): { prevote: number; precommit: number } {
    const k = this.#keeper;
    const round = this.#state.round;
    if (k === null || round < 0) return { prevote: 0, precommit: 0 };
    return { prevote: k.voteSet(round, PREVOTE).votedPower, precommit: k.voteSet(round, PRECOMMIT).votedPower };
  }

  /**
   * Starts `height`. `replay` are WAL entries; those of this height are fed back first, in order,
   * so a restarted validator continues where it was (and signs nothing that conflicts).
   */
  start(height: number, replay: readonly WalEntry[] = []): void {
    if (this.#halted !== null) {
      this.#log.warn('not starting: consensus halted earlier; restart the process', { height, error: this.#halted.message });
      return;
    }
    this.#guard(() => this.#start(height, replay));
  }

  #start(height: number, replay: readonly WalEntry[]): void {
    // Also how a stopped driver resumes, at any height (after block sync applied the ones between).
    this.#stopped = false;
    this.#committing = false;
    this.#startTimer?.();
    this.#startTimer = null;
    this.#epoch++;
    this.#enterHeight(height);
    const mine = entriesToReplay(replay, height);
    if (mine.length > 0) this.#log.info('replaying the WAL', { height, entries: mine.length });
    const self = this.#o.signer?.address;
    for (const e of mine) {
      // The first own proposal of a round is the one we signed (any later one came back from the network).
      if (e.kind === 'proposal' && this.#isOwn(e.proposal) && !this.#ownFromWal.has(e.proposal.round)) this.#ownFromWal.set(e.proposal.round, { proposal: e.proposal, block: e.block });
      if (e.kind === 'vote' && self !== undefined && equalBytes(e.vote.validator, self)) this.#ownVotesFromWal.set(`${e.vote.type}/${e.vote.round}`, e.vote);
      if (e.kind === 'value') this.#ownValuesFromWal.set(e.round, e.block);
    }
    this.#feed({ kind: 'start-height', height });
    for (const e of mine) {
      switch (e.kind) {
        case 'proposal':
          if (!this.#isOwn(e.proposal)) this.#onProposal(e.proposal, e.block, false, this.#o.timers.now());
          break;
        case 'vote':
          this.#onVotes([e.vote], false);
          break;
        case 'timeout':
          this.#feed({ kind: 'timeout', timeout: e.timeout, height: e.height, round: e.round });
          break;
        default:
          break;
      }
    }
    this.#drainFuture();
  }

  /** A proposal and its block from the network. */
  receiveProposal(proposal: Proposal, block: Uint8Array): void {
    if (this.#stopped) return;
    this.#guard(() => this.#takeProposal(proposal, block, this.#o.timers.now()));
  }

  #takeProposal(proposal: Proposal, block: Uint8Array, receivedAt: number): void {
    if (this.#defer({ kind: 'proposal', proposal, block, receivedAt }, proposal.height)) return;
    this.#onProposal(proposal, block, true, receivedAt);
  }

  /** Votes from the network, delivered together: verified as one batch. */
  receiveVotes(votes: readonly Vote[]): void {
    if (this.#stopped || votes.length === 0) return;
    this.#guard(() => {
      const now: Vote[] = [];
      for (const v of votes) {
        if (!this.#defer({ kind: 'votes', votes: [v] }, v.height)) now.push(v);
      }
      if (now.length > 0) this.#onVotes(now, true);
    });
  }

  /** Stops timers and ignores everything after; the WAL and app are the caller's to close. */
  stop(): void {
    this.#stopped = true;
    this.#epoch++;
    this.#clearTimers();
    this.#startTimer?.();
    this.#startTimer = null;
  }

  // ---- faults --------------------------------------------------------------------------------

  /** Runs an entry point (a message, a timer, a commit settling); a throw from any depth halts. */
  #guard(fn: () => void): void {
    if (this.#halted !== null) return;
    if (this.#guardDepth > 0) return fn();
    this.#guardDepth++;
    try {
      fn();
    } catch (err) {
      this.halt(err);
    } finally {
      this.#guardDepth--;
    }
  }

  /**
   * Stops for good, logging why and telling onHalt (once): what the driver does on a fault of its
   * own, and what its host calls on one found elsewhere (a synced block it could not store).
   */
  halt(err: unknown): void {
    if (this.#halted !== null) return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.#halted = error;
    this.stop();
    const { height, round } = this.#state;
    // The error object itself: the log shows its stack and its causes'.
    this.#log.error('consensus halted', { height, round, error });
    this.#o.onHalt?.(error);
  }

  /** A timer whose callback runs guarded. */
  #schedule(ms: number, fn: () => void): () => void {
    return this.#o.timers.schedule(ms, () => this.#guard(fn));
  }

  /** The app's valid(v); a throw is a bug in the app, and the block counts as invalid. */
  #validate(height: number, block: Uint8Array, proposal: { round: number; validRound: number; receivedAt: number }): ValidationResult {
    try {
      return this.#o.app.validate(height, block, proposal);
    } catch (err) {
      this.#log.error('the app threw while validating a block; taking it as invalid', { height, round: proposal.round, error: err });
      return { error: `validation threw: ${(err as Error)?.message ?? String(err)}` };
    }
  }

  /**
   * Proposes nothing in this round: the propose timeout then prevotes nil, as every other
   * validator does for a silent proposer, and the round moves on (a lone validator included).
   */
  #skipProposal(height: number, round: number): void {
    this.#timers.push(this.#schedule(timeoutDuration(this.#state.config, 'propose', round), () => this.#onTimeout('propose', height, round)));
  }

  // ---- heights -------------------------------------------------------------------------------

  #enterHeight(height: number): void {
    this.#clearTimers();
    this.#keeper = new VoteKeeper(this.#o.validators, height);
    this.#blocks = new Map();
    this.#proposals = new Map();
    this.#ownFromWal = new Map();
    this.#ownVotesFromWal = new Map();
    this.#ownValuesFromWal = new Map();
    this.#refused = new Map();
    this.#inputs = [];
    this.#state = initialState(this.#state.config);
  }

  /**
   * Buffers a message for the next height (or ours while it has not started); drops the rest.
   * Messages of the current height are taken even while its block is being committed: the state
   * machine ignores them once it has decided, but late votes still reveal equivocation (and a
   * height decided at once, as a lone validator's is, must not lose what was buffered for it).
   */
  #defer(msg: Message, height: number): boolean {
    const current = this.#state.height;
    if (height === current && this.#state.step !== 'unstarted') return false;
    // Past heights are decided; heights beyond the next are block sync's job, not ours.
    const soon = height === current + 1 || (height === current && this.#state.step === 'unstarted');
    if (soon && this.#future.length < MAX_FUTURE_MESSAGES) this.#future.push(msg);
    return true;
  }

  #drainFuture(): void {
    const pending = this.#future;
    this.#future = [];
    const votes: Vote[] = [];
    for (const m of pending) {
      // A buffered proposal keeps the time it arrived: it was not late, we were.
      if (m.kind === 'proposal') this.#takeProposal(m.proposal, m.block, m.receivedAt);
      else votes.push(...m.votes);
    }
    this.receiveVotes(votes);
  }

  // ---- messages ------------------------------------------------------------------------------

  #isOwn(p: Proposal): boolean {
    const signer = this.#o.signer;
    return signer !== null && this.#o.validators.isProposer(signer.address, p.height, p.round);
  }

  #onProposal(p: Proposal, block: Uint8Array, log: boolean, receivedAt: number): void {
    const s = this.#state;
    if (p.height !== s.height || s.step === 'commit') return;
    const taken = this.#proposals.get(p.round) ?? [];
    // In our own rounds we take only the proposal we signed: another with our key is a forgery or an
    // equivocator's echo, and must never be taken for ours on replay.
    const limit = this.#isOwn(p) ? 1 : MAX_PROPOSALS_PER_ROUND;
    if (taken.length >= limit || taken.some((q) => equalBytes(q.blockHash, p.blockHash))) return;
    const proposer = this.#o.validators.proposer(p.height, p.round);
    if (!verifySignature(proposer.publicKey, proposalSignBytes(this.#o.chainId, p), p.signature)) {
      this.#log.warn('proposal with a bad signature', { height: p.height, round: p.round });
      return;
    }
    const checked = this.#validate(p.height, block, { round: p.round, validRound: p.validRound, receivedAt });
    const valid = 'hash' in checked && equalBytes(checked.hash, p.blockHash);
    const timely = !('untimely' in checked) || checked.untimely === undefined;
    if (!valid) {
      this.#log.warn('invalid proposed block', { height: p.height, round: p.round, reason: 'error' in checked ? checked.error : 'hash differs from the proposal' });
    } else if (!timely) {
      this.#log.warn('untimely proposed block: no prevote for it, though it may still be decided', { height: p.height, round: p.round, reason: checked.untimely });
    }
    if (log) this.#o.wal.append({ kind: 'proposal', proposal: p, block }, { sync: false });
    this.#proposals.set(p.round, [...taken, p]);
    if (valid) this.#blocks.set(toHex(p.blockHash), block);
    this.#feed({ kind: 'proposal', height: p.height, round: p.round, blockHash: p.blockHash, validRound: p.validRound, valid, timely });
  }

  #onVotes(votes: readonly Vote[], fromNetwork: boolean): void {
    const keeper = this.#keeper;
    if (keeper === null) return;
    const s = this.#state;
    const relevant = votes.filter((v) => v.height === s.height && v.round <= Math.max(s.round, 0) + MAX_ROUND_AHEAD);
    const ok = fromNetwork ? verifyVotes(this.#o.chainId, this.#o.validators, relevant, this.#o.sigCache) : relevant.map(() => true);
    for (const [i, vote] of relevant.entries()) {
      if (!ok[i]) {
        this.#log.warn('vote with a bad signature', { height: vote.height, round: vote.round, validator: toHex(vote.validator) });
        continue;
      }
      const { result, inputs } = keeper.add(vote);
      if (result.kind === 'equivocation') {
        this.#log.warn('equivocation', { height: vote.height, round: vote.round, validator: toHex(vote.validator) });
        this.#o.onEvidence?.(result.evidence);
        if (!this.#refuse(vote)) continue;
      } else if (result.kind !== 'added') continue;
      if (fromNetwork) this.#o.wal.append({ kind: 'vote', vote }, { sync: false });
      for (const input of [...inputs, ...this.#refusedQuorum(keeper, vote)]) this.#feed(input);
    }
  }

  /** Keeps a refused vote (see #refused); false if it was kept already or its validator has too many. */
  #refuse(vote: Vote): boolean {
    const key = `${vote.round}/${vote.type}`;
    const list = this.#refused.get(key) ?? [];
    const theirs = list.filter((v) => equalBytes(v.validator, vote.validator));
    if (theirs.length >= MAX_REFUSED_PER_VALIDATOR || theirs.some((v) => sameValue(v.blockHash, vote.blockHash))) return false;
    list.push(vote);
    this.#refused.set(key, list);
    return true;
  }

  /** The threshold that vote's value reaches once refused votes for it are counted too, if any. */
  #refusedQuorum(keeper: VoteKeeper, vote: Vote): Input[] {
    const refused = this.#refused.get(`${vote.round}/${vote.type}`);
    if (refused === undefined) return [];
    let power = keeper.voteSet(vote.round, vote.type).powerFor(vote.blockHash);
    for (const v of refused) if (sameValue(v.blockHash, vote.blockHash)) power += this.#o.validators.byAddress(v.validator)?.power ?? 0;
    if (!this.#o.validators.isQuorum(power)) return [];
    const { height, round, blockHash } = vote;
    return [vote.type === PREVOTE ? { kind: 'polka', height, round, blockHash } : { kind: 'precommit-quorum', height, round, blockHash }];
  }

  // ---- the state machine and its effects -----------------------------------------------------

  #feed(input: Input): void {
    this.#inputs.push(input);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#inputs.shift(); next !== undefined; next = this.#inputs.shift()) {
        const { state, effects } = step(this.#state, next);
        this.#state = state;
        for (const e of effects) this.#perform(e);
      }
    } finally {
      this.#draining = false;
    }
  }

  #perform(e: Effect): void {
    switch (e.kind) {
      case 'get-value': {
        // A block built before a crash is proposed again as it was (the guard signs only the same
        // proposal twice); a new block is synced to the WAL before anything about it is signed.
        const own = this.#ownFromWal.get(e.round)?.block ?? this.#ownValuesFromWal.get(e.round);
        let value: { block: Uint8Array; hash: Uint8Array };
        if (own !== undefined) {
          const checked = this.#validate(e.height, own, { round: e.round, validRound: -1, receivedAt: this.#o.timers.now() });
          if (!('hash' in checked)) {
            this.#log.warn('the block built before the restart is no longer valid; not proposing this round', { height: e.height, round: e.round, reason: checked.error });
            this.#skipProposal(e.height, e.round);
            break;
          }
          value = { block: own, hash: checked.hash };
        } else {
          try {
            value = this.#o.app.propose(e.height, e.round);
          } catch (err) {
            this.#log.error('the app could not build a block; not proposing this round', { height: e.height, round: e.round, error: err });
            this.#skipProposal(e.height, e.round);
            break;
          }
          this.#o.wal.append({ kind: 'value', height: e.height, round: e.round, block: value.block }, { sync: true });
        }
        this.#blocks.set(toHex(value.hash), value.block);
        this.#feed({ kind: 'value-ready', height: e.height, round: e.round, blockHash: value.hash });
        break;
      }
      case 'broadcast-proposal': {
        const signer = this.#o.signer;
        const block = this.#blocks.get(toHex(e.blockHash));
        if (signer === null || block === undefined) break;
        const logged = this.#ownFromWal.get(e.round)?.proposal;
        const again = logged !== undefined && logged.validRound === e.validRound && equalBytes(logged.blockHash, e.blockHash);
        const proposal = again ? logged : this.#sign(() => signer.signProposal({ height: e.height, round: e.round, validRound: e.validRound, blockHash: e.blockHash }));
        if (proposal === null) break;
        const taken = this.#proposals.get(e.round) ?? [];
        if (!taken.some((q) => equalBytes(q.blockHash, proposal.blockHash))) this.#proposals.set(e.round, [...taken, proposal]);
        // Synced before it leaves: after a crash we re-propose this block, never another.
        if (!again) this.#o.wal.append({ kind: 'proposal', proposal, block }, { sync: true });
        this.#o.outbox.proposal(proposal, block);
        break;
      }
      case 'broadcast-vote': {
        const signer = this.#o.signer;
        if (signer === null) break;
        const logged = this.#ownVotesFromWal.get(`${e.type}/${e.round}`);
        const again = logged !== undefined && sameValue(logged.blockHash, e.blockHash);
        const vote = again ? logged : this.#sign(() => signer.signVote({ type: e.type, height: e.height, round: e.round, blockHash: e.blockHash }));
        if (vote === null) break;
        if (!again) this.#o.wal.append({ kind: 'vote', vote }, { sync: true });
        this.#o.outbox.vote(vote);
        this.#onVotes([vote], false);
        break;
      }
      case 'schedule-timeout': {
        const { timeout, height, round } = e;
        const cancel = this.#schedule(e.durationMs, () => this.#onTimeout(timeout, height, round));
        this.#timers.push(cancel);
        break;
      }
      case 'decide':
        this.#decide(e.height, e.round, e.blockHash);
        break;
    }
  }

  /**
   * Signs through the guard. A refusal means signing would conflict with something signed before
   * (the WAL lost after a crash, say): this validator stays silent rather than stop, and after a
   * precommit timeout moves itself to the next round, where it may sign again. Skipping a round is
   * always safe (locks carry over); without it a validator that is its own quorum would wait forever.
   */
  #sign<T>(fn: () => T): T | null {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'double_sign' && code !== 'regression') throw err;
      const { height, round } = this.#state;
      this.#log.warn('the double-sign guard refused to sign; staying silent this round', { height, round, error: (err as Error).message });
      const skip = { kind: 'round-skip', height, round: round + 1 } as const;
      this.#timers.push(this.#schedule(timeoutDuration(this.#state.config, 'precommit', round), () => {
        if (!this.#stopped && !this.#committing) this.#feed(skip);
      }));
      return null;
    }
  }

  #onTimeout(timeout: TimeoutKind, height: number, round: number): void {
    if (this.#stopped || height !== this.#state.height || this.#committing) return;
    this.#o.wal.append({ kind: 'timeout', timeout, height, round }, { sync: false });
    this.#feed({ kind: 'timeout', timeout, height, round });
  }

  #decide(height: number, round: number, blockHash: Uint8Array): void {
    const block = this.#blocks.get(toHex(blockHash));
    const keeper = this.#keeper;
    if (block === undefined || keeper === null) throw new Error(`decided block ${toHex(blockHash)} at height ${height} is not held`);
    const commit = commitFrom(keeper, round, blockHash, this.#refused.get(`${round}/${PRECOMMIT}`));
    this.#committing = true;
    this.#clearTimers();
    this.#o.onDecide?.(height, round, blockHash);
    this.#log.debug('decided', { height, round, hash: toHex(blockHash) });
    const epoch = this.#epoch;
    let applied: Promise<void>;
    try {
      applied = this.#o.app.commit(height, block, commit);
    } catch (err) {
      applied = Promise.reject(err);
    }
    applied.then(
      () => this.#guard(() => {
        if (this.#stopped || epoch !== this.#epoch) return;
        // Only now, with the block stored (durably, for a node), may the WAL say the height ended.
        this.#o.wal.endHeight(height);
        this.#startTimer = this.#schedule(this.#o.commitTimeoutMs, () => {
          this.#startTimer = null;
          if (this.#stopped || epoch !== this.#epoch) return;
          this.start(height + 1);
        });
      }),
      (err: unknown) => {
        // Stopped meanwhile (closing, or block sync took over): not this driver's fault to report.
        if (epoch !== this.#epoch) return;
        const cause = err instanceof Error ? err : new Error(String(err));
        this.halt(new Error(`could not apply the decided block at height ${height}: ${cause.message}`, { cause }));
      },
    );
  }

  #clearTimers(): void {
    for (const cancel of this.#timers) cancel();
    this.#timers = [];
  }
}

/**
 * The precommits for blockHash in round, as the commit stored with the block, in validator order.
 * `refused` are precommits the keeper did not count (see ConsensusDriver#refused); each validator
 * appears once, as a refused vote is never for the value its validator's counted vote names.
 */
export function commitFrom(keeper: VoteKeeper, round: number, blockHash: Uint8Array, refused: readonly Vote[] = []): Commit {
  const set = keeper.voteSet(round, PRECOMMIT);
  const index = (v: Vote) => keeper.validators.indexOf(v.validator);
  const signatures = [...set.votes(), ...refused]
    .filter((v) => v.type === PRECOMMIT && v.blockHash !== null && equalBytes(v.blockHash, blockHash))
    .sort((a, b) => index(a) - index(b))
    .map((v) => ({ validator: v.validator, signature: v.signature }));
  return { height: keeper.height, round, blockHash, signatures };
}

function sameValue(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : equalBytes(a, b);
}
