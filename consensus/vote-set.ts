/**
 * The votes of one kind (prevote or precommit) for one height and round, and the thresholds the
 * state machine acts on. Signatures are the caller's job (verify, ideally in a batch, before add):
 * this module only counts, so it stays pure and cheap.
 *
 * A validator's first vote is the one that counts. A second vote for a different value is
 * equivocation: it is not counted (counting it would let one validator weigh twice) but both votes
 * are returned as evidence so the host can report them.
 */
import { equalBytes, toHex } from '../chain/bytes.ts';
import type { Vote, VoteType } from '../chain/vote.ts';
import type { DuplicateVoteEvidence } from '../chain/evidence.ts';
import type { ValidatorSet } from './validators.ts';

/** The evidence type lives in chain/evidence.ts (blocks carry it); re-exported for existing users. */
export type { DuplicateVoteEvidence };

export type AddVoteResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  | { kind: 'equivocation'; evidence: DuplicateVoteEvidence }
  | { kind: 'rejected'; reason: string };

/** The key of a value in tallies: 'nil' or the block hash in hex. */
export function valueKey(blockHash: Uint8Array | null): string {
  return blockHash === null ? 'nil' : toHex(blockHash);
}

export class VoteSet {
  readonly height: number;
  readonly round: number;
  readonly type: VoteType;
  readonly validators: ValidatorSet;
  /** validator address hex -> the vote that counts. */
  readonly #votes = new Map<string, Vote>();
  /** value key -> summed power; kept as integers (total power is bounded by MAX_TOTAL_POWER). */
  readonly #tally = new Map<string, number>();
  #votedPower = 0;
  readonly #evidence: DuplicateVoteEvidence[] = [];

  constructor(validators: ValidatorSet, height: number, round: number, type: VoteType) {
    this.validators = validators;
    this.height = height;
    this.round = round;
    this.type = type;
  }

  add(vote: Vote): AddVoteResult {
    if (vote.height !== this.height || vote.round !== this.round || vote.type !== this.type) {
      return { kind: 'rejected', reason: `vote for (${vote.height}, ${vote.round}, type ${vote.type}) does not belong to (${this.height}, ${this.round}, type ${this.type})` };
    }
    const validator = this.validators.byAddress(vote.validator);
    if (validator === undefined) return { kind: 'rejected', reason: `vote from ${toHex(vote.validator)}, which is not a validator` };
    const who = toHex(vote.validator);
    const existing = this.#votes.get(who);
    if (existing !== undefined) {
      if (sameValue(existing.blockHash, vote.blockHash)) return { kind: 'duplicate' };
      const evidence = { first: existing, second: vote };
      this.#evidence.push(evidence);
      return { kind: 'equivocation', evidence };
    }
    this.#votes.set(who, vote);
    const key = valueKey(vote.blockHash);
    this.#tally.set(key, (this.#tally.get(key) ?? 0) + validator.power);
    this.#votedPower += validator.power;
    return { kind: 'added' };
  }

  /** Power of the validators whose counted vote is for this value (null = nil). */
  powerFor(blockHash: Uint8Array | null): number {
    return this.#tally.get(valueKey(blockHash)) ?? 0;
  }

  /** Power of every validator that has voted, whatever for. */
  get votedPower(): number {
    return this.#votedPower;
  }

  /**
   * The value with more than 2/3 of the power: a block hash, null for nil, or undefined when no
   * value has it (at most one can, as two quorums would need more than 4/3 of the power).
   */
  quorumValue(): Uint8Array | null | undefined {
    for (const vote of this.#votes.values()) {
      if (this.validators.isQuorum(this.powerFor(vote.blockHash))) return vote.blockHash;
    }
    return undefined;
  }

  hasQuorumFor(blockHash: Uint8Array | null): boolean {
    return this.validators.isQuorum(this.powerFor(blockHash));
  }

  /** +2/3 of the power voted, for anything (polka any / precommit any). */
  hasQuorumAny(): boolean {
    return this.validators.isQuorum(this.#votedPower);
  }

  /** More than 1/3 voted in this round (f + 1): enough to skip to it (paper L55). */
  hasOneThirdAny(): boolean {
    return this.validators.isOneThird(this.#votedPower);
  }

  get evidence(): readonly DuplicateVoteEvidence[] {
    return this.#evidence;
  }

  /** The counted votes, in canonical validator order (for commits and gossip). */
  votes(): Vote[] {
    const out: Vote[] = [];
    for (const v of this.validators.validators) {
      const vote = this.#votes.get(toHex(v.address));
      if (vote !== undefined) out.push(vote);
    }
    return out;
  }
}

/** Whether two votes name the same value (the same block, or both nil). */
export function sameValue(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return equalBytes(a, b);
}
