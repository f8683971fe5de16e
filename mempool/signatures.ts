/**
 * The signatures of admissions that arrive together — a JSON-RPC batch of tx_broadcast calls, or
 * any adds started together (Promise.all over a list) — verified in ONE request on the node's
 * SignaturePool (chain/signature-pool.ts), through the signature cache when there is one: a batch
 * of 100 runs on every core, and a lone add (below the pool's inline threshold) on the caller's
 * thread as before. An add's signature waits one microtask: adds started together reach it at the
 * same depth of the microtask queue, ahead of the flush the first one queued (a JSON-RPC batch of
 * 100 was measured to arrive as one, and the adds one turn of gate.ts lets through reach it
 * together too), and waiting for it never yields to the event loop. Answers come back batch after
 * batch in the order of the calls, so adds keep their call order.
 */
import type { SignaturePool } from '../chain/signature-pool.ts';
import type { SignedItem } from '../chain/signature.ts';
import type { SignatureCache } from '../consensus/verify.ts';

interface Waiting {
  readonly item: SignedItem;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (err: unknown) => void;
}

export class AdmissionSignatures {
  readonly #pool: SignaturePool;
  readonly #cache: SignatureCache | undefined;
  #waiting: Waiting[] = [];
  /** Settles when the last batch's answers have been handed out. */
  #answered: Promise<void> = Promise.resolve();

  constructor(pool: SignaturePool, cache: SignatureCache | undefined) {
    this.#pool = pool;
    this.#cache = cache;
  }

  /** `verifySignature`'s answer for the item, verified with the items added together with it. */
  verify(item: SignedItem): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.#waiting.length === 0) queueMicrotask(() => this.#flush());
      this.#waiting.push({ item, resolve, reject });
    });
  }

  #flush(): void {
    const batch = this.#waiting;
    this.#waiting = [];
    const items = batch.map((w) => w.item);
    const answers = this.#cache === undefined ? this.#pool.verify(items) : this.#cache.verifyOn(this.#pool, items);
    this.#answered = this.#answered.then(() => answers).then(
      (ok) => batch.forEach((w, i) => w.resolve(ok[i]!)),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }
}
