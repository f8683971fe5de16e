/**
 * The votes of one height, turned into the threshold inputs the state machine acts on. Each
 * threshold is reported once, the first time it is reached; the state machine remembers it.
 * Signatures must be verified before `add` (see vote-set.ts).
 */
import { toHex } from '../chain/bytes.ts';
import { PRECOMMIT, PREVOTE, type Vote } from '../chain/vote.ts';
import type { Input } from './state-machine.ts';
import type { ValidatorSet } from './validators.ts';
import { valueKey, VoteSet, type AddVoteResult } from './vote-set.ts';

export class VoteKeeper {
  readonly validators: ValidatorSet;
  readonly height: number;
  readonly #sets = new Map<string, VoteSet>();
  /** round -> validators (hex) with any vote in it, for the f+1 round-skip rule (L55). */
  readonly #voters = new Map<number, Set<string>>();
  readonly #reported = new Set<string>();

  constructor(validators: ValidatorSet, height: number) {
    this.validators = validators;
    this.height = height;
  }

  voteSet(round: number, type: typeof PREVOTE | typeof PRECOMMIT): VoteSet {
    const key = `${round}/${type}`;
    let set = this.#sets.get(key);
    if (set === undefined) {
      set = new VoteSet(this.validators, this.height, round, type);
      this.#sets.set(key, set);
    }
    return set;
  }

  add(vote: Vote): { result: AddVoteResult; inputs: Input[] } {
    if (vote.height !== this.height) return { result: { kind: 'rejected', reason: `vote for height ${vote.height}, keeper is at ${this.height}` }, inputs: [] };
    const set = this.voteSet(vote.round, vote.type);
    const result = set.add(vote);
    if (result.kind !== 'added') return { result, inputs: [] };
    const inputs: Input[] = [];
    const { height } = this;
    const round = vote.round;
    const value = set.quorumValue();
    const prevote = vote.type === PREVOTE;
    if (value !== undefined && this.#first(`${round}/${vote.type}/${valueKey(value)}`)) {
      inputs.push(prevote ? { kind: 'polka', height, round, blockHash: value } : { kind: 'precommit-quorum', height, round, blockHash: value });
    }
    if (set.hasQuorumAny() && this.#first(`${round}/${vote.type}/any`)) {
      inputs.push(prevote ? { kind: 'polka-any', height, round } : { kind: 'precommit-any', height, round });
    }
    let voters = this.#voters.get(round);
    if (voters === undefined) this.#voters.set(round, (voters = new Set()));
    voters.add(toHex(vote.validator));
    let power = 0;
    for (const v of this.validators.validators) if (voters.has(toHex(v.address))) power += v.power;
    if (this.validators.isOneThird(power) && this.#first(`${round}/skip`)) inputs.push({ kind: 'round-skip', height, round });
    return { result, inputs };
  }

  #first(key: string): boolean {
    if (this.#reported.has(key)) return false;
    this.#reported.add(key);
    return true;
  }
}
