/**
 * The chain head: what the executor has applied so far, stored under one key beside the state so
 * that it is written in the same batch as each block. A node restored from a snapshot writes it
 * once, for the snapshot's height (node/state-sync.ts).
 */
import { bytes, CodecError, decodeCanonical, encodeCanonical, tuple, uint } from '../chain/codec.ts';

export const HEAD_KEY = Uint8Array.of(0x6d); // 'm': the chain head

/** What the executor has applied so far: what the next block's header must link to. */
export interface ChainHead {
  chainId: string;
  height: number;
  /** Hash of the block at `height` (zero at genesis). */
  blockHash: Uint8Array;
  /** State root after the block at `height`: the next header's stateRoot. */
  stateRoot: Uint8Array;
  /** Receipts root of the block at `height`: the next header's lastResultsHash. */
  resultsHash: Uint8Array;
  /** Time of the block at `height` (genesis time at 0). */
  time: number;
}

export function encodeHead(h: ChainHead): Uint8Array {
  return encodeCanonical([h.chainId, h.height, h.blockHash, h.stateRoot, h.resultsHash, h.time]);
}

export function decodeHead(raw: Uint8Array): ChainHead {
  const [chainId, height, hash, root, results, time] = tuple(decodeCanonical(raw, 'chain head'), 6, 'chain head');
  if (typeof chainId !== 'string') throw new CodecError('schema', 'chain head: chain id');
  return {
    chainId, height: uint(height, 'height'), blockHash: bytes(hash, 'blockHash', 32), stateRoot: bytes(root, 'stateRoot', 32),
    resultsHash: bytes(results, 'resultsHash', 32), time: uint(time, 'time'),
  };
}
