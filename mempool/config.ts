/** The mempool's configuration, refusal codes, counters and proof check (mempool/mempool.ts re-exports them). */
import { byteCount, decimalU64, field, integer, type ConfigTable } from '../chain/config-keys.ts';
import { CodedError } from '../chain/errors.ts';
import type { AttachedProof } from '../chain/tx.ts';
import { LIMITS } from '../vm/limits.ts';

export interface MempoolConfig {
  /** Most transactions held at once. */
  maxTxs: number;
  /** Most bytes (sum of the transactions' encodings) held at once. */
  maxBytes: number;
  /** Largest single transaction accepted. */
  maxTxBytes: number;
  /** A transaction's nonce must be below the sender's account nonce + maxNonceGap. */
  maxNonceGap: number;
  minFee: bigint;
  /**
   * This node's floor on the gas price (fee / gas limit) it admits, in base units per gas; the
   * chain's genesis min_gas_price applies whatever this says, so only a higher value matters.
   */
  minGasPrice: bigint;
  /** A pending transaction is replaced by one with the same sender and nonce only if the new fee
   * is above the old and at least old * (100 + replaceFeeBumpPercent) / 100. */
  replaceFeeBumpPercent: number;
}

export const DEFAULT_MEMPOOL_CONFIG: Readonly<MempoolConfig> = Object.freeze({
  maxTxs: 5000,
  maxBytes: 32 * 1024 * 1024,
  // A deploy of the largest module the VM admits, with up to 64 KiB of init arguments and the
  // envelope: 320 KiB.
  maxTxBytes: LIMITS.maxCodeBytes + 64 * 1024,
  maxNonceGap: 64,
  minFee: 0n,
  minGasPrice: 0n,
  replaceFeeBumpPercent: 10,
});

export const MEMPOOL_ERROR_CODES = [
  'tx_too_large', 'malformed', 'wrong_chain', 'duplicate', 'invalid_signature', 'nonce_used', 'nonce_too_far', 'nonce_taken',
  'fee_too_low', 'insufficient_fee_balance', 'mempool_full', 'gas_limit_too_high', 'invalid_sender_key', 'payload_not_enabled',
  'unknown_verifying_key', 'invalid_proof', 'gas_limit_too_low', 'proofs_busy',
] as const;
export type MempoolErrorCode = (typeof MEMPOOL_ERROR_CODES)[number];

/**
 * Checks the proofs a call carries (protocol 3): every key registered and every proof valid, stopping
 * at the first that is not; null when all are.
 */
export type ProofCheck = (proofs: readonly AttachedProof[]) => Promise<{ code: 'unknown_verifying_key' | 'invalid_proof'; message: string } | null>;

/** A mempool given no ProofCheck (tests of the pool alone) refuses calls carrying proofs. */
export const noProofs: ProofCheck = async () => ({ code: 'invalid_proof', message: 'this mempool does not verify proofs' });

/** A refused transaction. `code` is stable (RPC and metrics use it); the message says what to change. */
export class MempoolError extends CodedError<MempoolErrorCode> {}

export interface MempoolCounters {
  admitted: number;
  /** Refusals by code. */
  refused: Record<MempoolErrorCode, number>;
  /** Transactions that left the mempool, by reason. */
  removed: {
    committed: number;
    replaced: number;
    evicted: number;
    /** Nonce already used by the time the account was re-read. */
    stale: number;
    /** No longer covered: the sender's balance cannot pay the fees up to and including it. */
    unfunded: number;
  };
}

export function checkConfig(c: MempoolConfig): MempoolConfig {
  for (const k of ['maxTxs', 'maxBytes', 'maxTxBytes', 'maxNonceGap'] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) throw new RangeError(`mempool config ${k}: must be a positive integer, got ${c[k]}`);
  }
  if (c.maxTxBytes > c.maxBytes) throw new RangeError(`mempool config maxTxBytes (${c.maxTxBytes}) must not exceed maxBytes (${c.maxBytes})`);
  if (typeof c.minFee !== 'bigint' || c.minFee < 0n) throw new RangeError('mempool config minFee: must be a non-negative bigint');
  if (typeof c.minGasPrice !== 'bigint' || c.minGasPrice < 0n) throw new RangeError('mempool config minGasPrice: must be a non-negative bigint');
  if (!Number.isSafeInteger(c.replaceFeeBumpPercent) || c.replaceFeeBumpPercent < 0) {
    throw new RangeError(`mempool config replaceFeeBumpPercent: must be a non-negative integer, got ${c.replaceFeeBumpPercent}`);
  }
  return c;
}

const key = field<MempoolConfig>();

/** config.toml's [mempool] table. */
export const MEMPOOL_TABLES: readonly ConfigTable<MempoolConfig>[] = [{
  name: 'mempool',
  of: (c) => c,
  keys: [
    key('max_txs', 'maxTxs', integer(1), 'most transactions held'),
    key('max_bytes', 'maxBytes', byteCount(1), 'most bytes held (sum of transaction sizes)'),
    key('max_tx_bytes', 'maxTxBytes', byteCount(1), 'largest single transaction; must not exceed `max_bytes`'),
    key('max_nonce_gap', 'maxNonceGap', integer(1), "how far a nonce may run ahead of its account's"),
    key('min_fee', 'minFee', decimalU64, 'lowest fee admitted, in base units (u64; a string so no reader rounds it)'),
    key('min_gas_price', 'minGasPrice', decimalU64, 'lowest gas price (fee / gas limit, base units per gas) admitted; the genesis '
      + '`consensus_params.fees.min_gas_price` applies whatever this says, so only a higher value has an effect'),
    key('replace_fee_bump_percent', 'replaceFeeBumpPercent', integer(0, 10_000), 'a same-nonce replacement must pay at least this much more'),
  ],
}];

/** The rules between [mempool] keys, each as `key: what is wrong`. */
export function mempoolConfigProblems(c: MempoolConfig): string[] {
  return c.maxTxBytes > c.maxBytes ? [`mempool.max_tx_bytes: must not exceed mempool.max_bytes (${c.maxBytes})`] : [];
}
