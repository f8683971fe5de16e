/**
 * SignaturePool: Ed25519 verification on every core, with the answers of chain/signature.ts. A
 * large request (a block's transactions, a batch of mempool admissions) is cut into contiguous
 * parts shared by the idle worker threads (chain/signature-worker.ts), each packed into one
 * buffer that is moved, not copied; the caller's thread only packs, posts and collects. Threads
 * are chain/worker-pool.ts's WorkerThreads (the lifecycle shared with zk/pool.ts): started on the
 * first request that uses them, crashed ones replaced and their part retried, closed on close().
 *
 * Small requests are verified inline, on the caller's thread, at once: below `inlineBelow` items
 * the cost of posting a job and waking a thread is more than the work saved
 * (bench/signature.bench.ts measures the crossover).
 *
 * Flow. Requests are served first come, first served: each idle worker takes the next part of the
 * oldest request, min(maxBatch, remaining / idle workers) items, so one block's items run on
 * every core. `verify` answers every item (verifyBatch's answers). `verifyUntilInvalid` wants only
 * the lowest invalid index (a block is refused by any invalid signature): each worker stops at the
 * first invalid item of its part, the request's parts above it are dropped before dispatch
 * (stats.cancelled), and it settles once every item below it is answered. So a block packed with
 * invalid signatures, each of which costs a ZIP-215 fallback check (~13x an OpenSSL one), costs at
 * most one fallback per thread before it is refused.
 */
import { checkItems, firstInvalid, verifyBatch, type SignedItem } from './signature.ts';
import { INVALID, packSigned, UNCHECKED, type SignatureJob, type SignatureReply } from './signature-worker.ts';
import { defaultThreads, positiveInt, WorkerThreads } from './worker-pool.ts';

/**
 * Requests of fewer items are verified on the caller's thread. A request costs ~80 µs more on the
 * pool than inline (post, wake a thread, answer), against ~78 µs a signature saved per thread
 * added. Measured by bench/signature.bench.ts's crossover on this 2-core host while it gave 1.14x
 * in parallel (its "machine" figure): the pool at 0.63x inline for 1 item, 0.86x for 8, 0.96x for
 * 16, 1.0x from 32. With two free cores the pool wins from a few items, so 32 gives some of that
 * up to be no slower anywhere.
 */
export const INLINE_BELOW = 32;

export interface SignaturePoolOptions {
  /** Worker threads (≥ 1). Default: os.availableParallelism(). */
  readonly threads?: number;
  /** Requests of fewer items are verified inline (≥ 0). Default INLINE_BELOW. */
  readonly inlineBelow?: number;
  /** Most items in one job (≥ 1). Default 128. */
  readonly maxBatch?: number;
}

/** What verifyUntilInvalid found: the lowest invalid index (-1: none), and every answer it has. */
export interface UntilInvalid {
  readonly invalid: number;
  /** Every item below `invalid` (every item when -1) is answered; items above it may be. */
  readonly answers: readonly (boolean | undefined)[];
}

export interface SignaturePoolStats {
  /** Items verified by worker threads (including ones a settled request no longer needed). */
  readonly pooled: number;
  /** Items verified on the caller's thread (requests below inlineBelow). */
  readonly inline: number;
  /** Jobs formed (a retry is not counted again). */
  readonly jobs: number;
  /** Items dropped before dispatch: above a verifyUntilInvalid's invalid index. */
  readonly cancelled: number;
  /** Jobs put back after their worker crashed. */
  readonly retried: number;
  /** Workers replaced after exiting unexpectedly. */
  readonly replaced: number;
  /** Jobs in flight. */
  readonly inFlight: number;
}

interface Request {
  readonly all: boolean;
  readonly items: readonly SignedItem[];
  readonly answers: (boolean | undefined)[];
  /** The first item not yet dispatched. */
  next: number;
  /** Lowest invalid index known (verifyUntilInvalid); items.length while none, and always for verify. */
  best: number;
  /** Items below `best` not yet answered. */
  outstanding: number;
  settled: boolean;
  readonly resolve: (r: Request) => void;
  readonly reject: (e: Error) => void;
}

/** Items [start, end) of a request. */
type Job = { readonly req: Request; readonly start: number; end: number };

const WORKER_URL = new URL('./signature-worker.ts', import.meta.url);

