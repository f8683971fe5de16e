/**
 * The consensus driver: runs the pure state machine (state-machine.ts) for one validator, one height
 * after another, and performs its effects through ports it is handed — it never touches the
 * network, the disk or the clock itself, which is what lets the same code run in a node, in tests
 * and in the deterministic simulator.
 *
 * What it does between messages and the state machine:
 *   - proposals and votes: taken in by the height's intake (intake.ts): checked, counted, logged,
 *     and what they add up to fed to the state machine;
 *   - effects: builds blocks through the app, signs through the double-sign guard, and writes every
 *     input to the WAL before acting on it — its own messages synced before they leave;
 *   - decisions: assembles the commit from the round's precommits, hands block and commit to the
 *     app, marks the end of the height in the WAL, waits the commit timeout and starts the next
 *     height. Messages for the next height that arrive meanwhile are buffered.
 *
 * Restart: `start(height, replay)` feeds back the WAL entries of that height in order. The state
 * machine is deterministic, so it asks for the same votes again; the guard answers identical sign
 * bytes with the stored signature, and our own proposal is taken from the WAL, not built anew
 * (own-messages.ts).
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
import type { Proposal } from '../chain/proposal.ts';
import type { Vote } from '../chain/vote.ts';
import { HeightIntake, type IntakeContext } from './intake.ts';
import { OwnMessages } from './own-messages.ts';
import { NO_LOG, type DriverLog, type DriverOptions, type ValidationResult } from './ports.ts';
import { initialState, step, timeoutDuration, type ConsensusState, type Effect, type Input, type TimeoutKind } from './state-machine.ts';
import { sameValue } from './vote-set.ts';
import { entriesToReplay, type WalEntry } from './wal.ts';

/**
 * Heights past the current one whose messages are buffered. Two: a validator a height behind gets
 * the next-but-one height's proposal while it still commits; dropped, it held +2/3 precommits for a
 * block it never got and waited ~2 s for block sync, while the others timed out on its proposal of
 * the height after (bench/testnet.bench.ts: a round 1 and a 1.5-4 s gap in most runs).
 */
export const FUTURE_HEIGHTS = 2;
/** Most buffered messages for heights to come (a node a little behind or committing). */
const MAX_FUTURE_MESSAGES = 10_000;
/** Most bytes of their blocks: an equivocating proposer could sign gigabytes within the count. */
const MAX_FUTURE_BLOCK_BYTES = 64 << 20;

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

