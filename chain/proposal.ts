/**
 * A proposal: the round's proposer names the block it proposes and the round in which that block
 * last had a polka (validRound, -1 for a fresh block), and signs that. The block itself travels
 * next to the proposal; its hash must be `blockHash`. Signed over `hallmark/proposal/v1\n` ||
 * canonical [chainId, height, round, validRound or null, blockHash], so a proposal can never be
 * taken for a vote or a transaction.
 *
 * Wire shape: proposal = [height, round, validRound | null, blockHash(32), signature(64)]
 */
import { concatBytes, utf8 } from './bytes.ts';
import { bytes, checkUint, CodecError, decodeCanonical, encodeCanonical, tuple, uint, type CborValue } from './codec.ts';
import { checkChainId } from './chain-id.ts';

export const PROPOSAL_SIGN_DOMAIN = utf8('hallmark/proposal/v1\n');

export interface Proposal {
  height: number;
  round: number;
  /** The round of the polka that justifies re-proposing this block; -1 for a fresh block. */
  validRound: number;
  blockHash: Uint8Array;
  signature: Uint8Array;
}

function checkValidRound(p: { round: number; validRound: number }): void {
  if (!Number.isSafeInteger(p.validRound) || p.validRound < -1 || p.validRound >= p.round && p.validRound !== -1) {
    throw new RangeError(`proposal.validRound: expected -1 or a round below ${p.round}, got ${p.validRound}`);
  }
}

export function proposalSignBytes(chainId: string, p: Omit<Proposal, 'signature'>): Uint8Array {
  checkValidRound(p);
  return concatBytes(
    PROPOSAL_SIGN_DOMAIN,
    encodeCanonical([
      checkChainId(chainId), checkUint(p.height, 'proposal.height'), checkUint(p.round, 'proposal.round'),
      p.validRound < 0 ? null : p.validRound, p.blockHash,
    ]),
  );
}

export function proposalTuple(p: Proposal): CborValue {
  checkValidRound(p);
  return [checkUint(p.height, 'proposal.height'), checkUint(p.round, 'proposal.round'), p.validRound < 0 ? null : p.validRound, p.blockHash, p.signature];
}

export function readProposal(value: CborValue | undefined): Proposal {
  const [height, round, validRound, blockHash, signature] = tuple(value!, 5, 'proposal');
  const p: Proposal = {
    height: uint(height, 'proposal.height'),
    round: uint(round, 'proposal.round'),
    validRound: validRound === null ? -1 : uint(validRound, 'proposal.validRound'),
    blockHash: bytes(blockHash, 'proposal.blockHash', 32),
    signature: bytes(signature, 'proposal.signature', 64),
  };
  if (p.validRound >= p.round) throw new CodecError('schema', `proposal.validRound: ${p.validRound} is not below round ${p.round}`);
  return p;
}

export function encodeProposal(p: Proposal): Uint8Array {
  return encodeCanonical(proposalTuple(p));
}

export function decodeProposal(encoded: Uint8Array): Proposal {
  return readProposal(decodeCanonical(encoded, 'proposal', 256));
}
