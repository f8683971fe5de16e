/**
 * WorkerThreads: the lifecycle of a pool of worker threads, shared by the Groth16 pool
 * (zk/pool.ts) and the Ed25519 pool (chain/signature-pool.ts). What the jobs are, how they are
 * queued, split and answered is the owner's (a `JobSource`); this module only runs them:
 *
 *   - spawns `threads` workers (with the process's flags, less --input-type, which would stop a
 *     worker loading), each answering 'ready' once it has started;
 *   - one job per worker at a time; a worker is ref'd only while a job is in flight, so an idle pool
 *     does not keep the process alive (close() is the way to stop it);
 *   - dispatch after the current turn's microtasks (kick), so requests made in the same turn can
 *     share jobs: retried jobs first, then whatever the owner's `next` forms for the idle workers;
 *   - a worker that exits unexpectedly is replaced and its job retried ahead of the queue; a job
 *     that has crashed MAX_ATTEMPTS workers is refused; MAX_START_FAILURES workers in a row exiting
 *     before any job (a broken install) fail the pool rather than respawn forever;
 *   - close: nothing new is dispatched, jobs in flight finish, then the workers are terminated.
 *
 * Messages. The pool posts { id, crash, body } (the owner's body, with what it transfers); the
 * worker (serveJobs below) answers { type: 'ready' }, { type: 'done', id, body } or
 * { type: 'failed', id, message } when its handler threw (a bug, not an answer). `crash` makes the
 * worker exit with code 1 before doing anything: only crashNextJobsForTest sets it.
 */
import { availableParallelism } from 'node:os';
import { parentPort, Worker, type Transferable } from 'node:worker_threads';

/** A job that crashed this many workers is refused instead of being tried again. */
export const MAX_ATTEMPTS = 3;
/** This many workers in a row exiting before any job fail the pool (no endless respawning). */
export const MAX_START_FAILURES = 3;

export interface JobEnvelope<B> {
  readonly id: number;
  readonly crash: boolean;
  readonly body: B;
}

export type WorkerReply<R> =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly body: R }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

/** One worker as its owner sees it: its job, and what the owner tracks for it (e.g. keys it holds). */
export interface ThreadSlot<J, S> {
  readonly job: J | null;
  readonly state: S;
}

/** The owner's side: the jobs, their messages and what their answers mean. */
export interface JobSource<J, S, B, R> {
  /** What the owner tracks for a fresh worker (which holds nothing yet). */
  fresh(): S;
  /** The next job for one of `idle` idle workers, or null when none is ready. */
  next(idle: readonly ThreadSlot<J, S>[]): J | null;
  /** Which idle worker takes `job` (default: the first). */
  pick?(idle: readonly ThreadSlot<J, S>[], job: J): ThreadSlot<J, S>;
  /** The message body for `job` on `slot`, and the buffers it moves to the worker. */
  message(job: J, slot: ThreadSlot<J, S>): { body: B; transfer?: Transferable[] };
  /** The worker's answer: 'done' frees it; 'again' posts the job to it again (message() is asked anew). */
  answered(job: J, body: R, slot: ThreadSlot<J, S>): 'done' | 'again';
  /** The job cannot be answered (its worker threw, or it crashed MAX_ATTEMPTS workers): refuse its requests. */
  refused(job: J, err: Error): void;
  /** Before a retry: whether any of the job is still needed (it may trim itself to what is). */
  needed(job: J): boolean;
  /** The pool failed for good: refuse everything. */
  failed(err: Error): void;
}

export interface WorkerThreadsOptions<J, S, B, R> {
  /** Names the pool in errors: 'zk pool'. */
  readonly name: string;
  readonly url: URL;
  readonly workerData: unknown;
  /** ≥ 1. Default: os.availableParallelism(). */
  readonly threads?: number;
  readonly source: JobSource<J, S, B, R>;
  /** Words for a job in errors: 'a job of 16 proofs'. */
  readonly describe: (job: J) => string;
}

interface Slot<J, S> extends ThreadSlot<J, S> {
  readonly worker: Worker;
  job: J | null;
  state: S;
  id: number;
  attempts: number;
  lastError: Error | null;
  ending: boolean; // we terminate it: its exit is not a crash
}

