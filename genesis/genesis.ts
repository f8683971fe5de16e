/**
 * The typed genesis, as parseGenesis (schema.ts) builds it from genesis.json, and what the node
 * derives from it: the genesis hash peers compare, the state the executor starts from, and the
 * limits every block is judged by.
 */
import type { Address } from '../chain/address.ts';
import type { BlockLimits } from '../chain/block-rules.ts';
import { encodeCanonical, type CborValue } from '../chain/codec.ts';
import type { GenesisAccount, GenesisState } from '../chain/genesis.ts';
import { sha256 } from '../chain/hash.ts';

export interface BlockParams {
  maxBytes: number;
  maxTxs: number;
  /** Most gas a block's transactions may declare together. */
  maxGas: number;
}

export interface FeeParams {
  /** Base units per unit of declared gas every transaction's fee must cover. */
  minGasPrice: bigint;
}

/**
 * Proposer-based timestamps (docs/architecture.md, "Time"): a fresh proposal is timely when its
 * time lies in [receive - precision - messageDelay, receive + precision] of the validator's clock.
 */
export interface SynchronyParams {
  /** How far apart honest validators' clocks may be. */
  precisionMs: number;
  /** How long a proposal may take to reach every validator (grows 10% per round). */
  messageDelayMs: number;
}

export interface EvidenceParams {
  /** Evidence older than this many heights (block height - evidence height) is refused. */
  maxAgeHeights: number;
}

export interface TimeoutParams {
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
  commitMs: number;
}

export interface ConsensusParams {
  block: BlockParams;
  fees: FeeParams;
  synchrony: SynchronyParams;
  evidence: EvidenceParams;
  timeouts: TimeoutParams;
}

export interface GenesisValidator {
  name: string;
  publicKey: Uint8Array;
  /** Derived from the public key (addressOf); not in the file. */
  address: Address;
  power: number;
}

export interface Genesis {
  /** The consensus rules this chain runs (chain/protocol.ts); every header carries it. */
  protocolVersion: number;
  chainId: string;
  /** Unix time in milliseconds. */
  time: number;
  consensusParams: ConsensusParams;
  validators: GenesisValidator[];
  accounts: GenesisAccount[];
}

const GENESIS_HASH_TAG = 'hallmark/genesis/v2';

/**
 * sha256 of the canonical CBOR encoding (chain/codec.ts) of the typed genesis, as the tuple
 *   [ "hallmark/genesis/v2", protocolVersion, chainId, time,
 *     [maxBytes, maxTxs, maxGas], [minGasPrice], [precisionMs, messageDelayMs], [evidenceMaxAgeHeights],
 *     [proposeMs, proposeDeltaMs, prevoteMs, prevoteDeltaMs, precommitMs, precommitDeltaMs, commitMs],
 *     [[name, publicKey(32), power], ...],     in file order
 *     [[address(20), balance], ...] ]          in file order
 * It hashes meaning, not text: whitespace and hex case in the file do not change it, while any
 * value or the order of the lists does. Validator addresses are left out: they follow from the keys.
 */
export function genesisHash(g: Genesis): Uint8Array {
  const { block, fees, synchrony, evidence, timeouts: t } = g.consensusParams;
  const value: CborValue = [
    GENESIS_HASH_TAG, g.protocolVersion, g.chainId, g.time,
    [block.maxBytes, block.maxTxs, block.maxGas], [fees.minGasPrice], [synchrony.precisionMs, synchrony.messageDelayMs], [evidence.maxAgeHeights],
    [t.proposeMs, t.proposeDeltaMs, t.prevoteMs, t.prevoteDeltaMs, t.precommitMs, t.precommitDeltaMs, t.commitMs],
    g.validators.map((v) => [v.name, v.publicKey, v.power]),
    g.accounts.map((a) => [a.address, a.balance]),
  ];
  return sha256(encodeCanonical(value));
}

/** The part of the genesis the executor applies: chain id, time and funded accounts. */
export function toGenesisState(g: Genesis): GenesisState {
  return {
    chainId: g.chainId,
    time: g.time,
    accounts: g.accounts.map((a) => ({ address: Uint8Array.from(a.address), balance: a.balance })),
  };
}

/** The limits every block of this chain is judged by (chain/block-rules.ts). */
export function blockLimits(g: Genesis): BlockLimits {
  const { block, fees } = g.consensusParams;
  return { protocolVersion: g.protocolVersion, maxBytes: block.maxBytes, maxTxs: block.maxTxs, maxGas: block.maxGas, minGasPrice: fees.minGasPrice };
}
