/**
 * When admissions run, so that consensus never queues behind the mempool. Admission is the node's
 * heaviest work on its main thread (a decode, a signature and an account read each, the signature
 * inline when the node has no signature threads, as a 4-validator testnet on 2 cores has not), and
 * everything else on that thread (proposals, votes, the proposer's timer) waits while it runs.
 *
 *   - Held while the node commits a block (node/node.ts #commit), as CometBFT locks its mempool for
 *     the commit: applying a block awaits LevelDB many times, and each await waited behind whatever
 *     admissions had queued meanwhile. At the start of a saturating load the first blocks took
 *     0.7-1.6 s to commit on each node and the next height went to round 1. A held add does nothing
 *     until the commit and the recheck after it are done, then is judged on the new state.
 *   - Sliced: one turn of the event loop admits for at most `sliceMs` (5 ms); the adds past it wait,
 *     in arrival order, for the following turns, a grant at a time, each grant sized by how long the
 *     last one took. Unsliced, a gossip message of 512 transactions ran ~50 ms of signature checks in
 *     one go, and the adds held during a commit ran as one burst when it ended: at the start of a
 *     saturating load each node's event loop stalled for 100-540 ms at a time and proposers proposed
 *     0.2-1.2 s after their commit (bench/testnet.bench.ts).
 *
 * Nothing is refused or reordered for it: an add that waits is admitted or refused as ever, after
 * the adds that arrived before it. A lone add in a quiet turn goes through at once, never yielding.
 */

/** Most adds let through in one turn, whatever the last grant measured (a cheap add is ~20 µs). */
const MAX_GRANT = 1024;

export interface AdmissionGateOptions {
  /** The clock slices are measured by, in ms. Default: performance.now. */
  readonly now?: () => number;
  /** Admission time one turn of the event loop may take (> 0). Default 5 ms. */
  readonly sliceMs?: number;
}

export class AdmissionGate {
  readonly sliceMs: number;
  readonly #now: () => number;
  #holds = 0;
  /** When this turn's slice began; undefined until an add starts one. */
  #sliceStart: number | undefined;
  #sliceEnds = false;
  /** The adds waiting for a turn, oldest first. */
  #waiting: (() => void)[] = [];
  /** Adds let through at the next turn: one at first, then as many as the last grant's time allows. */
  #grant = 1;
  #scheduled = false;

  constructor(o: AdmissionGateOptions = {}) {
    this.#now = o.now ?? (() => performance.now());
    const slice = o.sliceMs ?? 5;
    if (!(slice > 0)) throw new RangeError(`AdmissionGate: sliceMs must be > 0, got ${slice}`);
    this.sliceMs = slice;
  }

  /** Whether anything holds admissions now. */
  get held(): boolean {
    return this.#holds > 0;
  }

  /** Adds waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Whether an add must wait for `turn()` before doing anything: admissions are held, others are
   * waiting before it, or this turn's slice is spent. Otherwise it goes on now, in this turn's slice.
   */
  mustWait(): boolean {
    if (this.#holds > 0 || this.waiting > 0) return true;
    const now = this.#now();
    if (this.#sliceStart === undefined) {
      this.#startSlice(now);
      return false;
    }
    return now - this.#sliceStart >= this.sliceMs;
  }

  /** Settles when the add may go on: after every add that waited before it, in a later turn. */
  turn(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push(resolve);
    this.#schedule();
    return promise;
  }

  /** Holds admissions until the function returned is called (once; calling it again does nothing). */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#schedule();
    };
  }

  /** This turn's slice starts now and ends with the turn (at its check phase). */
  #startSlice(now: number): void {
    this.#sliceStart = now;
    if (this.#sliceEnds) return;
    this.#sliceEnds = true;
    setImmediate(() => {
      this.#sliceEnds = false;
      this.#sliceStart = undefined;
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#holds > 0 || this.waiting === 0) return;
    this.#scheduled = true;
    setImmediate(() => this.#let());
  }

  /** One turn's grant: the oldest waiting adds go on, and the time their first steps take sizes the next. */
  #let(): void {
    this.#scheduled = false;
    if (this.#holds > 0) return;
    const start = this.#now();
    this.#startSlice(start);
    const granted = this.#waiting.splice(0, this.#grant);
    for (const go of granted) go();
    // Queued after the granted adds' continuations, so it runs once their first steps are done.
    queueMicrotask(() => {
      const spent = this.#now() - start;
      this.#grant = Math.max(1, Math.min(MAX_GRANT, spent > 0 ? Math.floor((granted.length * this.sliceMs) / spent) : MAX_GRANT));
      this.#schedule();
    });
  }
}
