/**
 * Signature checks for consensus messages: votes, commits and duplicate-vote evidence.
 *
 * Every check goes through `verifySigned`: already-verified triples are answered from a
 * SignatureCache, and everything else is verified with ONE `verifyBatch` call (chain/signature.ts),
 * whose answer for each item is exactly the single-signature answer. Caching only VALID results is
 * what keeps the cache safe: a hit can only say "valid" for a triple that was verified valid, and a
 * triple's validity never changes. A vote gossiped, then seen in a commit, then in the next block's
 * lastCommit is verified once.
 */
import { formatAddress } from '../chain/address.ts';
import { byteKey, concatBytes, equalBytes, toHex, utf8 } from '../chain/bytes.ts';
import { CodedError } from '../chain/errors.ts';
import { evidenceProblem, type DuplicateVoteEvidence } from '../chain/evidence.ts';
import { sha256 } from '../chain/hash.ts';
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '../chain/keys.ts';
import { Lru } from '../chain/lru.ts';
import { verifyBatch, type SignedItem } from '../chain/signature.ts';
import type { SignaturePool } from '../chain/signature-pool.ts';
import { PRECOMMIT, voteSignBytes, type Commit, type Vote } from '../chain/vote.ts';
import type { Validator, ValidatorSet } from './validators.ts';

export const SIGNATURE_CACHE_SIZE = 65_536;
const CACHE_KEY_DOMAIN = utf8('hallmark/sigcache/v1\n');

export interface SignatureCacheStats {
  /** Items answered from the cache. */
  hits: number;
  /** Items that had to be verified. */
  misses: number;
  /** Verification calls made for misses (one per verify call with at least one miss). */
  batches: number;
  size: number;
  capacity: number;
}

/**
 * A bounded LRU of (publicKey, message, signature) triples known to be valid, keyed by a sha256 over
 * them (so an entry costs ~100 bytes whatever the message size).
 */
export class SignatureCache {
  readonly capacity: number;
  readonly #valid: Lru<string, true>;
  #hits = 0;
  #misses = 0;
  #batches = 0;

