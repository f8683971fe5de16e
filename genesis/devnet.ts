/**
 * The devnet genesis: one validator and one funded faucet account, what `hallmark init` writes.
 * The time is passed in (no clock is read here), so the same inputs always give the same genesis.
 */
import { addressOf, type Address } from '../chain/address.ts';
import { checkChainId } from '../chain/chain-id.ts';
import { checkAmount } from '../chain/codec.ts';
import { PROTOCOL_VERSION } from '../chain/protocol.ts';
import type { ConsensusParams, Genesis } from './genesis.ts';
import { parseGenesis, toDocument } from './schema.ts';

export const DEVNET_CHAIN_ID = 'hallmark-devnet';
/** 10^18 base units: plenty for a devnet, well inside u64. */
export const DEVNET_FAUCET_BALANCE = 1_000_000_000_000_000_000n;
export const DEVNET_VALIDATOR_POWER = 10;
export const DEFAULT_MAX_GAS = 250_000_000;

/**
 * Block limits, fees, clock bounds and Tendermint timeouts a small network runs well with. max_gas
 * keeps a full block of the most expensive work well under the 1 s block time (docs/architecture.md
 * gives the measurement); the gas price is non-zero so no block space is free. The synchrony bounds
 * are CometBFT's defaults: clocks within 0.5 s, proposals delivered within 15 s.
 */
export function defaultConsensusParams(): ConsensusParams {
  return {
    block: { maxBytes: 4_194_304, maxTxs: 10_000, maxGas: DEFAULT_MAX_GAS },
    fees: { minGasPrice: 1n },
    synchrony: { precisionMs: 500, messageDelayMs: 15_000 },
    evidence: { maxAgeHeights: 100_000 },
    timeouts: {
      proposeMs: 3000, proposeDeltaMs: 500, prevoteMs: 1000, prevoteDeltaMs: 500,
      precommitMs: 1000, precommitDeltaMs: 500, commitMs: 1000,
    },
  };
}

export interface DevnetOptions {
  /** The single validator's 32-byte Ed25519 public key. */
  validatorPublicKey: Uint8Array;
  faucetAddress: Address;
  /** Unix time in milliseconds. */
  time: number;
  chainId?: string;
  faucetBalance?: bigint;
  validatorName?: string;
}

/** A single-validator genesis with a funded faucet; checked by the same rules as a file would be. */
export function devnetGenesis(opts: DevnetOptions): Genesis {
  const publicKey = Uint8Array.from(opts.validatorPublicKey);
  const g: Genesis = {
    protocolVersion: PROTOCOL_VERSION,
    chainId: checkChainId(opts.chainId ?? DEVNET_CHAIN_ID),
    time: opts.time,
    consensusParams: defaultConsensusParams(),
    validators: [{ name: opts.validatorName ?? 'validator-0', publicKey, address: addressOf(publicKey), power: DEVNET_VALIDATOR_POWER }],
    accounts: [{ address: Uint8Array.from(opts.faucetAddress), balance: checkAmount(opts.faucetBalance ?? DEVNET_FAUCET_BALANCE, 'faucetBalance') }],
  };
  if (!Number.isSafeInteger(g.time) || g.time < 0) throw new RangeError('time: must be a non-negative integer of Unix milliseconds');
  // Going through the document applies every file rule (and rejects sub-millisecond or odd values).
  return parseGenesis(toDocument(g));
}
