/**
 * Evidence of misbehaviour that blocks carry. Today there is one kind: duplicate-vote evidence, two
 * votes of one validator for the same (height, round, type) that name different values (what
 * consensus/vote-set.ts reports as equivocation).
 *
 * One misbehaviour must have one encoding, or the same evidence could be committed twice under two
 * hashes: the two votes are put in a canonical order (nil first, then by block hash bytes, then by
 * signature bytes) before encoding, and the decoder refuses any other order. `evidenceHash` is
 * sha256 of that encoding, so it does not depend on which vote a node happened to see first.
 *
 * Wire shape:
 *   evidence = [1 (duplicate vote), vote, vote]      vote as in chain/vote.ts
 *
 * The checks here are about form only; whether the signer is a validator and the signatures hold
 * is consensus/verify.ts's job (verifyEvidence).
 */
import { compareBytes, equalBytes } from './bytes.ts';
import { CodecError, decodeCanonical, encodeCanonical, tuple, type CborValue } from './codec.ts';
import { sha256 } from './hash.ts';
import { merkleRoot } from './merkle.ts';
import { decodeVote, encodeVote, type Vote } from './vote.ts';

export const EVIDENCE_DUPLICATE_VOTE = 1;
/** At most this many evidence items in one block. */
export const MAX_BLOCK_EVIDENCE = 100;
const MAX_EVIDENCE_BYTES = 600;

/** Both votes of one validator for one (height, round, type) that name different values. */
export interface DuplicateVoteEvidence {
  first: Vote;
  second: Vote;
}

/** The canonical order of two votes: nil first, then by block hash bytes, then by signature bytes. */
export function compareVotes(a: Vote, b: Vote): number {
  if (a.blockHash === null || b.blockHash === null) {
    if (a.blockHash !== b.blockHash) return a.blockHash === null ? -1 : 1;
  } else {
    const c = compareBytes(a.blockHash, b.blockHash);
    if (c !== 0) return c;
  }
  return compareBytes(a.signature, b.signature);
}

/** The same evidence with its votes in canonical order (a new object only when they were not). */
export function normalizeEvidence(e: DuplicateVoteEvidence): DuplicateVoteEvidence {
  checkShape(e);
  return compareVotes(e.first, e.second) <= 0 ? e : { first: e.second, second: e.first };
}

/** The evidence's height: both votes' (once it is well formed). */
export function evidenceHeight(e: DuplicateVoteEvidence): number {
  return e.first.height;
}

/**
 * What is wrong with the evidence's form, or null when it is a well-formed duplicate vote: same
 * validator, height, round and type, and different values. Signatures are not checked here.
 */
export function evidenceProblem(e: DuplicateVoteEvidence): string | null {
  checkShape(e);
  const { first: a, second: b } = e;
  if (!equalBytes(a.validator, b.validator)) return 'the two votes are from different validators';
  if (a.height !== b.height) return `the votes are for different heights (${a.height} and ${b.height})`;
  if (a.round !== b.round) return `the votes are for different rounds (${a.round} and ${b.round})`;
  if (a.type !== b.type) return `the votes are of different types (${a.type} and ${b.type})`;
  const same = a.blockHash === null || b.blockHash === null ? a.blockHash === b.blockHash : equalBytes(a.blockHash, b.blockHash);
  if (same) return 'the two votes are for the same value, which is not equivocation';
  return null;
}

// Votes go through their own codec (chain/vote.ts) so a vote inside evidence is read by exactly
// the rules of a vote on the wire; evidence is rare, so the extra encode costs nothing that matters.
function voteValue(v: Vote): CborValue {
  return decodeCanonical(encodeVote(v), 'vote');
}

function readVoteValue(v: CborValue | undefined, what: string): Vote {
  if (!Array.isArray(v)) throw new CodecError('schema', `${what}: expected a list`);
  try {
    return decodeVote(encodeCanonical(v));
  } catch (err) {
    if (err instanceof CodecError) throw new CodecError(err.code, `${what}: ${err.message}`);
    throw err;
  }
}

/** The canonical tuple of the evidence (votes ordered), for embedding in a block. */
export function evidenceTuple(e: DuplicateVoteEvidence): CborValue {
  const n = normalizeEvidence(e);
  return [EVIDENCE_DUPLICATE_VOTE, voteValue(n.first), voteValue(n.second)];
}

/** Reads an evidence tuple; refuses an unknown kind and votes out of canonical order. */
export function readEvidence(v: CborValue | undefined, what = 'evidence'): DuplicateVoteEvidence {
  const [kind, first, second] = tuple(v!, 3, what);
  if (kind !== EVIDENCE_DUPLICATE_VOTE) throw new CodecError('schema', `${what}: unknown evidence kind ${JSON.stringify(kind)}`);
  const e = { first: readVoteValue(first, `${what}.first`), second: readVoteValue(second, `${what}.second`) };
  if (compareVotes(e.first, e.second) > 0) throw new CodecError('non_canonical', `${what}: votes are not in canonical order`);
  return e;
}

export function encodeEvidence(e: DuplicateVoteEvidence): Uint8Array {
  return encodeCanonical(evidenceTuple(e));
}

export function decodeEvidence(encoded: Uint8Array): DuplicateVoteEvidence {
  return readEvidence(decodeCanonical(encoded, 'evidence', MAX_EVIDENCE_BYTES));
}

/** sha256 of the canonical encoding: the same for both orders of the votes. */
export function evidenceHash(e: DuplicateVoteEvidence): Uint8Array {
  return sha256(encodeEvidence(e));
}

/** The header's evidenceHash: Merkle root over the evidence hashes in block order. */
export function evidenceRoot(list: readonly DuplicateVoteEvidence[]): Uint8Array {
  return merkleRoot(list.map(evidenceHash));
}

function checkShape(e: DuplicateVoteEvidence): void {
  if (e === null || typeof e !== 'object' || e.first === null || typeof e.first !== 'object' || e.second === null || typeof e.second !== 'object') {
    throw new TypeError('evidence: expected { first: Vote, second: Vote }');
  }
}