  constructor(capacity = SIGNATURE_CACHE_SIZE) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`SignatureCache: capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#valid = new Lru(capacity);
  }

  /**
   * The cache key of an item, or null for one that can never be valid (wrong key or signature
   * length). Lengths are fixed for every cached item, so the concatenation is unambiguous.
   */
  static keyOf(item: SignedItem): string | null {
    if (item.publicKey.length !== PUBLIC_KEY_LENGTH || item.signature.length !== SIGNATURE_LENGTH) return null;
    const digest = sha256(concatBytes(CACHE_KEY_DOMAIN, item.publicKey, item.signature, item.message));
    return byteKey(digest);
  }

  /** True if the triple was verified valid before (and is still cached). Not counted in stats. */
  has(item: SignedItem): boolean {
    const key = SignatureCache.keyOf(item);
    return key !== null && this.#lookup(key);
  }

  /**
   * Answer i is exactly `verifySignature(items[i]...)`: cached triples are answered at once, the
   * rest are verified in ONE verifyBatch call and the valid ones cached.
   */
  verify(items: readonly SignedItem[]): boolean[] {
    const { answers, pending, keys } = this.#split(items);
    if (pending.length > 0) this.#record(answers, pending, keys, verifyBatch(pending.map((i) => items[i]!)));
    return answers;
  }

  /** verify()'s answers, the misses verified in ONE call on `pool`'s threads (inline when few). */
  async verifyOn(pool: SignaturePool, items: readonly SignedItem[]): Promise<boolean[]> {
    const { answers, pending, keys } = this.#split(items);
    if (pending.length > 0) this.#record(answers, pending, keys, await pool.verify(pending.map((i) => items[i]!)));
    return answers;
  }

  /**
   * The lowest index of an item that is not valid, or -1: cached triples count as valid, the rest
   * are verified on `pool` until the first invalid one (SignaturePool.verifyUntilInvalid), and every
   * valid answer found on the way is cached.
   */
  async firstInvalidOn(pool: SignaturePool, items: readonly SignedItem[]): Promise<number> {
    const { answers, pending, keys } = this.#split(items);
    if (pending.length === 0) return -1;
    const found = await pool.verifyUntilInvalid(pending.map((i) => items[i]!));
    this.#record(answers, pending, keys, found.answers);
    return found.invalid < 0 ? -1 : pending[found.invalid]!;
  }

  /** Cached items answered true; the rest pending (counted as misses), with every item's key. */
  #split(items: readonly SignedItem[]): { answers: boolean[]; pending: number[]; keys: (string | null)[] } {
    if (!Array.isArray(items)) throw new TypeError('items must be an array of SignedItem');
    const answers = new Array<boolean>(items.length).fill(false);
    const pending: number[] = [];
    const keys: (string | null)[] = [];
    for (let i = 0; i < items.length; i++) {
      const key = SignatureCache.keyOf(items[i]!);
      keys.push(key);
      if (key !== null && this.#lookup(key)) answers[i] = true;
      else pending.push(i);
    }
    this.#hits += items.length - pending.length;
    this.#misses += pending.length;
    if (pending.length > 0) this.#batches++;
    return { answers, pending, keys };
  }

  /** Takes the answers for the pending items (undefined: not verified), caching the valid ones. */
  #record(answers: boolean[], pending: readonly number[], keys: readonly (string | null)[], results: readonly (boolean | undefined)[]): void {
    pending.forEach((i, j) => {
      const key = keys[i];
      answers[i] = results[j] === true;
      if (results[j] === true && typeof key === 'string') this.#valid.set(key, true);
    });
  }

  get size(): number {
    return this.#valid.size;
  }

  stats(): SignatureCacheStats {
    return { hits: this.#hits, misses: this.#misses, batches: this.#batches, size: this.#valid.size, capacity: this.capacity };
  }

  clear(): void {
    this.#valid.clear();
  }

  /** A hit counts as a use: it moves the triple to the back of the eviction order. */
  #lookup(key: string): boolean {
    return this.#valid.get(key) === true;
  }
}

/** The cache's answer when there is one, else one plain verifyBatch call: the same answers either way. */
export function verifySigned(items: readonly SignedItem[], cache?: SignatureCache): boolean[] {
  return cache === undefined ? verifyBatch(items) : cache.verify(items);
}

/**
 * Checks each vote's signature against its validator's key in `validators`: a vote from an address
 * outside the set is false. One verifyBatch call for everything not already cached.
 */
export function verifyVotes(chainId: string, validators: ValidatorSet, votes: readonly Vote[], cache?: SignatureCache): boolean[] {
  if (!Array.isArray(votes)) throw new TypeError('verifyVotes: votes must be an array');
  const answers = new Array<boolean>(votes.length).fill(false);
  const items: SignedItem[] = [];
  const at: number[] = [];
  votes.forEach((vote, i) => {
    const validator = validators.byAddress(vote.validator);
    if (validator === undefined) return;
    items.push({ publicKey: validator.publicKey, message: voteSignBytes(chainId, vote), signature: vote.signature });
    at.push(i);
  });
  verifySigned(items, cache).forEach((ok, j) => {
    answers[at[j]!] = ok;
  });
  return answers;
}

// ---- commits ---------------------------------------------------------------------------------------

export type CommitErrorCode =
  | 'wrong_height' | 'wrong_block' | 'unknown_validator' | 'duplicate_validator' | 'insufficient_power' | 'invalid_signature';

export class CommitError extends CodedError<CommitErrorCode> {}

/**
 * Checks that `commit` finalised the block `expect` names: every signature is a precommit for
 * (height, commit.round, blockHash) from a distinct member of `validators`, every signature is
 * valid, and the signers hold more than 2/3 of the power. Throws CommitError saying what is wrong;
 * the cheap checks run before any signature is verified.
 */
export function verifyCommit(
  chainId: string, validators: ValidatorSet, commit: Commit, expect: { height: number; blockHash: Uint8Array }, cache?: SignatureCache,
): void {
  if (commit.height !== expect.height) {
    throw new CommitError('wrong_height', `commit is for height ${commit.height}, expected ${expect.height}`);
  }
  if (!equalBytes(commit.blockHash, expect.blockHash)) {
    throw new CommitError('wrong_block', `commit at height ${commit.height} is for block ${toHex(commit.blockHash)}, expected ${toHex(expect.blockHash)}`);
  }
  const signers: Validator[] = [];
  const seen = new Set<string>();
  let power = 0;
  commit.signatures.forEach((s, i) => {
    const validator = validators.byAddress(s.validator);
    if (validator === undefined) {
      throw new CommitError('unknown_validator', `commit signature ${i} is from ${formatAddress(s.validator)}, which is not a validator`);
    }
    const id = toHex(s.validator);
    if (seen.has(id)) throw new CommitError('duplicate_validator', `commit signature ${i}: validator ${formatAddress(s.validator)} signed twice`);
    seen.add(id);
    signers.push(validator);
    power += validator.power;
  });
  if (!validators.isQuorum(power)) {
    throw new CommitError('insufficient_power', `commit at height ${commit.height} is signed by power ${power} of ${validators.totalPower}; more than 2/3 (${validators.quorumPower}) is needed`);
  }
  const message = voteSignBytes(chainId, { type: PRECOMMIT, height: commit.height, round: commit.round, blockHash: commit.blockHash });
  const ok = verifySigned(commit.signatures.map((s, i) => ({ publicKey: signers[i]!.publicKey, message, signature: s.signature })), cache);
  const bad = ok.indexOf(false);
  if (bad >= 0) {
    throw new CommitError('invalid_signature', `commit signature ${bad} from validator ${formatAddress(signers[bad]!.address)} does not verify`);
  }
}

// ---- evidence --------------------------------------------------------------------------------------

export type EvidenceErrorCode = 'malformed' | 'unknown_validator' | 'invalid_signature';

export class EvidenceError extends CodedError<EvidenceErrorCode> {}

/**
 * Checks duplicate-vote evidence: two votes of one member of `validators` for the same height,
 * round and type, for different values, both signatures valid. Returns the validator; throws
 * EvidenceError otherwise.
 */
export function verifyEvidence(chainId: string, validators: ValidatorSet, ev: DuplicateVoteEvidence, cache?: SignatureCache): Validator {
  const problem = evidenceProblem(ev);
  if (problem !== null) throw new EvidenceError('malformed', `evidence: ${problem}`);
  const validator = validators.byAddress(ev.first.validator);
  if (validator === undefined) {
    throw new EvidenceError('unknown_validator', `evidence: ${formatAddress(ev.first.validator)} is not a validator`);
  }
  const ok = verifyVotes(chainId, validators, [ev.first, ev.second], cache);
  const bad = ok.indexOf(false);
  if (bad >= 0) {
    throw new EvidenceError('invalid_signature', `evidence: the ${bad === 0 ? 'first' : 'second'} vote's signature from ${formatAddress(validator.address)} does not verify`);
  }
  return validator;
}
