/**
 * Votes and commits. A vote is signed over `hallmark/vote/v1\n` || canonical encoding of
 * [chainId, type, height, round, blockHash or null], so a vote can never be taken for a transaction
 * or replayed on another chain. A commit is the set of precommits for one block that finalised it.
 *
 * Wire shapes:
 *   vote   = [type, height, round, blockHash(32) | null, validator(20), signature(64)]
 *   commit = [height, round, blockHash(32), [[validator(20), signature(64)], ...]]
 */
import { ADDRESS_LENGTH, type Address } from './address.ts';
import { concatBytes, utf8 } from './bytes.ts';
import {
  bytes, checkUint, CodecError, decodeCanonical, encodeCanonical, list, optionalBytes, tuple, uint,
  type CborValue,
} from './codec.ts';
import { checkChainId } from './chain-id.ts';

export const VOTE_SIGN_DOMAIN = utf8('hallmark/vote/v1\n');
export const PREVOTE = 1;
export const PRECOMMIT = 2;
export type VoteType = typeof PREVOTE | typeof PRECOMMIT;
export const MAX_COMMIT_SIGNATURES = 10_000;

export interface Vote {
  type: VoteType;
  height: number;
  round: number;
  /** null is a vote for nil. */
  blockHash: Uint8Array | null;
  validator: Address;
  signature: Uint8Array;
}

export interface CommitSignature {
  validator: Address;
  signature: Uint8Array;
}

export interface Commit {
  height: number;
  round: number;
  blockHash: Uint8Array;
  signatures: CommitSignature[];
}

export function voteSignBytes(
  chainId: string,
  v: { type: VoteType; height: number; round: number; blockHash: Uint8Array | null },
): Uint8Array {
  return concatBytes(
    VOTE_SIGN_DOMAIN,
    encodeCanonical([checkChainId(chainId), v.type, checkUint(v.height, 'vote.height'), checkUint(v.round, 'vote.round'), v.blockHash]),
  );
}

export function voteTuple(v: Vote): CborValue {
  return [v.type, checkUint(v.height, 'vote.height'), checkUint(v.round, 'vote.round'), v.blockHash, v.validator, v.signature];
}

export function readVote(value: CborValue | undefined): Vote {
  const [type, height, round, blockHash, validator, signature] = tuple(value!, 6, 'vote');
  if (type !== PREVOTE && type !== PRECOMMIT) throw new CodecError('schema', `vote.type: expected ${PREVOTE} or ${PRECOMMIT}`);
  return {
    type,
    height: uint(height, 'vote.height'),
    round: uint(round, 'vote.round'),
    blockHash: optionalBytes(blockHash, 'vote.blockHash', 32),
    validator: bytes(validator, 'vote.validator', ADDRESS_LENGTH),
    signature: bytes(signature, 'vote.signature', 64),
  };
}

export function encodeVote(v: Vote): Uint8Array {
  return encodeCanonical(voteTuple(v));
}

export function decodeVote(encoded: Uint8Array): Vote {
  return readVote(decodeCanonical(encoded, 'vote', 256));
}

export function commitTuple(c: Commit): CborValue {
  return [
    checkUint(c.height, 'commit.height'),
    checkUint(c.round, 'commit.round'),
    c.blockHash,
    c.signatures.map((s) => [s.validator, s.signature]),
  ];
}

export function readCommit(value: CborValue | undefined): Commit {
  const [height, round, blockHash, sigs] = tuple(value!, 4, 'commit');
  return {
    height: uint(height, 'commit.height'),
    round: uint(round, 'commit.round'),
    blockHash: bytes(blockHash, 'commit.blockHash', 32),
    signatures: list(sigs, MAX_COMMIT_SIGNATURES, 'commit.signatures').map((s, i) => {
      const [validator, signature] = tuple(s, 2, `commit.signatures[${i}]`);
      return {
        validator: bytes(validator, `commit.signatures[${i}].validator`, ADDRESS_LENGTH),
        signature: bytes(signature, `commit.signatures[${i}].signature`, 64),
      };
    }),
  };
}

export function encodeCommit(c: Commit): Uint8Array {
  return encodeCanonical(commitTuple(c));
}

export function decodeCommit(encoded: Uint8Array): Commit {
  return readCommit(decodeCanonical(encoded, 'commit', 100 * MAX_COMMIT_SIGNATURES + 64));
}