export class SignaturePool {
  readonly threads: number;
  readonly inlineBelow: number;
  readonly maxBatch: number;
  #workers: WorkerThreads<Job, null, SignatureJob, SignatureReply> | null = null;
  /** Requests with items not yet dispatched, oldest first. */
  #queue: Request[] = [];
  readonly #live = new Set<Request>();
  #stats = { pooled: 0, inline: 0, jobs: 0, cancelled: 0 };
  #crashJobs = 0;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: SignaturePoolOptions = {}) {
    this.threads = positiveInt('SignaturePool', 'threads', options.threads ?? defaultThreads());
    this.maxBatch = positiveInt('SignaturePool', 'maxBatch', options.maxBatch ?? 128);
    const below = options.inlineBelow ?? INLINE_BELOW;
    if (!Number.isSafeInteger(below) || below < 0) throw new RangeError(`SignaturePool: inlineBelow must be a whole number >= 0, got ${below}`);
    this.inlineBelow = below;
  }

  /** Answer i is exactly `verifySignature(items[i]...)`, as verifyBatch's. */
  async verify(items: readonly SignedItem[]): Promise<boolean[]> {
    this.#open();
    checkItems(items);
    if (items.length < this.inlineBelow || items.length === 0) {
      this.#stats.inline += items.length;
      return verifyBatch(items);
    }
    return (await this.#submit(false, items)).answers as boolean[];
  }

  /**
   * The lowest index of an invalid item (-1 when all are valid), as `firstInvalid` finds it, with
   * the answers found on the way; work above a found invalid item is dropped.
   */
  async verifyUntilInvalid(items: readonly SignedItem[]): Promise<UntilInvalid> {
    this.#open();
    checkItems(items);
    if (items.length < this.inlineBelow || items.length === 0) {
      const invalid = firstInvalid(items);
      this.#stats.inline += invalid < 0 ? items.length : invalid + 1;
      return { invalid, answers: items.map((_, i) => (invalid < 0 || i < invalid ? true : i === invalid ? false : undefined)) };
    }
    const r = await this.#submit(true, items);
    return { invalid: r.best < items.length ? r.best : -1, answers: r.answers };
  }

  stats(): SignaturePoolStats {
    const threads = this.#workers?.stats() ?? { retried: 0, replaced: 0, inFlight: 0 };
    return { ...this.#stats, ...threads };
  }

  /** FOR TESTS ONLY: the workers receiving the next `jobs` jobs exit with code 1 first (a crash). */
  crashNextJobsForTest(jobs = 1): void {
    if (this.#workers === null) this.#crashJobs += jobs;
    else this.#workers.crashNextJobsForTest(jobs);
  }

  /**
   * Refuses new calls and requests with items not yet dispatched; lets jobs in flight finish (their
   * requests settle normally); then terminates the threads. Idempotent: every call returns the same
   * promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    const err = new Error('signature pool: closed before these signatures were verified');
    for (const r of [...this.#queue]) this.#reject(r, err);
    for (const job of this.#workers?.takeRetries() ?? []) this.#reject(job.req, err);
    await this.#workers?.close();
    for (const r of [...this.#live]) this.#reject(r, err); // none expected: every job has answered
  }

  #open(): void {
    if (this.#closed) throw new Error('signature pool: closed');
    const failure = this.#workers?.failure;
    if (failure) throw failure;
  }

  #submit(all: boolean, items: readonly SignedItem[]): Promise<Request> {
    return new Promise<Request>((resolve, reject) => {
      const req: Request = {
        all, items, answers: new Array(items.length), next: 0, best: items.length, outstanding: items.length, settled: false, resolve, reject,
      };
      this.#live.add(req);
      this.#queue.push(req);
      // At once, not after the turn (kick): requests are not merged, so waiting would only add latency.
      this.#start().dispatch();
    });
  }

  #start(): WorkerThreads<Job, null, SignatureJob, SignatureReply> {
    if (this.#workers !== null) return this.#workers;
    this.#workers = new WorkerThreads<Job, null, SignatureJob, SignatureReply>({
      name: 'signature pool', url: WORKER_URL, threads: this.threads, workerData: { signaturePool: true },
      describe: (job) => `a job of ${job.end - job.start} signatures`,
      source: {
        fresh: () => null,
        next: (idle) => this.#nextJob(idle.length),
        message: (job) => {
          const data = packSigned(job.req.items.slice(job.start, job.end));
          return { body: { all: job.req.all, data, n: job.end - job.start }, transfer: [data] };
        },
        answered: (job, reply) => {
          this.#answered(job, reply.answers);
          return 'done';
        },
        refused: (job, err) => this.#reject(job.req, err),
        needed: (job) => {
          job.end = Math.min(job.end, job.req.best);
          return !job.req.settled && job.start < job.end;
        },
        failed: (err) => {
          for (const r of [...this.#live]) this.#reject(r, err);
        },
      },
    });
    this.#workers.crashNextJobsForTest(this.#crashJobs);
    this.#crashJobs = 0;
    return this.#workers;
  }

  /** The next part of the oldest request with undispatched items, shared evenly by the `idle` workers. */
  #nextJob(idle: number): Job | null {
    for (;;) {
      const req = this.#queue[0];
      if (req === undefined) return null;
      const left = req.best - req.next;
      if (req.settled || left <= 0) {
        this.#queue.shift();
        continue;
      }
      const n = Math.min(this.maxBatch, Math.ceil(left / idle));
      const job: Job = { req, start: req.next, end: req.next + n };
      req.next += n;
      if (req.next >= req.best) this.#queue.shift();
      this.#stats.jobs++;
      return job;
    }
  }

  #answered(job: Job, answers: Uint8Array): void {
    const r = job.req;
    for (let i = 0; i < answers.length; i++) {
      const a = answers[i]!;
      if (a === UNCHECKED) break; // only after an invalid item, in a job of verifyUntilInvalid
      this.#stats.pooled++;
      this.#answer(r, job.start + i, a !== INVALID);
    }
  }

  /** Records an answer; settles the request when nothing it still needs is outstanding. */
  #answer(r: Request, index: number, ok: boolean): void {
    if (r.settled || r.answers[index] !== undefined) return;
    r.answers[index] = ok;
    if (index >= r.best) return;
    r.outstanding--;
    if (r.all && !ok) {
      // Items between the new and the old lowest invalid index are no longer needed.
      for (let k = index + 1; k < r.best; k++) if (r.answers[k] === undefined) r.outstanding--;
      // Those not dispatched yet never will be (#nextJob takes items below `best` only).
      this.#stats.cancelled += Math.max(0, r.best - Math.max(r.next, index + 1));
      r.best = index;
    }
    if (r.outstanding > 0) return;
    this.#settle(r);
    r.resolve(r);
  }

  #reject(r: Request, err: Error): void {
    if (r.settled) return;
    this.#settle(r);
    r.reject(err);
  }

  #settle(r: Request): void {
    r.settled = true;
    this.#live.delete(r);
    const at = this.#queue.indexOf(r);
    if (at >= 0) this.#queue.splice(at, 1);
  }
}
