/**
 * Callers waiting for a transaction's commit (tx_broadcast with wait "committed"), by hash. The
 * node reports each committed block; a transaction committed before anyone waited for it is
 * found in the block store instead.
 */
import { toHex } from '../chain/bytes.ts';
import type { Receipt } from '../chain/receipt.ts';
import type { TxInclusion } from './query.ts';

/** Looks a committed transaction up (the block store's getTx). */
export type CommittedTxLookup = (hash: Uint8Array) => Promise<TxInclusion | undefined>;

export class TxWaiters {
  readonly #waiting = new Map<string, Set<(inclusion: TxInclusion) => void>>();
  readonly #lookup: CommittedTxLookup;

  constructor(lookup: CommittedTxLookup) {
    this.#lookup = lookup;
  }

  /** Transactions someone is waiting for. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Resolves once `hash` is committed, at once if it already is; rejects after `timeoutMs`. */
  wait(hash: Uint8Array, timeoutMs: number): Promise<TxInclusion> {
    const key = toHex(hash);
    return new Promise<TxInclusion>((resolve, reject) => {
      let set = this.#waiting.get(key);
      if (set === undefined) this.#waiting.set(key, (set = new Set()));
      const forget = () => {
        set.delete(waiter);
        if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
      };
      const waiter = (inclusion: TxInclusion) => {
        clearTimeout(timer);
        forget();
        resolve(inclusion);
      };
      set.add(waiter);
      const timer = setTimeout(() => {
        forget();
        reject(new Error(`transaction ${key} was not committed within ${timeoutMs} ms`));
      }, timeoutMs);
      // Registered first, then looked up: a commit in between resolves the waiter either way.
      this.#lookup(hash).then((stored) => {
        if (stored !== undefined) waiter({ height: stored.height, index: stored.index, receipt: stored.receipt });
      }, () => {});
    });
  }

  /** Resolves everyone waiting for a transaction of the block just committed. */
  committed(block: { height: number; txHashes: readonly Uint8Array[]; receipts: readonly Receipt[] }): void {
    block.txHashes.forEach((hash, index) => {
      const set = this.#waiting.get(toHex(hash));
      for (const waiter of set ?? []) waiter({ height: block.height, index, receipt: block.receipts[index]! });
    });
  }
}
