/**
 * What this validator signed or built at a height before a restart, found in the WAL entries it
 * replays: proposed and sent again as they were, never rebuilt or signed anew. The guard keeps
 * only the last thing it signed, so asking it again for an earlier step (the prevote of a round
 * whose precommit it already signed) would be refused as a regression.
 */
import { equalBytes } from '../chain/bytes.ts';
import type { Proposal } from '../chain/proposal.ts';
import type { Vote, VoteType } from '../chain/vote.ts';
import type { WalEntry } from './wal.ts';

export class OwnMessages {
  /** Our own proposals, by round. */
  readonly #proposals = new Map<number, { proposal: Proposal; block: Uint8Array }>();
  /** Our own votes, by `${type}/${round}`. */
  readonly #votes = new Map<string, Vote>();
  /** Blocks we built (WAL 'value' entries), by round. */
  readonly #values = new Map<number, Uint8Array>();

  /** `isOwn` says whether a proposal is for a round we propose in; `self` is our address, if we vote. */
  constructor(entries: readonly WalEntry[], self: Uint8Array | undefined, isOwn: (p: Proposal) => boolean) {
    for (const e of entries) {
      // The first own proposal of a round is the one we signed (any later one came back from the network).
      if (e.kind === 'proposal' && isOwn(e.proposal) && !this.#proposals.has(e.proposal.round)) this.#proposals.set(e.proposal.round, { proposal: e.proposal, block: e.block });
      if (e.kind === 'vote' && self !== undefined && equalBytes(e.vote.validator, self)) this.#votes.set(`${e.vote.type}/${e.vote.round}`, e.vote);
      if (e.kind === 'value') this.#values.set(e.round, e.block);
    }
  }

  /** The proposal we signed in `round`, with its block. */
  proposal(round: number): { proposal: Proposal; block: Uint8Array } | undefined {
    return this.#proposals.get(round);
  }

  /** The block we proposed or built in `round`. */
  block(round: number): Uint8Array | undefined {
    return this.#proposals.get(round)?.block ?? this.#values.get(round);
  }

  vote(type: VoteType, round: number): Vote | undefined {
    return this.#votes.get(`${type}/${round}`);
  }
}