export class ConsensusDriver {
  readonly #o: DriverOptions;
  readonly #log: DriverLog;
  #state: ConsensusState;
  readonly #ctx: IntakeContext;
  /** The proposals, blocks and votes of this height (intake.ts); null before the first start. */
  #intake: HeightIntake | null = null;
  /** What we signed or built at this height before a restart, found in the WAL on replay. */
  #own = new OwnMessages([], undefined, () => false);
  #timers: (() => void)[] = [];
  #inputs: Input[] = [];
  #draining = false;
  #committing = false;
  #future: Message[] = [];
  #futureBlockBytes = 0;
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
    this.#ctx = {
      o: opts, log: this.#log, isOwn: (p) => this.#isOwn(p), validate: (height, block, proposal) => this.#validate(height, block, proposal),
      feed: (input) => this.#feed(input), state: () => this.#state,
    };
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
    const round = this.#state.round;
    if (this.#intake === null || round < 0) return { prevote: 0, precommit: 0 };
    return this.#intake.power(round);
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
    this.#own = new OwnMessages(mine, this.#o.signer?.address, (p) => this.#isOwn(p));
    this.#feed({ kind: 'start-height', height });
    for (const e of mine) {
      switch (e.kind) {
        case 'proposal':
          if (!this.#isOwn(e.proposal)) this.#intake!.proposal(e.proposal, e.block, false, this.#o.timers.now());
          break;
        case 'vote':
          this.#intake!.votes([e.vote], false);
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
    this.#intake?.proposal(proposal, block, true, receivedAt);
  }

  /** Votes from the network, delivered together: verified as one batch. */
  receiveVotes(votes: readonly Vote[]): void {
    if (this.#stopped || votes.length === 0) return;
    this.#guard(() => {
      const now: Vote[] = [];
      for (const v of votes) {
        if (!this.#defer({ kind: 'votes', votes: [v] }, v.height)) now.push(v);
      }
      if (now.length > 0) this.#intake?.votes(now, true);
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
    this.#intake = new HeightIntake(this.#ctx, height);
    this.#own = new OwnMessages([], undefined, () => false);
    this.#inputs = [];
    this.#state = initialState(this.#state.config);
  }

  /**
   * Buffers a message for the next FUTURE_HEIGHTS heights (or ours while it has not started); drops
   * the rest. Messages of the current height are taken even while its block is being committed: the
   * state machine ignores them once it has decided, but late votes still reveal equivocation (and a
   * height decided at once, as a lone validator's is, must not lose what was buffered for it).
   */
  #defer(msg: Message, height: number): boolean {
    const current = this.#state.height;
    if (height === current && this.#state.step !== 'unstarted') return false;
    // Past heights are decided; heights further ahead are block sync's job, not ours.
    const soon = (height > current && height <= current + FUTURE_HEIGHTS) || (height === current && this.#state.step === 'unstarted');
    if (!soon || this.#future.length >= MAX_FUTURE_MESSAGES) return true;
    if (msg.kind === 'proposal') {
      if (this.#futureBlockBytes + msg.block.length > MAX_FUTURE_BLOCK_BYTES) return true;
      this.#futureBlockBytes += msg.block.length;
    }
    this.#future.push(msg);
    return true;
  }

  #drainFuture(): void {
    const pending = this.#future;
    this.#future = [];
    this.#futureBlockBytes = 0; // what is still ahead is buffered again, and counted again
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
        const own = this.#own.block(e.round);
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
        this.#intake!.keepBlock(value.hash, value.block);
        this.#feed({ kind: 'value-ready', height: e.height, round: e.round, blockHash: value.hash });
        break;
      }
      case 'broadcast-proposal': {
        const signer = this.#o.signer;
        const block = this.#intake!.block(e.blockHash);
        if (signer === null || block === undefined) break;
        const logged = this.#own.proposal(e.round)?.proposal;
        const again = logged !== undefined && logged.validRound === e.validRound && equalBytes(logged.blockHash, e.blockHash);
        const proposal = again ? logged : this.#sign(() => signer.signProposal({ height: e.height, round: e.round, validRound: e.validRound, blockHash: e.blockHash }));
        if (proposal === null) break;
        this.#intake!.takeOwn(proposal);
        // Synced before it leaves: after a crash we re-propose this block, never another.
        if (!again) this.#o.wal.append({ kind: 'proposal', proposal, block }, { sync: true });
        this.#o.outbox.proposal(proposal, block);
        break;
      }
      case 'broadcast-vote': {
        const signer = this.#o.signer;
        if (signer === null) break;
        const logged = this.#own.vote(e.type, e.round);
        const again = logged !== undefined && sameValue(logged.blockHash, e.blockHash);
        const vote = again ? logged : this.#sign(() => signer.signVote({ type: e.type, height: e.height, round: e.round, blockHash: e.blockHash }));
        if (vote === null) break;
        if (!again) this.#o.wal.append({ kind: 'vote', vote }, { sync: true });
        this.#o.outbox.vote(vote);
        this.#intake!.votes([vote], false);
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
    const intake = this.#intake;
    const block = intake?.block(blockHash);
    if (block === undefined || intake === null) throw new Error(`decided block ${toHex(blockHash)} at height ${height} is not held`);
    const commit = intake.commit(round, blockHash);
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
