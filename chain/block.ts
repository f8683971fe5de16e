/**
 * Blocks and headers. The header commits to everything: the previous block, the commit that
 * finalised it, the transactions, the state root and receipts root left by the previous block
 * (Tendermint style: block H carries the results of executing block H-1), the validator set and
 * the evidence. A block's hash is sha256 of its header's encoding.
 *
 * Wire shapes:
 *   header = [2, protocolVersion, chainId, height, timeMs, lastBlockHash, lastCommitHash, txsHash,
 *             stateRoot, lastResultsHash, validatorsHash, proposer(20), evidenceHash]
 * The leading 2 is the block format; protocolVersion (chain/protocol.ts) names the rules the block
 * was made under.
 *   block  = [header, [signedTx bytes, ...], lastCommit | null, [evidence, ...]]   (chain/evidence.ts)
 *
 * header.evidenceHash is evidenceRoot(block.evidence); with no evidence it is EMPTY_EVIDENCE_HASH.
 */
import { ADDRESS_LENGTH, type Address } from './address.ts';
import { checkChainId, readChainId } from './chain-id.ts';
import {
  bytes, checkUint, CodecError, decodeCanonical, encodeCanonical, list, tuple, uint, type CborValue,
} from './codec.ts';
import { evidenceRoot, evidenceTuple, MAX_BLOCK_EVIDENCE, readEvidence, type DuplicateVoteEvidence } from './evidence.ts';
import { sha256 } from './hash.ts';
import { merkleRoot } from './merkle.ts';
import { commitTuple, readCommit, encodeCommit, type Commit } from './vote.ts';
import { MAX_TX_BYTES } from './tx.ts';

/** The header's format (2 added protocolVersion). */
export const BLOCK_VERSION = 2;
export const MAX_BLOCK_TXS = 100_000;
export const MAX_BLOCK_BYTES = 64 << 20;
export const ZERO_HASH = new Uint8Array(32);

export interface Header {
  /** The consensus rules the block is made under (chain/protocol.ts). */
  protocolVersion: number;
  chainId: string;
  height: number;
  /** Unix time in milliseconds, set by the proposer. */
  time: number;
  lastBlockHash: Uint8Array;
  lastCommitHash: Uint8Array;
  txsHash: Uint8Array;
  stateRoot: Uint8Array;
  lastResultsHash: Uint8Array;
  validatorsHash: Uint8Array;
  proposer: Address;
  evidenceHash: Uint8Array;
}

export interface Block {
  header: Header;
  /** Signed transactions in their canonical encoding, in execution order. */
  txs: Uint8Array[];
  /** The commit for height - 1; null at the first height. */
  lastCommit: Commit | null;
  /** Misbehaviour committed by this block, at most MAX_BLOCK_EVIDENCE items. */
  evidence: DuplicateVoteEvidence[];
}

function headerTuple(h: Header): CborValue {
  for (const k of ['lastBlockHash', 'lastCommitHash', 'txsHash', 'stateRoot', 'lastResultsHash', 'validatorsHash', 'evidenceHash'] as const) {
    if (!(h[k] instanceof Uint8Array) || h[k].length !== 32) throw new TypeError(`header.${k}: expected 32 bytes`);
  }
  if (!(h.proposer instanceof Uint8Array) || h.proposer.length !== ADDRESS_LENGTH) throw new TypeError('header.proposer: expected a 20-byte address');
  return [
    BLOCK_VERSION, checkUint(h.protocolVersion, 'header.protocolVersion'), checkChainId(h.chainId), checkUint(h.height, 'header.height'), checkUint(h.time, 'header.time'),
    h.lastBlockHash, h.lastCommitHash, h.txsHash, h.stateRoot, h.lastResultsHash, h.validatorsHash, h.proposer, h.evidenceHash,
  ];
}

function readHeader(v: CborValue | undefined): Header {
  const f = tuple(v!, 13, 'header');
  if (f[0] !== BLOCK_VERSION) throw new CodecError('schema', `header.version: unsupported block format ${JSON.stringify(f[0])}`);
  return {
    protocolVersion: uint(f[1], 'header.protocolVersion'),
    chainId: readChainId(f[2], 'header.chainId'),
    height: uint(f[3], 'header.height'),
    time: uint(f[4], 'header.time'),
    lastBlockHash: bytes(f[5], 'header.lastBlockHash', 32),
    lastCommitHash: bytes(f[6], 'header.lastCommitHash', 32),
    txsHash: bytes(f[7], 'header.txsHash', 32),
    stateRoot: bytes(f[8], 'header.stateRoot', 32),
    lastResultsHash: bytes(f[9], 'header.lastResultsHash', 32),
    validatorsHash: bytes(f[10], 'header.validatorsHash', 32),
    proposer: bytes(f[11], 'header.proposer', ADDRESS_LENGTH),
    evidenceHash: bytes(f[12], 'header.evidenceHash', 32),
  };
}

export function encodeHeader(h: Header): Uint8Array {
  return encodeCanonical(headerTuple(h));
}

export function decodeHeader(encoded: Uint8Array): Header {
  return readHeader(decodeCanonical(encoded, 'header', 1024));
}

export function blockHash(h: Header): Uint8Array {
  return sha256(encodeHeader(h));
}

export function encodeBlock(b: Block): Uint8Array {
  if (!Array.isArray(b.evidence)) throw new TypeError('block.evidence: expected a list (empty when there is none)');
  if (b.evidence.length > MAX_BLOCK_EVIDENCE) throw new RangeError(`block.evidence: ${b.evidence.length} items exceeds the limit of ${MAX_BLOCK_EVIDENCE}`);
  return encodeCanonical([
    headerTuple(b.header), b.txs, b.lastCommit === null ? null : commitTuple(b.lastCommit), b.evidence.map(evidenceTuple),
  ]);
}

export function decodeBlock(encoded: Uint8Array): Block {
  const [header, txs, lastCommit, evidence] = tuple(decodeCanonical(encoded, 'block', MAX_BLOCK_BYTES), 4, 'block');
  return {
    header: readHeader(header),
    txs: list(txs, MAX_BLOCK_TXS, 'block.txs').map((tx, i) => bytes(tx, `block.txs[${i}]`, { max: MAX_TX_BYTES })),
    lastCommit: lastCommit === null ? null : readCommit(lastCommit),
    evidence: list(evidence, MAX_BLOCK_EVIDENCE, 'block.evidence').map((e, i) => readEvidence(e, `block.evidence[${i}]`)),
  };
}

/** Merkle root over the transactions' hashes, in block order: the header's txsHash. */
export function txsRoot(txHashes: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(txHashes);
}

export function txsHash(txs: readonly Uint8Array[]): Uint8Array {
  return txsRoot(txs.map((tx) => sha256(tx)));
}

/** sha256 of the commit's encoding; sha256 of nothing when there is no commit (first height). */
export function commitHash(commit: Commit | null): Uint8Array {
  return sha256(commit === null ? new Uint8Array(0) : encodeCommit(commit));
}

/** The evidenceHash of a block without evidence: evidenceRoot([]), the root of the empty list. */
export const EMPTY_EVIDENCE_HASH = evidenceRoot([]);
