/**
 * The control loop shared by block sync (block-sync.ts) and the snapshot chunk fetcher
 * (chunk-fetch.ts): requests with a deadline of their own that stop() aborts, and a loop that sleeps
 * until a request settles (wake) or a rest ends.
 */

export class RunControl {
  #stopped = false;
  #wake: (() => void) | null = null;
  readonly #controllers = new Set<AbortController>();

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Aborts every request in flight with `reason` and wakes the loop. */
  stop(reason: Error): void {
    this.#stopped = true;
    for (const c of this.#controllers) c.abort(reason);
    this.wake();
  }

  wake(): void {
    this.#wake?.();
  }

  /** Resolves at the next wake(), or after `ms` if given. */
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  /**
   * Runs `request` with a signal that aborts after `timeoutMs` (with `timeoutMessage`) or at stop();
   * settles as soon as the signal aborts, even if the transport ignores it. A timer of our own, not
   * AbortSignal.timeout: that one does not keep the process alive, and a run waiting only on a
   * silent peer must still come to its timeout.
   */
  async request<T>(timeoutMs: number, timeoutMessage: string, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(timeoutMessage)), timeoutMs);
    try {
      return await raceAbort(request(controller.signal), controller.signal);
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(controller);
    }
  }
}

/** `p`, or a rejection as soon as `signal` aborts: a transport that ignores the signal cannot stall a run. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
