/**
 * The messages of the height the driver is at, taken in and turned into state machine inputs:
 *   - proposals: checks the signature against proposer(height, round), asks the app whether the
 *     block is valid (the paper's valid(v)), keeps a valid block by hash, and feeds each distinct
 *     value of a round, up to MAX_PROPOSALS_PER_ROUND: an equivocating proposer's other value may
 *     be the one +2/3 decide (the state machine prevotes on the first only);
 *   - votes: verifies every vote of a delivery with one batch call (and a cache), counts them in a
 *     VoteKeeper, feeds the thresholds it reports (refused votes included, refused-votes.ts), and
 *     reports equivocation as evidence.
 * A message from the network is written to the WAL before what it adds up to is fed.
 */
import { equalBytes, toHex } from '../chain/bytes.ts';
import { proposalSignBytes, type Proposal } from '../chain/proposal.ts';
import { verifySignature } from '../chain/signature.ts';
import { PRECOMMIT, PREVOTE, type Commit, type Vote } from '../chain/vote.ts';
import type { DriverLog, DriverOptions, ValidationResult } from './ports.ts';
import { commitFrom, RefusedVotes } from './refused-votes.ts';
import { MAX_PROPOSALS_PER_ROUND, type ConsensusState, type Input } from './state-machine.ts';
import { verifyVotes } from './verify.ts';
import { VoteKeeper } from './vote-keeper.ts';

/** Rounds ahead of ours whose votes are still counted (the f+1 skip needs them). */
const MAX_ROUND_AHEAD = 1_000;

/** What intake needs from the driver. */
export interface IntakeContext {
  readonly o: Pick<DriverOptions, 'chainId' | 'validators' | 'sigCache' | 'wal' | 'onEvidence'>;
  readonly log: DriverLog;
  /** Whether `p` is for a round this validator proposes in. */
  isOwn(p: Proposal): boolean;
  /** The app's valid(v); a throw already counts as invalid. */
  validate(height: number, block: Uint8Array, proposal: { round: number; validRound: number; receivedAt: number }): ValidationResult;
  /** Hands an input to the state machine. */
  feed(input: Input): void;
  state(): ConsensusState;
}

export class HeightIntake {
  readonly #c: IntakeContext;
  readonly keeper: VoteKeeper;
  /** Votes the keeper refused from equivocators: they still count toward the value they name. */
  readonly #refused = new RefusedVotes();
  /** Blocks of this height by hash hex: proposed by anyone, or built by us. */
  readonly #blocks = new Map<string, Uint8Array>();
  /**
   * round -> the proposals taken (good signature, distinct block hashes), in arrival order. A repeat
   * of a value already taken is dropped before anything else, so gossip re-delivering it costs a lookup.
   */
  readonly #proposals = new Map<number, Proposal[]>();

  constructor(c: IntakeContext, height: number) {
    this.#c = c;
    this.keeper = new VoteKeeper(c.o.validators, height);
  }

  /** A proposal and its block; `log` writes it to the WAL (false when it is replayed from there). */
  proposal(p: Proposal, block: Uint8Array, log: boolean, receivedAt: number): void {
    const s = this.#c.state();
    if (p.height !== s.height || s.step === 'commit') return;
    const taken = this.#proposals.get(p.round) ?? [];
    // In our own rounds we take only the proposal we signed: another with our key is a forgery or an
    // equivocator's echo, and must never be taken for ours on replay.
    const limit = this.#c.isOwn(p) ? 1 : MAX_PROPOSALS_PER_ROUND;
    if (taken.length >= limit || taken.some((q) => equalBytes(q.blockHash, p.blockHash))) return;
    const proposer = this.#c.o.validators.proposer(p.height, p.round);
    if (!verifySignature(proposer.publicKey, proposalSignBytes(this.#c.o.chainId, p), p.signature)) {
      this.#c.log.warn('proposal with a bad signature', { height: p.height, round: p.round });
      return;
    }
    const checked = this.#c.validate(p.height, block, { round: p.round, validRound: p.validRound, receivedAt });
    const valid = 'hash' in checked && equalBytes(checked.hash, p.blockHash);
    const timely = !('hash' in checked) || checked.untimely === undefined;
    if (!valid) {
      this.#c.log.warn('invalid proposed block', { height: p.height, round: p.round, reason: 'error' in checked ? checked.error : 'hash differs from the proposal' });
    } else if (!timely) {
      this.#c.log.warn('untimely proposed block: no prevote for it, though it may still be decided', { height: p.height, round: p.round, reason: checked.untimely });
    }
    if (log) this.#c.o.wal.append({ kind: 'proposal', proposal: p, block }, { sync: false });
    this.#proposals.set(p.round, [...taken, p]);
    if (valid) this.#blocks.set(toHex(p.blockHash), block);
    this.#c.feed({ kind: 'proposal', height: p.height, round: p.round, blockHash: p.blockHash, validRound: p.validRound, valid, timely });
  }

  /** Votes delivered together; those from the network are verified (as one batch) and logged. */
  votes(votes: readonly Vote[], fromNetwork: boolean): void {
    const keeper = this.keeper;
    const s = this.#c.state();
    const relevant = votes.filter((v) => v.height === s.height && v.round <= Math.max(s.round, 0) + MAX_ROUND_AHEAD);
    const ok = fromNetwork ? verifyVotes(this.#c.o.chainId, this.#c.o.validators, relevant, this.#c.o.sigCache) : relevant.map(() => true);
    for (const [i, vote] of relevant.entries()) {
      if (!ok[i]) {
        this.#c.log.warn('vote with a bad signature', { height: vote.height, round: vote.round, validator: toHex(vote.validator) });
        continue;
      }
      const { result, inputs } = keeper.add(vote);
      if (result.kind === 'equivocation') {
        this.#c.log.warn('equivocation', { height: vote.height, round: vote.round, validator: toHex(vote.validator) });
        this.#c.o.onEvidence?.(result.evidence);
        if (!this.#refused.add(vote)) continue;
      } else if (result.kind !== 'added') continue;
      if (fromNetwork) this.#c.o.wal.append({ kind: 'vote', vote }, { sync: false });
      for (const input of [...inputs, ...this.#refused.quorum(keeper, vote)]) this.#c.feed(input);
    }
  }

  /** A block of this height by its hash, if held. */
  block(hash: Uint8Array): Uint8Array | undefined {
    return this.#blocks.get(toHex(hash));
  }

  /** Holds a block we built. */
  keepBlock(hash: Uint8Array, block: Uint8Array): void {
    this.#blocks.set(toHex(hash), block);
  }

  /** Our own proposal of a round, as sent: taken like one received, so a repeat of it is dropped. */
  takeOwn(proposal: Proposal): void {
    const taken = this.#proposals.get(proposal.round) ?? [];
    if (!taken.some((q) => equalBytes(q.blockHash, proposal.blockHash))) this.#proposals.set(proposal.round, [...taken, proposal]);
  }

  /** The commit of blockHash decided in round: its precommits, refused ones included. */
  commit(round: number, blockHash: Uint8Array): Commit {
    return commitFrom(this.keeper, round, blockHash, this.#refused.precommits(round));
  }

  /** Power of the prevotes and precommits seen in `round`. */
  power(round: number): { prevote: number; precommit: number } {
    return { prevote: this.keeper.voteSet(round, PREVOTE).votedPower, precommit: this.keeper.voteSet(round, PRECOMMIT).votedPower };
  }
}
