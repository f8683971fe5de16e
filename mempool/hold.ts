/**
 * Holding admissions while the node commits a block (node/node.ts #commit), as CometBFT locks its
 * mempool for the commit. Admission is the node's heaviest work on its main thread (a signature and
 * an account read each), and applying a block awaits LevelDB many times over: each await waited
 * behind whatever admissions had queued meanwhile. At the start of a saturating load every node
 * admitted thousands at once, the first block's commit took 0.7-1.6 s, its successor's proposer
 * came late and the height went to round 1 (bench/testnet.bench.ts: a 2-4 s gap). Held, an `add`
 * waits before doing anything and goes on when the commit and the recheck after it are done, so
 * consensus never queues behind the mempool; nothing is refused for it.
 */
export class AdmissionHold {
  #holds = 0;
  #open: Promise<void> = Promise.resolve();
  #release: () => void = () => {};

  /** Whether anything holds admissions now. */
  get held(): boolean {
    return this.#holds > 0;
  }

  /** Settles when nothing holds admissions any more. */
  get open(): Promise<void> {
    return this.#open;
  }

  /** Holds admissions until the function returned is called (once; calling it again does nothing). */
  hold(): () => void {
    if (this.#holds++ === 0) ({ promise: this.#open, resolve: this.#release } = Promise.withResolvers<void>());
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#release();
    };
  }
}
