/**
 * The gossip protocols' messages, in strict canonical CBOR (chain/codec.ts). Each decoder refuses
 * anything but the exact shape with a CodecError, so a peer's bad bytes are one coded error, never
 * a TypeError deep in the node.
 *
 *   /hallmark/consensus/1.0.0, one long-lived stream each way per peer:
 *     [0, genesisHash, head]            status: the chain we are on and our last committed height
 *     [1, proposal, block]              a proposal with its block
 *     [2, [vote, ...]]                  votes, verified by the receiver as one batch
 *   /hallmark/txs/1.0.0, one long-lived stream each way per peer:
 *     [tx, ...]                         signed transactions the sender's mempool admitted
 */
import { bytes, CodecError, decodeCanonical, encodeCanonical, list, tuple, uint } from '../chain/codec.ts';
import { proposalTuple, readProposal, type Proposal } from '../chain/proposal.ts';
import { readVote, voteTuple, type Vote } from '../chain/vote.ts';

export const CONSENSUS_PROTOCOL = '/hallmark/consensus/1.0.0';
export const TXS_PROTOCOL = '/hallmark/txs/1.0.0';

/** Most votes in one message (a round's prevotes and precommits of a large set fit). */
export const MAX_VOTES_PER_MESSAGE = 2_048;
/** Most transactions in one gossip message. */
export const MAX_TXS_PER_MESSAGE = 4_096;

export type ConsensusMessage =
  | { kind: 'status'; genesisHash: Uint8Array; head: number }
  | { kind: 'proposal'; proposal: Proposal; block: Uint8Array }
  | { kind: 'votes'; votes: Vote[] };

export function encodeConsensusMessage(m: ConsensusMessage): Uint8Array {
  switch (m.kind) {
    case 'status':
      return encodeCanonical([0, m.genesisHash, m.head]);
    case 'proposal':
      return encodeCanonical([1, proposalTuple(m.proposal), m.block]);
    case 'votes':
      return encodeCanonical([2, m.votes.map(voteTuple)]);
  }
}

export function decodeConsensusMessage(encoded: Uint8Array, maxBytes: number): ConsensusMessage {
  const value = decodeCanonical(encoded, 'consensus message', maxBytes);
  if (!Array.isArray(value) || value.length === 0) throw new CodecError('schema', 'consensus message: expected a non-empty array');
  switch (value[0]) {
    case 0: {
      const [, hash, head] = tuple(value, 3, 'status');
      return { kind: 'status', genesisHash: bytes(hash, 'status.genesisHash', 32), head: uint(head, 'status.head') };
    }
    case 1: {
      const [, proposal, block] = tuple(value, 3, 'proposal message');
      return { kind: 'proposal', proposal: readProposal(proposal), block: bytes(block, 'proposal.block', { max: maxBytes }) };
    }
    case 2: {
      const [, votes] = tuple(value, 2, 'votes message');
      return { kind: 'votes', votes: list(votes, MAX_VOTES_PER_MESSAGE, 'votes').map(readVote) };
    }
    default:
      throw new CodecError('schema', `consensus message: unknown kind ${String(value[0])}`);
  }
}

export function encodeTxs(txs: readonly Uint8Array[]): Uint8Array {
  return encodeCanonical([...txs]);
}

export function decodeTxs(encoded: Uint8Array, maxBytes: number, maxTxBytes: number): Uint8Array[] {
  return list(decodeCanonical(encoded, 'txs message', maxBytes), MAX_TXS_PER_MESSAGE, 'txs').map((t, i) => bytes(t, `txs[${i}]`, { max: maxTxBytes }));
}
