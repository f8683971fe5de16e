/**
 * Votes the VoteKeeper refused because their validator had voted otherwise first. The paper's
 * thresholds count every signed vote for a value, so these count toward the value they name:
 * otherwise honest nodes that took an equivocator's votes in different orders disagree about which
 * polkas exist, lock on different values and may never decide again. Safe with at most f faulty:
 * two values cannot both reach +2/3, as each needs f+1 honest votes.
 */
import { equalBytes } from '../chain/bytes.ts';
import { PRECOMMIT, PREVOTE, type Commit, type Vote } from '../chain/vote.ts';
import type { Input } from './state-machine.ts';
import type { VoteKeeper } from './vote-keeper.ts';
import { sameValue } from './vote-set.ts';

/** Refused (equivocating) votes kept per validator and (round, type). */
const MAX_REFUSED_PER_VALIDATOR = 4;

/** The refused votes of one height, by `${round}/${type}`. */
export class RefusedVotes {
  readonly #votes = new Map<string, Vote[]>();

  /** Keeps a refused vote; false if it was kept already or its validator has too many. */
  add(vote: Vote): boolean {
    const key = `${vote.round}/${vote.type}`;
    const list = this.#votes.get(key) ?? [];
    const theirs = list.filter((v) => equalBytes(v.validator, vote.validator));
    if (theirs.length >= MAX_REFUSED_PER_VALIDATOR || theirs.some((v) => sameValue(v.blockHash, vote.blockHash))) return false;
    list.push(vote);
    this.#votes.set(key, list);
    return true;
  }

  /** The threshold that vote's value reaches once refused votes for it are counted too, if any. */
  quorum(keeper: VoteKeeper, vote: Vote): Input[] {
    const refused = this.#votes.get(`${vote.round}/${vote.type}`);
    if (refused === undefined) return [];
    let power = keeper.voteSet(vote.round, vote.type).powerFor(vote.blockHash);
    for (const v of refused) if (sameValue(v.blockHash, vote.blockHash)) power += keeper.validators.byAddress(v.validator)?.power ?? 0;
    if (!keeper.validators.isQuorum(power)) return [];
    const { height, round, blockHash } = vote;
    return [vote.type === PREVOTE ? { kind: 'polka', height, round, blockHash } : { kind: 'precommit-quorum', height, round, blockHash }];
  }

  /** The refused precommits of `round`, for its commit. */
  precommits(round: number): readonly Vote[] | undefined {
    return this.#votes.get(`${round}/${PRECOMMIT}`);
  }
}

/**
 * The precommits for blockHash in round, as the commit stored with the block, in validator order.
 * `refused` are precommits the keeper did not count (RefusedVotes); each validator appears once,
 * as a refused vote is never for the value its validator's counted vote names.
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