export function positiveInt(pool: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${pool}: ${name} must be a whole number >= 1, got ${v}`);
  return v;
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export class WorkerThreads<J, S, B, R> {
  readonly threads: number;
  readonly #o: WorkerThreadsOptions<J, S, B, R>;
  readonly #slots: Slot<J, S>[] = [];
  #retry: { job: J; attempts: number }[] = [];
  #stats = { retried: 0, replaced: 0 };
  #nextJob = 1;
  #kicked = false;
  #crashJobs = 0;
  #startFailures = 0;
  #closed = false;
  #failed: Error | null = null;
  #drained: (() => void) | null = null;

  constructor(o: WorkerThreadsOptions<J, S, B, R>) {
    this.#o = o;
    this.threads = positiveInt(o.name, 'threads', o.threads ?? defaultThreads());
    for (let i = 0; i < this.threads; i++) this.#slots.push(this.#spawn());
  }

  /** Why the pool stopped for good, or null. */
  get failure(): Error | null {
    return this.#failed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): { retried: number; replaced: number; inFlight: number } {
    return { ...this.#stats, inFlight: this.#slots.filter((s) => s.job !== null).length };
  }

  /** True if a job is in flight on some worker. */
  busy(): boolean {
    return this.#slots.some((s) => s.job !== null);
  }

  /** FOR TESTS ONLY: the workers receiving the next `jobs` job messages exit with code 1 first. */
  crashNextJobsForTest(jobs: number): void {
    this.#crashJobs += jobs;
  }

  /**
   * Dispatch after this turn's microtasks: requests made in the same turn, or in reaction to the
   * answers just delivered, are queued first and can share jobs.
   */
  kick(): void {
    if (this.#kicked) return;
    this.#kicked = true;
    setImmediate(() => {
      this.#kicked = false;
      this.dispatch();
    });
  }

  /** Gives every idle worker a job while there are jobs: retries first, then the owner's. */
  dispatch(): void {
    if (this.#closed || this.#failed !== null) return;
    for (;;) {
      const idle = this.#slots.filter((s) => s.job === null && !s.ending);
      if (idle.length === 0) return;
      const retry = this.#nextRetry();
      const job = retry?.job ?? this.#o.source.next(idle);
      if (job === null) return;
      const slot = (this.#o.source.pick?.(idle, job) ?? idle[0]!) as Slot<J, S>;
      slot.id = this.#nextJob++;
      slot.attempts = retry?.attempts ?? 0;
      this.#post(slot, job);
    }
  }

  /** Jobs waiting to be retried, removed: the owner refuses their requests (closing). */
  takeRetries(): J[] {
    const jobs = this.#retry.map((r) => r.job);
    this.#retry = [];
    return jobs;
  }

  /** Stops dispatching, waits for the jobs in flight to be answered, then terminates the workers. */
  async close(): Promise<void> {
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      this.#checkDrained();
    });
    await this.#terminateAll();
  }

  #nextRetry(): { job: J; attempts: number } | null {
    while (this.#retry.length > 0) {
      const r = this.#retry.shift()!;
      if (this.#o.source.needed(r.job)) return r; // requests settled meanwhile need nothing more
    }
    return null;
  }

  #post(slot: Slot<J, S>, job: J): void {
    const { body, transfer } = this.#o.source.message(job, slot);
    const crash = this.#crashJobs > 0;
    if (crash) this.#crashJobs--;
    slot.job = job;
    slot.worker.ref(); // an awaited answer keeps the process alive
    slot.worker.postMessage({ id: slot.id, crash, body } satisfies JobEnvelope<B>, transfer ?? []);
  }

  #spawn(): Slot<J, S> {
    const flags = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const worker = new Worker(this.#o.url, { workerData: this.#o.workerData, ...(flags.length < process.execArgv.length && { execArgv: flags }) });
    const slot: Slot<J, S> = { worker, job: null, state: this.#o.source.fresh(), id: 0, attempts: 0, lastError: null, ending: false };
    worker.on('message', (m: WorkerReply<R>) => this.#onMessage(slot, m));
    worker.on('error', (e: Error) => (slot.lastError = e)); // the 'exit' that follows handles it
    worker.on('exit', (code: number) => this.#onExit(slot, code));
    worker.unref(); // after the listeners: adding a 'message' listener refs the worker again
    return slot;
  }

  #onMessage(slot: Slot<J, S>, m: WorkerReply<R>): void {
    if (m.type === 'ready') return void (this.#startFailures = 0);
    const job = slot.job;
    if (job === null || slot.id !== m.id) return; // cannot happen: one job per worker at a time
    if (m.type === 'done' && this.#o.source.answered(job, m.body, slot) === 'again') return this.#post(slot, job);
    slot.job = null;
    slot.worker.unref();
    this.#startFailures = 0;
    if (m.type === 'failed') this.#o.source.refused(job, new Error(`${this.#o.name}: a worker failed on ${this.#o.describe(job)}: ${m.message}`));
    this.#checkDrained();
    this.kick();
  }

  #onExit(slot: Slot<J, S>, code: number): void {
    if (slot.ending) return;
    const at = this.#slots.indexOf(slot);
    const job = slot.job;
    slot.job = null;
    const why = slot.lastError !== null ? `error: ${slot.lastError.message}` : `exit code ${code}`;
    if (job === null) this.#startFailures++;
    if (this.#closed || this.#failed !== null) {
      if (job !== null) this.#o.source.refused(job, new Error(`${this.#o.name}: a worker thread died while closing (${why})`));
      this.#slots.splice(at, 1);
      this.#checkDrained();
      return;
    }
    this.#stats.replaced++;
    if (this.#startFailures >= MAX_START_FAILURES) {
      this.#slots.splice(at, 1);
      this.#fail(new Error(`${this.#o.name}: worker threads keep exiting before any job (${why})`));
      return;
    }
    if (job !== null) {
      const attempts = slot.attempts + 1;
      if (attempts >= MAX_ATTEMPTS) {
        this.#o.source.refused(job, new Error(`${this.#o.name}: ${this.#o.describe(job)} crashed ${attempts} worker threads (last: ${why}); its requests are refused`));
      } else {
        this.#retry.push({ job, attempts });
        this.#stats.retried++;
      }
    }
    this.#slots[at] = this.#spawn(); // a fresh thread holds nothing: its state starts anew
    this.kick();
  }

  #checkDrained(): void {
    if (this.#drained !== null && this.#slots.every((s) => s.job === null)) this.#drained();
  }

  #fail(err: Error): void {
    this.#failed = err;
    for (const s of this.#slots) s.job = null; // their requests are refused below; close() must not wait for them
    this.#retry = [];
    this.#o.source.failed(err);
    void this.#terminateAll();
  }

  async #terminateAll(): Promise<void> {
    for (const s of this.#slots) s.ending = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}

/**
 * The worker's side: builds its context once (then says 'ready'), and answers one job at a time
 * with `run`, whose reply moves the buffers it lists. Call it only in a worker started by
 * WorkerThreads.
 */
export function serveJobs<C, B, R>(
  setup: () => C | Promise<C>,
  run: (ctx: C, body: B) => { body: R; transfer?: Transferable[] } | Promise<{ body: R; transfer?: Transferable[] }>,
): void {
  const port = parentPort;
  if (port === null) throw new Error('serveJobs: not in a worker thread');
  const ctx = Promise.resolve().then(setup);
  // Built eagerly, so the first job does not pay for it; 'ready' tells the pool the thread started.
  void ctx.then(() => port.postMessage({ type: 'ready' } satisfies WorkerReply<R>));
  // Jobs run one after another even if the pool ever posted two (it does not).
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (m: JobEnvelope<B>) => {
    chain = chain.then(async () => {
      const c = await ctx;
      if (m.crash) process.exit(1); // in a worker thread this ends the thread, not the process
      try {
        const { body, transfer } = await run(c, m.body);
        port.postMessage({ type: 'done', id: m.id, body } satisfies WorkerReply<R>, transfer ?? []);
      } catch (e) {
        port.postMessage({ type: 'failed', id: m.id, message: e instanceof Error ? e.message : String(e) } satisfies WorkerReply<R>);
      }
    });
  });
}
