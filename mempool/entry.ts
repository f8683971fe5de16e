/** A pending transaction as the mempool holds it, its sender's queue, and the two orders by gas price. */
import type { Address } from '../chain/address.ts';
import type { SignedTransaction } from '../chain/tx.ts';
import type { Account } from '../execution/account.ts';

export interface SenderQueue {
  readonly key: string;
  readonly address: Address;
  /** The committed account as of the last add or update for this sender. */
  account: Account;
  /** Pending transactions sorted by nonce, all with nonce >= account.nonce. */
  readonly txs: Entry[];
  /** The entry currently in the evictable heap (the highest nonce), if any. */
  tail: Entry | undefined;
}

export interface Entry {
  readonly stx: SignedTransaction;
  readonly key: string;
  readonly sender: SenderQueue;
  readonly nonce: number;
  readonly fee: bigint;
  /** Declared gas, at least 1 (the divisor of the gas price). */
  readonly gas: bigint;
  readonly size: number;
  /** Admission order; replacements count as new arrivals. */
  readonly arrival: number;
  /** Index in the evictable heap, or -1. */
  heapIndex: number;
}

/** A gas price as a fraction: fee over declared gas. */
export type Price = Pick<Entry, 'fee' | 'gas'>;

/** A transaction's gas price (its gas at least 1, the divisor). */
export function priceOf(stx: SignedTransaction): Price {
  return { fee: stx.tx.fee, gas: BigInt(Math.max(1, stx.tx.gasLimit)) };
}

/** a's gas price minus b's, by sign: fee_a / gas_a against fee_b / gas_b without rounding. */
export function comparePrice(a: Price, b: Price): number {
  const l = a.fee * b.gas;
  const r = b.fee * a.gas;
  return l === r ? 0 : l < r ? -1 : 1;
}

/** Eviction order: lower gas price first, then later arrival first. */
export function cheaper(a: Entry, b: Entry): boolean {
  const c = comparePrice(a, b);
  return c !== 0 ? c < 0 : a.arrival > b.arrival;
}

/** Block order: higher gas price first, then earlier arrival first. */
export function better(a: Entry, b: Entry): boolean {
  const c = comparePrice(a, b);
  return c !== 0 ? c > 0 : a.arrival < b.arrival;
}
